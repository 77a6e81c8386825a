import { spawnSync } from 'node:child_process'
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SecretRef } from '../src/cli/context.js'
import { commandEnvironment } from '../src/cli/exec.js'
import { checkStandardOutput, committable } from '../src/cli/export-command.js'
import { environmentValueProblem, secretVariables } from '../src/cli/variables.js'
import type { JsonSecret } from '../src/secrets/read.js'
import { EXAMPLE_APP } from './helpers/local-aws.js'

const APP: SecretRef = { id: 'FastAPIAppSecrets', role: 'app', notFoundHint: '' }
const read = (values: Record<string, string>): JsonSecret => ({
  id: APP.id,
  arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:FastAPIAppSecrets-AbCdEf',
  versionId: '11111111-2222-3333-4444-555555555555',
  values
})

describe('secretVariables', () => {
  it("makes each key of the reference app secret its upper-cased variable, in the secret's order", () => {
    expect(secretVariables(read(EXAMPLE_APP), APP, undefined)).toEqual([
      { key: 'db_password', name: 'DB_PASSWORD', value: EXAMPLE_APP.db_password },
      { key: 'jwt_secret', name: 'JWT_SECRET', value: EXAMPLE_APP.jwt_secret },
      { key: 'api_keys', name: 'API_KEYS', value: EXAMPLE_APP.api_keys },
      {
        key: 'generated_password',
        name: 'GENERATED_PASSWORD',
        value: EXAMPLE_APP.generated_password
      }
    ])
  })

  it('takes --only as keys or variable names, and refuses a name the secret lacks', () => {
    const only = secretVariables(read(EXAMPLE_APP), APP, 'JWT_SECRET, db_password')
    expect(only.map(v => v.name)).toEqual(['DB_PASSWORD', 'JWT_SECRET'])
    expect(() => secretVariables(read(EXAMPLE_APP), APP, 'db_pasword,NOPE')).toThrow(
      'The app secret "FastAPIAppSecrets" (version 11111111-2222-3333-4444-555555555555) has no key "db_pasword", "NOPE", named by --only.'
    )
    expect(() => secretVariables(read(EXAMPLE_APP), APP, ' , ')).toThrow('--only names no key')
  })

  it("refuses keys that would change how the program runs, with the action's env-keys rules", () => {
    const values = {
      ...EXAMPLE_APP,
      ld_preload: '/tmp/evil.so',
      node_options: '--require /tmp/evil.js',
      bash_env: '/tmp/evil.sh',
      'db-password': 'twice',
      'bad key': 'x-value'
    }
    expect(() => secretVariables(read(values), APP, undefined)).toThrow(
      'The app secret "FastAPIAppSecrets" has keys that cannot become environment variables: ' +
        '"ld_preload" would be LD_PRELOAD: the dynamic loader takes code to load from it; ' +
        '"node_options" would be NODE_OPTIONS: Node.js takes options (and code to load) from it; ' +
        '"bash_env" would be BASH_ENV: bash runs the file it names before every script; ' +
        '"db_password" and "db-password" would both be DB_PASSWORD; ' +
        '"bad key" is not a name (letters, digits, "_" and "-", starting with a letter or "_"). ' +
        'Whoever can edit the secret would then choose how the program runs. Leave them out with --only KEYS, or rename them in the secret.'
    )
    // --only leaves them out.
    expect(secretVariables(read(values), APP, 'jwt_secret')).toHaveLength(1)
  })

  it('finds the values no environment variable can hold', () => {
    expect(environmentValueProblem('a\u0000b')).toContain('NUL')
    expect(environmentValueProblem('\udc00')).toContain('surrogate')
    expect(environmentValueProblem('pässwörd-🔑\n\t')).toBeUndefined()
  })
})

describe('commandEnvironment', () => {
  const variables = secretVariables(read(EXAMPLE_APP), APP, undefined)
  const current = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/me',
    DB_PASSWORD: 'set-by-hand',
    EMPTY: '',
    OTHER: 'x'
  }

  it("keeps a variable already set, even empty, and says which; the secret's otherwise", () => {
    const { env, kept } = commandEnvironment(variables, { ...current, JWT_SECRET: '' }, {})
    expect(kept).toEqual(['DB_PASSWORD', 'JWT_SECRET'])
    expect(env).toMatchObject({
      DB_PASSWORD: 'set-by-hand',
      JWT_SECRET: '',
      API_KEYS: EXAMPLE_APP.api_keys,
      OTHER: 'x'
    })
  })

  it("uses the secret's values with --override", () => {
    const { env, kept } = commandEnvironment(variables, current, { override: true })
    expect(kept).toEqual([])
    expect(env.DB_PASSWORD).toBe(EXAMPLE_APP.db_password)
  })

  it('passes only the keys and PATH, HOME, LANG, TERM with --pristine', () => {
    const { env } = commandEnvironment(
      variables,
      { ...current, LANG: 'C.UTF-8' },
      { pristine: true }
    )
    expect(Object.keys(env).sort()).toEqual(
      ['API_KEYS', 'DB_PASSWORD', 'GENERATED_PASSWORD', 'HOME', 'JWT_SECRET', 'LANG', 'PATH'].sort()
    )
  })
})

describe('checkStandardOutput', () => {
  it("refuses the job's log and a terminal without --reveal; a pipe or a file is fine", () => {
    expect(() => checkStandardOutput({ terminal: false, workflowLog: true }, false)).toThrow(
      "In a workflow step (GITHUB_ACTIONS=true) standard output is the job's log"
    )
    expect(() => checkStandardOutput({ terminal: true, workflowLog: false }, undefined)).toThrow(
      'Standard output is a terminal'
    )
    expect(() => checkStandardOutput({ terminal: false, workflowLog: false }, false)).not.toThrow()
    expect(() => checkStandardOutput({ terminal: true, workflowLog: true }, true)).not.toThrow()
  })
})

describe('committable', () => {
  it('says when git would commit a file: in a work tree and neither ignored nor outside one', () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'committable-')))
    try {
      expect(committable(join(dir, '.env'))).toBe(false)
      expect(spawnSync('git', ['init', '-q', dir]).status).toBe(0)
      expect(committable(join(dir, '.env'))).toBe(true)
      writeFileSync(join(dir, '.gitignore'), '.env\n*.secrets\n')
      expect(committable(join(dir, '.env'))).toBe(false)
      expect(committable(join(dir, 'app.secrets'))).toBe(false)
      expect(committable(join(dir, 'app.env'))).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
