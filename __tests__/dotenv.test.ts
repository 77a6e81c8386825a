import { readFileSync } from 'node:fs'
import { parseDotenv } from '../src/cli/dotenv.js'
import { renderVariables } from '../src/cli/export-formats.js'
import {
  PYTHON_DOTENV,
  SKIP_WITHOUT_PYTHON_DOTENV,
  parseWithPythonDotenv
} from './helpers/env-file-readers.js'

/** The reference document's `.env` (shared/reference/secrets-manager-integration.md, "Option 1"). */
const REFERENCE_DOTENV = readFileSync(
  new URL('../test-support/reference.env', import.meta.url),
  'utf8'
)

// What .env files hold in the wild, and the corners of python-dotenv's grammar: comments, export,
// quotes of both kinds with their escapes, a quoted multi-line value, white space, CRLF, names of
// odd characters, a name without "=". (A BOM: python-dotenv drops it since 1.2.2's successor,
// bca6644, and so does parseDotenv; earlier releases kept it in the first name.)
const TEXTS = [
  REFERENCE_DOTENV,
  'a=b',
  "'a'=b",
  ' a = b ',
  'export a=b',
  " export 'a'=b",
  '# a=b',
  'a=b#c',
  'a=b #c',
  'a=b\t#c',
  'a=b  c',
  'a=  b  ',
  "a='b c'  # comment",
  'a="b c" #c',
  "a='it\\'s'",
  'a="say \\"hi\\"\\n\\tthere \\\\ \\x"',
  'a="multi\nline"\nb=after',
  "a='multi\r\nline'\r\nb=after",
  'a=\nb=',
  'a\nb=c',
  'a.b-c=d',
  'a=b\r\nc=d\r\n',
  '\n\n  \n# only comments\n\n',
  'a=b\u2028c',
  'a=\u00a0b\u00a0',
  'a=b\u0085#c',
  // python-dotenv finds no binding in these:
  'a="not closed',
  "a='not closed\nb=c",
  '=b',
  'a b=c',
  'a="b"c'
]

describe('parseDotenv', () => {
  it("reads the reference document's .env", () => {
    expect(parseDotenv(REFERENCE_DOTENV, '.env')).toEqual([
      { name: 'DB_PASSWORD', value: 'local-password', line: 2 },
      { name: 'JWT_SECRET', value: 'local-jwt-secret', line: 3 },
      { name: 'API_KEYS', value: 'local-api-keys', line: 4 },
      { name: 'USE_SECRETS_MANAGER', value: 'false', line: 5 }
    ])
  })

  it('drops a byte order mark, as python-dotenv does since commit bca6644', () => {
    expect(parseDotenv('\ufeffA=b', 'f')).toEqual([{ name: 'A', value: 'b', line: 1 }])
  })

  it('gives the line each binding starts on', () => {
    expect(parseDotenv('\n# c\nA="one\ntwo"\r\n\nB=x', 'f').map(b => [b.name, b.line])).toEqual([
      ['A', 3],
      ['B', 6]
    ])
  })

  it('names the line, never its text, where there is no binding', () => {
    expect(() => parseDotenv('A=1\nB="secret-value-not-closed', '.env')).toThrow(
      '".env" line 2 is not NAME=value as in a .env file'
    )
    try {
      parseDotenv('A=1\nB="secret-value-not-closed', '.env')
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-value')
    }
  })

  it('reads back what export --format dotenv writes', () => {
    const values = { A: 'x "y"\n\\z', B: 'C:\\dir\\', C: "it's # $x", D: '' }
    const text = renderVariables(
      'dotenv',
      Object.entries(values).map(([name, value]) => ({ key: name, name, value }))
    )
    expect(Object.fromEntries(parseDotenv(text, 'f').map(b => [b.name, b.value]))).toEqual(values)
  })

  const withPython = PYTHON_DOTENV ? it : it.skip
  withPython(
    `reads every text as python-dotenv's own parser does ${PYTHON_DOTENV ? '' : SKIP_WITHOUT_PYTHON_DOTENV}`,
    () => {
      const outcome = (bindings: [string | null, string | null][] | 'no binding') => bindings
      const python = parseWithPythonDotenv(TEXTS).map(parsed =>
        parsed.some(([, , error]) => error)
          ? outcome('no binding')
          : outcome(parsed.filter(([key]) => key !== null).map(([key, value]) => [key, value]))
      )
      const ours = TEXTS.map(text => {
        try {
          return outcome(parseDotenv(text, 'f').map(b => [b.name, b.value ?? null]))
        } catch (error) {
          expect((error as Error).message).toContain('is not NAME=value')
          return outcome('no binding')
        }
      })
      expect(TEXTS.map((text, i) => [text, ours[i]])).toEqual(
        TEXTS.map((text, i) => [text, python[i]])
      )
    }
  )
})
