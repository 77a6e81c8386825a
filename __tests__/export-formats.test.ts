import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  EXPORT_FORMATS,
  formatProblem,
  holdsRunnerCommand,
  renderVariables,
  type ExportFormat
} from '../src/cli/export-formats.js'
import type { SecretVariable } from '../src/cli/variables.js'
import {
  PYTHON_DOTENV,
  SKIP_WITHOUT_PYTHON_DOTENV,
  readDockerEnvFile,
  readSystemdEnvFile,
  readWithPythonDotenv,
  readWithShell
} from './helpers/env-file-readers.js'
import { HOSTILE_VALUES } from './helpers/run-bundle.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'export-formats-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
function written(format: ExportFormat, variables: SecretVariable[]): string {
  for (const variable of variables) expect(formatProblem(format, variable)).toBeUndefined()
  const file = join(dir, `${format}-${files++}`)
  writeFileSync(file, renderVariables(format, variables))
  return file
}

const asVariables = (values: Record<string, string>): SecretVariable[] =>
  Object.entries(values).map(([name, value]) => ({ key: name.toLowerCase(), name, value }))

// Values with what each format has to quote: quotes, "$", "#", spaces around and inside, line
// breaks, backslashes (one at the end), tabs, non-ASCII, and the reference document's app secret.
const ONE_LINE: Record<string, string> = {
  DB_PASSWORD: 'your-database-password',
  QUOTES: `it's "quoted" and 'single'`,
  DOLLAR: '$HOME $(id) `id` $1 $$ price: $5',
  HASH: 'p@ss # not a comment #',
  SPACES: '  spaces around and  inside  ',
  BACKSLASHES: 'C:\\path\\to\\ \\n is not a newline \\"',
  ENDS_WITH_BACKSLASH: 'C:\\dir\\',
  TAB: 'a\tb',
  NON_ASCII: HOSTILE_VALUES.non_ascii,
  JSON_INSIDE: HOSTILE_VALUES.json_inside,
  PERCENT_COLONS: HOSTILE_VALUES.percent_colons,
  EMPTY: '',
  EQUALS: '=a=b=',
  LEADING_QUOTE: '"not closed',
  SEMICOLON: '; not a comment either'
}
const MULTI_LINE: Record<string, string> = {
  MULTI_LINE: HOSTILE_VALUES.multi_line,
  CRLF: 'first\r\nsecond\rthird\n',
  BACKSLASH_NEWLINE: 'line \\\nnext'
}

describe('export --format dotenv', () => {
  const values = { ...ONE_LINE, ...MULTI_LINE }
  delete (values as Record<string, string>).ENDS_WITH_BACKSLASH

  const withPython = PYTHON_DOTENV ? it : it.skip
  withPython(
    `reads back the same with python-dotenv ${PYTHON_DOTENV ? '' : SKIP_WITHOUT_PYTHON_DOTENV}`,
    () => {
      expect(readWithPythonDotenv(written('dotenv', asVariables(values)))).toEqual(values)
      // A value ending in a backslash is written unquoted, where python-dotenv takes it as it stands.
      const end = {
        ENDS_WITH_BACKSLASH: ONE_LINE.ENDS_WITH_BACKSLASH,
        AFTER: 'a "quoted" value after'
      }
      expect(readWithPythonDotenv(written('dotenv', asVariables(end)))).toEqual(end)
    }
  )

  it('writes one line per variable, escapes inside double quotes', () => {
    expect(renderVariables('dotenv', asVariables({ A: 'x "y"\n\\z', B: 'C:\\dir\\' }))).toBe(
      'A="x \\"y\\"\\n\\\\z"\nB=C:\\dir\\\n'
    )
  })

  it('refuses what python-dotenv would read as another value, naming why', () => {
    for (const value of ['${HOME}', 'a${DB:-x}b', HOSTILE_VALUES.quotes_dollar])
      expect(formatProblem('dotenv', { key: 'k', name: 'K', value })).toContain(
        'python-dotenv replaces'
      )
    // Not its pattern: kept literal by python-dotenv, so written.
    for (const value of ['$HOME', '${not closed', '${a:b}'])
      expect(formatProblem('dotenv', { key: 'k', name: 'K', value })).toBeUndefined()
    for (const value of [' lead\\', 'two words #\\', '"q\\', 'a\nb\\'])
      expect(formatProblem('dotenv', { key: 'k', name: 'K', value })).toContain(
        'ends with a backslash'
      )
    expect(formatProblem('dotenv', { key: 'k', name: 'K', value: 'nul\u0000' })).toContain('NUL')
  })

  withPython(
    `leaves the refused values to python-dotenv's own reading ${PYTHON_DOTENV ? '' : SKIP_WITHOUT_PYTHON_DOTENV}`,
    () => {
      // What the refusal protects against: python-dotenv would not read these back.
      const file = join(dir, 'refused.env')
      writeFileSync(file, 'A="${HOME}"\nB="ends\\\\"\nC="next"\n')
      expect(readWithPythonDotenv(file)).not.toEqual({ A: '${HOME}', B: 'ends\\', C: 'next' })
    }
  )
})

describe('export --format shell', () => {
  it('reads back the same in bash after set -a; . file', () => {
    const values = { ...ONE_LINE, ...MULTI_LINE, QUOTES_DOLLAR: HOSTILE_VALUES.quotes_dollar }
    const env = readWithShell(written('shell', asVariables(values)))
    for (const [name, value] of Object.entries(values))
      expect([name, env[name]]).toEqual([name, value])
  })

  it("quotes with single quotes, a quote as '\\''", () => {
    expect(renderVariables('shell', asVariables({ A: "it's" }))).toBe(`export A='it'\\''s'\n`)
  })
})

describe('export --format systemd', () => {
  it("reads a real file as systemd's own test does (the reader the tests use)", () => {
    // systemd's src/test/test-env-file.c, env_file_4: a generated lm-sensors file.
    const sample =
      '# Generated\n\nHWMON_MODULES="coretemp f71882fg"\n\n# For compatibility reasons\n\nMODULE_0=coretemp\nMODULE_1=f71882fg'
    expect(readSystemdEnvFile(sample)).toEqual({
      HWMON_MODULES: 'coretemp f71882fg',
      MODULE_0: 'coretemp',
      MODULE_1: 'f71882fg'
    })
    // env_file_1 there: continuation lines and escapes outside quotes.
    expect(readSystemdEnvFile('a=a\nb=b\\\nc\nd=d\\\ne\\\nf\ng=g\\ \nh=h\ni=i\\')).toEqual({
      a: 'a',
      b: 'bc',
      d: 'def',
      g: 'g ',
      h: 'h',
      i: 'i'
    })
  })

  it("reads back the same with systemd's parser, and with bash", () => {
    const values = { ...ONE_LINE, ...MULTI_LINE, QUOTES_DOLLAR: HOSTILE_VALUES.quotes_dollar }
    const file = written('systemd', asVariables(values))
    expect(readSystemdEnvFile(renderVariables('systemd', asVariables(values)))).toEqual(values)
    const env = readWithShell(file)
    for (const [name, value] of Object.entries(values))
      expect([name, env[name]]).toEqual([name, value])
  })

  it('escapes \\ " $ and backquote inside double quotes, keeps line breaks as they are', () => {
    expect(renderVariables('systemd', asVariables({ A: 'a\\b"c$d`e\nf' }))).toBe(
      'A="a\\\\b\\"c\\$d\\`e\nf"\n'
    )
  })

  it('refuses what systemd would refuse the whole file for', () => {
    for (const value of ['\ufdd0', 'a\uffffb', '\u{1fffe}'])
      expect(formatProblem('systemd', { key: 'k', name: 'K', value })).toContain('noncharacter')
    expect(() => readSystemdEnvFile('A="\ufdd0"\n')).toThrow('invalid UTF-8')
  })
})

describe('export --format docker', () => {
  it("reads a real file as docker's own test does (the reader the tests use)", () => {
    // docker/cli pkg/kvfile/kvfile_test.go, TestParseFromReaderGoodFile: leading blanks, comments,
    // dots in a name, spaces kept in a value.
    const sample =
      'foo=bar\n    baz=quux\n# comment\n\n_foobar=foobaz\nwith.dots=working\nand_underscore=working too\n\n    \t  '
    expect(readDockerEnvFile(sample)).toEqual({
      foo: 'bar',
      baz: 'quux',
      _foobar: 'foobaz',
      'with.dots': 'working',
      and_underscore: 'working too'
    })
  })

  it('writes values as they stand, which docker reads back the same', () => {
    const values = { ...ONE_LINE }
    expect(renderVariables('docker', asVariables({ A: '"q" $x # y ' }))).toBe('A="q" $x # y \n')
    expect(readDockerEnvFile(renderVariables('docker', asVariables(values)))).toEqual(values)
  })

  it('refuses a line break and a line docker cannot read', () => {
    for (const value of Object.values(MULTI_LINE))
      expect(formatProblem('docker', { key: 'k', name: 'K', value })).toContain('line break')
    const long = { key: 'k', name: 'K', value: 'x'.repeat(64 * 1024) }
    expect(formatProblem('docker', long)).toContain('longer than docker --env-file reads')
    expect(() => readDockerEnvFile(renderVariables('docker', [long]))).toThrow('token too long')
  })
})

describe('export --format json', () => {
  it('is one object of names and values', () => {
    const values = { ...ONE_LINE, ...MULTI_LINE }
    expect(JSON.parse(renderVariables('json', asVariables(values)))).toEqual(values)
  })
})

describe('every format', () => {
  it('refuses a NUL and half a surrogate pair, which no environment variable holds (json holds them)', () => {
    for (const format of EXPORT_FORMATS.filter(f => f !== 'json')) {
      expect(formatProblem(format, { key: 'k', name: 'K', value: 'a\u0000b' })).toContain('NUL')
      expect(formatProblem(format, { key: 'k', name: 'K', value: 'a\ud800b' })).toContain(
        'surrogate'
      )
    }
    expect(formatProblem('json', { key: 'k', name: 'K', value: 'a\u0000b' })).toBeUndefined()
  })
})

describe('holdsRunnerCommand', () => {
  it('sees a workflow command at the start of any line, after the white space .NET trims, and ##[ anywhere', () => {
    for (const text of [
      '::add-mask::x',
      'A=1\n  ::error::x',
      'A=1\r::warning::x',
      '\u0085::set-output name=a::b',
      "A='##[group]x'"
    ])
      expect(holdsRunnerCommand(text)).toBe(true)
    for (const text of ['A="x\\n::error::y"', 'A=a::b', '#[', 'A=\u200b::x'])
      expect(holdsRunnerCommand(text)).toBe(false)
  })
})
