import { readFileSync } from 'node:fs'
import type { SecretRef } from '../src/cli/context.js'
import { parseImportFile, planImport, type ImportEntry } from '../src/cli/import.js'
import { redact } from '../src/lib/log.js'
import { applyEdit } from '../src/secrets/compare-and-swap.js'
import { EXAMPLE_APP } from './helpers/local-aws.js'

const APP: SecretRef = { id: 'FastAPIAppSecrets', role: 'app', notFoundHint: '' }
/** The reference document's `.env` (shared/reference/secrets-manager-integration.md, "Option 1"). */
const REFERENCE_DOTENV = readFileSync(
  new URL('../test-support/reference.env', import.meta.url),
  'utf8'
)
const entries = (values: Record<string, string>): ImportEntry[] =>
  Object.entries(values).map(([name, value]) => ({ name, value }))

describe('parseImportFile', () => {
  it("reads the reference document's .env, and a JSON object", () => {
    expect(parseImportFile(REFERENCE_DOTENV, '.env').map(e => [e.name, e.value, e.line])).toEqual([
      ['DB_PASSWORD', 'local-password', 2],
      ['JWT_SECRET', 'local-jwt-secret', 3],
      ['API_KEYS', 'local-api-keys', 4],
      ['USE_SECRETS_MANAGER', 'false', 5]
    ])
    expect(parseImportFile('\ufeff {"db_password": "from-json-value"}', 'a.json')).toEqual([
      { name: 'db_password', value: 'from-json-value' }
    ])
  })

  it('registers every value for redaction as it reads it', () => {
    parseImportFile('A="first-line-secret\nsecond-line-secret"\n', '.env')
    expect(redact('x first-line-secret second-line-secret')).toBe('x *** ***')
  })

  it('refuses a name given twice, a name without a value, a value python-dotenv would expand: by line, never a value', () => {
    const cases: [string, string][] = [
      ['A=one-secret-value\nB=x\nA=two-secret-value\n', '".env" gives "A" twice (lines 1 and 3)'],
      ['A=x\nlonely-secret-value\n', '".env" line 2 has a word without "=" and a value'],
      ['A=x\nB="${HOME}-secret-value"\n', 'The value of "B" in ".env" (line 2) holds "${...}"'],
      ['A="not closed secret value\n', '".env" line 1 is not NAME=value']
    ]
    for (const [text, message] of cases) {
      expect(() => parseImportFile(text, '.env')).toThrow(message)
      let thrown = ''
      try {
        parseImportFile(text, '.env')
      } catch (error) {
        thrown = (error as Error).message
      }
      expect(thrown).not.toMatch(/one-secret|two-secret|lonely-secret|HOME}-secret|closed secret/)
    }
  })

  it('refuses JSON that is no object of strings, without quoting it', () => {
    expect(() => parseImportFile('{"a": 1}', 'a.json')).toThrow(
      'Key "a" of the file "a.json" is a number; every value must be a string.'
    )
    expect(() => parseImportFile('{"a": "secret-in-broken-json"', 'a.json')).toThrow(
      'The file "a.json" is not valid JSON.'
    )
  })
})

describe('planImport', () => {
  const options = { from: '.env' }

  it('creates the reference layout from the reference .env: names in lower case', () => {
    const plan = planImport(undefined, parseImportFile(REFERENCE_DOTENV, '.env'), APP, {
      ...options,
      only: 'DB_PASSWORD,JWT_SECRET,API_KEYS'
    })
    expect(plan.values).toEqual({
      db_password: 'local-password',
      jwt_secret: 'local-jwt-secret',
      api_keys: 'local-api-keys'
    })
    expect(plan.rows.map(r => r.action)).toEqual(['add', 'add', 'add'])
  })

  it("goes into the secret's key that becomes the variable; keeps keys that hold another value", () => {
    const existing = { ...EXAMPLE_APP, 'api-keys': 'old-api-keys' } as Record<string, string>
    delete existing.api_keys
    const plan = planImport(
      existing,
      entries({
        DB_PASSWORD: EXAMPLE_APP.db_password,
        JWT_SECRET: 'new-jwt-secret',
        API_KEYS: 'new-api-keys',
        NEW_ONE: 'new-value'
      }),
      APP,
      options
    )
    expect(plan.rows).toEqual([
      { action: 'same', key: 'db_password', name: 'DB_PASSWORD' },
      { action: 'keep', key: 'jwt_secret', name: 'JWT_SECRET' },
      { action: 'keep', key: 'api-keys', name: 'API_KEYS' },
      { action: 'add', key: 'new_one', name: 'NEW_ONE' }
    ])
    expect(plan.edit).toEqual({ add: { new_one: 'new-value' } })
    const overwrite = planImport(
      existing,
      entries({ JWT_SECRET: 'new-jwt-secret', NEW_ONE: 'new-value' }),
      APP,
      { ...options, overwrite: true }
    )
    expect(overwrite.rows.map(r => r.action)).toEqual(['change', 'add'])
    expect(overwrite.edit).toEqual({ set: { new_one: 'new-value', jwt_secret: 'new-jwt-secret' } })
    expect(
      planImport(EXAMPLE_APP, entries({ DB_PASSWORD: EXAMPLE_APP.db_password }), APP, options).edit
    ).toBe(undefined)
  })

  it('refuses a name two keys of the secret become', () => {
    expect(() =>
      planImport(
        { db_password: 'a-value', 'db-password': 'b-value' },
        entries({ DB_PASSWORD: 'x-value' }),
        APP,
        options
      )
    ).toThrow(
      '"DB_PASSWORD" could go into key "db_password" or "db-password" of the app secret "FastAPIAppSecrets", which all become DB_PASSWORD'
    )
  })

  it('refuses names exec and export would refuse, names that are no name, two names of one variable', () => {
    expect(() =>
      planImport(
        undefined,
        entries({
          LD_PRELOAD: '/tmp/x.so',
          NODE_OPTIONS: '-r x',
          'A B': 'x',
          db_password: 'a',
          DB_PASSWORD: 'b'
        }),
        APP,
        options
      )
    ).toThrow(
      '".env" has names that cannot become a key of the secret: "LD_PRELOAD" is LD_PRELOAD, which exec and export refuse ' +
        'to set from a secret: the dynamic loader takes code to load from it; "NODE_OPTIONS" is NODE_OPTIONS, which exec ' +
        'and export refuse to set from a secret: Node.js takes options (and code to load) from it; "A B" is not a name'
    )
  })

  it('names a name of a .env file that is no name by its line, never quoting it', () => {
    expect(() =>
      planImport(undefined, parseImportFile('A=x\np@ss-secret=y\n', '.env'), APP, options)
    ).toThrow(
      '".env" has a name that cannot become a key of the secret: the name on line 2 is not a name'
    )
  })

  it('keeps a key named like an object property a key ("__proto__"), in the plan and in the edit', () => {
    const plan = planImport(
      { db_password: 'x-value' },
      entries({ __PROTO__: 'proto-value' }),
      APP,
      options
    )
    expect(plan.rows).toEqual([{ action: 'add', key: '__proto__', name: '__PROTO__' }])
    expect(Object.hasOwn((plan.edit as { add: object }).add, '__proto__')).toBe(true)
    expect(applyEdit({ db_password: 'x-value' }, plan.edit!)).toEqual(
      JSON.parse('{"db_password": "x-value", "__proto__": "proto-value"}')
    )
  })

  it('takes --only as names of the file or keys, and refuses one the file lacks', () => {
    const file = entries({ DB_PASSWORD: 'a-value', JWT_SECRET: 'b-value' })
    expect(planImport(undefined, file, APP, { ...options, only: 'jwt_secret' }).rows).toEqual([
      { action: 'add', key: 'jwt_secret', name: 'JWT_SECRET' }
    ])
    expect(() => planImport(undefined, file, APP, { ...options, only: 'API_KEYS' })).toThrow(
      '".env" has no "API_KEYS", named by --only.'
    )
  })
})
