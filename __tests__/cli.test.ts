import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { DEFAULT_APP_REQUIRED_KEYS } from '../src/cli/read-commands.js'
import { HOSTILE_VALUES, readablePieces, repoRoot } from './helpers/run-bundle.js'
import { CLI_ENTRY, runCli, type CliRun } from './helpers/run-cli.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

let aws: LocalAws
beforeEach(async () => {
  aws = await startLocalAws()
})
afterEach(async () => {
  await aws.stop()
})

const DEPLOY = 'FastAPIDeploymentSecrets'
const APP = 'FastAPIAppSecrets'
const seed = () => ({
  deployment: aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT),
  app: aws.putSecret(APP, EXAMPLE_APP)
})
const cli = (args: string[], options?: Parameters<typeof runCli>[2]) => runCli(aws, args, options)

/** Asserts that no readable piece of any of the values appears in what the run printed. */
function expectNoValues(run: CliRun, values: Record<string, string>) {
  for (const value of Object.values(values))
    for (const piece of readablePieces(value)) expect(run.output).not.toContain(piece)
}

describe('usage', () => {
  const commands = [
    'list',
    'get',
    'set',
    'unset',
    'validate',
    'history',
    'rollback',
    'generate',
    'iam-policy',
    'backup',
    'restore',
    'doctor',
    'exec',
    'export',
    'import'
  ]

  it('has --help on every command and --version, exit 0', async () => {
    for (const command of commands) {
      const run = await runCli(undefined, [command, '--help'])
      expect(run.code).toBe(0)
      expect(run.stdout).toContain(`Usage: secrets-deploy ${command}`)
    }
    const version = await runCli(undefined, ['--version'])
    expect(version).toMatchObject({ code: 0 })
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version
    )
  })

  it('rejects an unknown option, an unknown command and a missing argument with exit 2', async () => {
    for (const args of [
      ['get', 'app', '--bogus'],
      ['frobnicate'],
      ['get'],
      ['iam-policy', '--restart', 'telnet']
    ]) {
      const run = await runCli(undefined, args)
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/error: /)
      expect(run.stdout).toBe('')
    }
  })

  it('fails with exit 1 and says what to do when no region is configured', async () => {
    const run = await runCli(undefined, ['list'], { env: { AWS_REGION: undefined } })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('No AWS region: give --region, set AWS_REGION')
  })

  it('keeps the CLI out of the action bundle', () => {
    const action = readFileSync(join(repoRoot, 'dist', 'index.js'), 'utf8')
    expect(action).not.toContain('secrets-deploy list')
    expect(action).not.toContain('commander')
  })

  it("defaults the app secret's required keys as the action does", () => {
    const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8'))
    expect(DEFAULT_APP_REQUIRED_KEYS).toBe(action.inputs['app-required-keys'].default)
  })
})

describe('list', () => {
  it('shows each secret with its versions and keys, never a value', async () => {
    seed()
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ...HOSTILE_VALUES })
    aws.putSecret('PlainText', 'not json at all')
    const run = await cli(['list'])
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^NAME\s+LAST CHANGED\s+VERSIONS\s+KEYS$/)
    expect(lines.find(l => l.startsWith(APP))).toMatch(
      /^FastAPIAppSecrets\s+\d{4}-\d\d-\d\dT\S+\s+1\s+4$/
    )
    expect(lines.find(l => l.startsWith(DEPLOY))).toMatch(/\s2\s+10$/)
    expect(lines.find(l => l.startsWith('PlainText'))).toMatch(/\s1\s+-$/)
    expectNoValues(run, { ...EXAMPLE_APP, ...HOSTILE_VALUES, plain: 'not json at all' })
    const json = JSON.parse((await cli(['list', '--json'])).stdout)
    expect(json.map((s: { name: string }) => s.name)).toEqual([APP, DEPLOY, 'PlainText'])
    expect(json[0]).toMatchObject({ versions: 1, keys: 4, arn: aws.secrets.get(APP)?.arn })
  })

  it('says which permission is missing when ListSecrets is denied', async () => {
    aws.deny('ListSecrets')
    const run = await cli(['list'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('Access denied: secretsmanager:ListSecrets')
  })
})

describe('get', () => {
  it('shows keys with the length of each value and no value without --reveal', async () => {
    aws.putSecret(APP, { ...EXAMPLE_APP, ...HOSTILE_VALUES })
    const run = await cli(['get', 'app'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^db_password\s+17 characters$/m)
    expect(run.stdout).toMatch(/^multi_line\s+\d+ characters$/m)
    expectNoValues(run, { ...EXAMPLE_APP, ...HOSTILE_VALUES })
    const one = await cli(['get', 'app', 'multi_line'])
    expect(one.stdout.trim()).toBe(
      `multi_line: ${HOSTILE_VALUES.multi_line.length} characters (--reveal prints the value)`
    )
    const json = await cli(['get', 'app', '--json'])
    expect(JSON.parse(json.stdout).keys.db_password).toEqual({ length: 17 })
    expectNoValues(json, { ...EXAMPLE_APP, ...HOSTILE_VALUES })
  })

  it('shows key names chosen by whoever writes the secret without their control characters', async () => {
    aws.putSecret(APP, { 'evil\u001b[2J\u001b]0;title\u0007key': 'some-value-here' })
    const run = await cli(['get', 'app'])
    expect(run.code).toBe(0)
    expect(run.output).not.toContain('\u001b')
    expect(run.output).not.toContain('\u0007')
    expect(run.stdout).toMatch(/^evil\[2J\]0;titlekey\s+15 characters$/m)
  })

  it('prints just the value with --reveal and a key, for $(...)', async () => {
    aws.putSecret(APP, { ...EXAMPLE_APP, ...HOSTILE_VALUES })
    for (const [key, value] of Object.entries(HOSTILE_VALUES)) {
      const run = await cli(['get', 'app', key, '--reveal'])
      expect(run).toMatchObject({ code: 0, stdout: `${value}\n`, stderr: '' })
    }
    const all = await cli(['get', 'app', '--reveal', '--json'])
    expect(JSON.parse(all.stdout).values).toEqual({ ...EXAMPLE_APP, ...HOSTILE_VALUES })
  })

  it('reads an older version by stage or id, and accepts any secret name or the overridden ids', async () => {
    const first = aws.putSecret('Other', { a: 'first-value' })
    aws.putSecret('Other', { a: 'second-value' })
    const byStage = await cli(['get', 'Other', 'a', '--reveal', '--version-stage', 'AWSPREVIOUS'])
    expect(byStage.stdout).toBe('first-value\n')
    const byId = await cli(['get', 'Other', 'a', '--reveal', '--version-id', first])
    expect(byId.stdout).toBe('first-value\n')
    const viaEnv = await cli(['get', 'app', 'a', '--reveal'], {
      env: { SECRETS_DEPLOY_APP_SECRET_ID: 'Other' }
    })
    expect(viaEnv.stdout).toBe('second-value\n')
    const viaOption = await cli(['--app-secret-id', 'Other', 'get', 'app', 'a', '--reveal'])
    expect(viaOption.stdout).toBe('second-value\n')
  })

  it('fails with one message for a missing secret, a denied read, a value that is not JSON, a missing key', async () => {
    const missing = await cli(['get', 'app'])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toBe(
      'error: App secret "FastAPIAppSecrets" was not found (secretsmanager:GetSecretValue). Check --app-secret-id ' +
        '(or SECRETS_DEPLOY_APP_SECRET_ID) and the region (--region, AWS_REGION); "secrets-deploy list" lists the secrets the credentials can see.'
    )
    aws.putSecret(APP, 'password=hunter2-secret')
    const notJson = await cli(['get', 'app'])
    expect(notJson.code).toBe(1)
    expect(notJson.stderr).toContain('The app secret "FastAPIAppSecrets" is not valid JSON.')
    expect(notJson.output).not.toContain('hunter2')
    aws.putSecret(APP, EXAMPLE_APP)
    const noKey = await cli(['get', 'app', 'nope', '--reveal'])
    expect(noKey.code).toBe(1)
    expect(noKey.stderr).toContain('has no key "nope"')
    aws.deny('GetSecretValue')
    const denied = await cli(['get', 'app'])
    expect(denied.code).toBe(1)
    expect(denied.stderr).toContain(
      'Access denied: secretsmanager:GetSecretValue on app secret "FastAPIAppSecrets". Allow "secretsmanager:GetSecretValue" on "arn:aws:secretsmanager:*:*:secret:FastAPIAppSecrets-*"'
    )
  })
})

describe('set', () => {
  it('takes the value from standard input, keeps every other key, prints the new version id', async () => {
    seed()
    const value = HOSTILE_VALUES.multi_line
    let argv = ''
    let pid = 0
    aws.before('PutSecretValue', () => {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    })
    const run = await cli(['set', 'app', 'db_password'], {
      input: `${value}\n`,
      onSpawn: p => (pid = p)
    })
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toBe(aws.secretValue(APP).versionId)
    expect(aws.secretValue(APP).json).toEqual({ ...EXAMPLE_APP, db_password: value })
    expect(argv).toContain('db_password')
    for (const piece of readablePieces(value)) expect(argv).not.toContain(piece)
    expectNoValues(run, { value })
    expect(run.stderr).not.toContain('warning')
  })

  // `script` gives the command a terminal, as a person typing has; not every machine has it.
  const withTerminal = existsSync('/usr/bin/script') ? it : it.skip
  withTerminal(
    'asks at a prompt that does not echo when standard input is a terminal',
    async () => {
      seed()
      const child = spawn(
        '/usr/bin/script',
        ['-qec', `node ${CLI_ENTRY} set app jwt_secret`, '/dev/null'],
        {
          env: {
            PATH: process.env.PATH,
            HOME: '/nonexistent',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            ...aws.environment()
          }
        }
      )
      let output = ''
      child.stdout.setEncoding('utf8').on('data', chunk => {
        output += chunk
        // The prompt is written in the same tick that turns echo off: typing after it is hidden.
        if (output.includes('(not shown): ') && !child.stdin.writableEnded)
          child.stdin.end('typed-at-the-prompt\r')
      })
      const code = await new Promise(resolve => child.on('close', resolve))
      expect(code).toBe(0)
      expect(aws.secretValue(APP).json.jwt_secret).toBe('typed-at-the-prompt')
      expect(output).not.toContain('typed-at-the-prompt')
    }
  )

  it('refuses an empty standard input instead of blanking the key', async () => {
    const { app } = seed()
    const run = await cli(['set', 'app', 'db_password'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'No value for "db_password" on standard input; nothing was written.'
    )
    expect(aws.secretValue(APP).versionId).toBe(app)
    const empty = await cli(['set', 'deployment', 'ec2_host', ''])
    expect(empty.code).toBe(0)
    expect(aws.secretValue(DEPLOY).json.ec2_host).toBe('')
  })

  it('accepts the value as an argument, with a warning about shell history', async () => {
    seed()
    const run = await cli(['set', 'deployment', 'ec2_user', 'ubuntu-user'])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('warning: a value given as an argument lands in the shell history')
    expect(aws.secretValue(DEPLOY).json).toEqual({ ...EXAMPLE_DEPLOYMENT, ec2_user: 'ubuntu-user' })
  })

  it('keeps a concurrent edit made between its read and its swap', async () => {
    seed()
    let raced = false
    aws.before('UpdateSecretVersionStage', params => {
      if (raced || params.VersionStage !== 'AWSCURRENT') return
      raced = true
      aws.putSecret(APP, { ...EXAMPLE_APP, api_keys: 'rotated-by-someone-else' })
    })
    const run = await cli(['set', 'app', 'jwt_secret'], { input: 'new-jwt-secret-value' })
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(
      'changed while this command ran; merging "jwt_secret" into the new version'
    )
    expect(aws.secretValue(APP).json).toEqual({
      ...EXAMPLE_APP,
      api_keys: 'rotated-by-someone-else',
      jwt_secret: 'new-jwt-secret-value'
    })
  })

  it('creates a missing secret only with --create', async () => {
    const without = await cli(['set', 'NewSecret', 'k'], { input: 'created-value' })
    expect(without.code).toBe(1)
    expect(without.stderr).toContain('Secret "NewSecret" was not found')
    const run = await cli(['set', 'NewSecret', 'k', '--create'], { input: 'created-value' })
    expect(run.code).toBe(0)
    expect(aws.secretValue('NewSecret')).toMatchObject({
      versionId: run.stdout.trim(),
      json: { k: 'created-value' }
    })
  })

  it('leaves the secret as it was when the write is denied or the value is not JSON', async () => {
    const { app } = seed()
    aws.deny('PutSecretValue')
    const denied = await cli(['set', 'app', 'db_password'], { input: 'never-written-value' })
    expect(denied.code).toBe(1)
    expect(denied.stderr).toContain(
      'Access denied: secretsmanager:PutSecretValue on app secret "FastAPIAppSecrets"'
    )
    expect(aws.secretValue(APP)).toMatchObject({ versionId: app, json: EXAMPLE_APP })
    aws.denied.clear()
    aws.putSecret('Plain', 'plain text secret')
    const plain = await cli(['set', 'Plain', 'k'], { input: 'value-for-plain' })
    expect(plain.code).toBe(1)
    expect(plain.stderr).toContain('The secret "Plain" is not valid JSON')
    expect(aws.secretValue('Plain').secretString).toBe('plain text secret')
  })
})

describe('unset', () => {
  it('removes one key and keeps the others', async () => {
    seed()
    const run = await cli(['unset', 'app', 'api_keys'])
    expect(run.code).toBe(0)
    const rest: Record<string, string> = { ...EXAMPLE_APP }
    delete rest.api_keys
    expect(aws.secretValue(APP).json).toEqual(rest)
    expectNoValues(run, EXAMPLE_APP)
  })

  it('fails, writing nothing, for a key the secret does not have', async () => {
    const { app } = seed()
    const run = await cli(['unset', 'app', 'no_such_key'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('has no key "no_such_key"; nothing was written.')
    expect(aws.secretValue(APP).versionId).toBe(app)
  })
})

describe('validate', () => {
  it('passes both secrets as the action would, warning about keys refused as variables', async () => {
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, node_options: '--require ./evil-module' })
    aws.putSecret(APP, EXAMPLE_APP)
    const run = await cli(['validate'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(
      /^ok {2}deployment secret "FastAPIDeploymentSecrets" \(version \S+\)$/m
    )
    expect(run.stdout).toMatch(/^ok {2}app secret "FastAPIAppSecrets"/m)
    expect(run.stdout).toContain(
      'warning: Key "node_options" would become the environment variable NODE_OPTIONS'
    )
    expect(run.output).not.toContain('evil-module')
  })

  it("fails with the action's messages: missing keys, bad key names, not JSON, missing secret", async () => {
    aws.putSecret(DEPLOY, {
      ...EXAMPLE_DEPLOYMENT,
      'bad key': 'x-value',
      port: 22
    } as unknown as Record<string, string>)
    aws.putSecret(APP, { ...EXAMPLE_APP, jwt_secret: ' ' })
    const run = await cli(['validate', '--required-keys', 'ec2_host,ec2_user'])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(
      'Key "port" of the deployment secret "FastAPIDeploymentSecrets" is a number; every value must be a string.'
    )
    expect(run.stdout).toContain(
      'The app secret "FastAPIAppSecrets" has no value for "jwt_secret" (listed in input "app-required-keys").'
    )
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, 'bad key': 'x-value' })
    const names = await cli(['validate', '--required-keys', 'ec2_host', '--json'])
    const report = JSON.parse(names.stdout)
    expect(report.ok).toBe(false)
    expect(report.secrets[0].problems).toEqual([
      'The deployment secret "FastAPIDeploymentSecrets" has no value for "ec2_host" (listed in input "required-keys"). ' +
        'Set it in Secrets Manager, e.g. aws secretsmanager put-secret-value, or the console\'s "Edit" on the secret.',
      expect.stringContaining('has key "bad key" that cannot be a step output name')
    ])
    aws.secrets.delete(APP)
    const missing = await cli(['validate'])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain('App secret "FastAPIAppSecrets" was not found')
  })
})

describe('history', () => {
  it('lists each version with the key names it added, removed or changed, never a value', async () => {
    const v1 = aws.putSecret(APP, EXAMPLE_APP)
    const v2 = aws.putSecret(APP, {
      ...EXAMPLE_APP,
      db_password: HOSTILE_VALUES.padded,
      extra: 'extra-value'
    })
    const rest: Record<string, string> = { ...EXAMPLE_APP }
    delete rest.api_keys
    const v3 = aws.putSecret(APP, {
      ...rest,
      db_password: HOSTILE_VALUES.padded,
      extra: 'extra-value'
    })
    const run = await cli(['history', 'app'])
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[1]).toMatch(new RegExp(`^${v1}\\s+-\\s+\\S+\\s+\\(first version\\)$`))
    expect(lines[2]).toMatch(new RegExp(`^${v2}\\s+AWSPREVIOUS\\s+\\S+\\s+\\+extra ~db_password$`))
    expect(lines[3]).toMatch(new RegExp(`^${v3}\\s+AWSCURRENT\\s+\\S+\\s+-api_keys$`))
    expectNoValues(run, { ...EXAMPLE_APP, padded: HOSTILE_VALUES.padded, extra: 'extra-value' })
    const json = JSON.parse((await cli(['history', 'app', '--json'])).stdout)
    expect(json[2]).toMatchObject({
      versionId: v3,
      stages: ['AWSCURRENT'],
      added: [],
      removed: ['api_keys'],
      changed: []
    })
  })

  it('fails with one message for a missing secret', async () => {
    const run = await cli(['history', 'NoSuchSecret'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'Secret "NoSuchSecret" was not found (secretsmanager:ListSecretVersionIds)'
    )
  })
})

describe('rollback', () => {
  it("makes the previous version's keys current again, or the version given", async () => {
    const v1 = aws.putSecret(APP, EXAMPLE_APP)
    aws.putSecret(APP, { ...EXAMPLE_APP, db_password: 'bad-new-password' })
    const run = await cli(['rollback', 'app'])
    expect(run.code).toBe(0)
    expect(aws.secretValue(APP)).toMatchObject({ versionId: run.stdout.trim(), json: EXAMPLE_APP })
    expectNoValues(run, { ...EXAMPLE_APP, bad: 'bad-new-password' })
    aws.putSecret(APP, { other: 'other-value' })
    const to = await cli(['rollback', 'app', '--to', v1])
    expect(to.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
  })

  it('refuses, writing nothing, when someone else writes after it looked', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    aws.putSecret(APP, { ...EXAMPLE_APP, db_password: 'bad-new-password' })
    aws.before('PutSecretValue', () => {
      aws.hooks.delete('PutSecretValue')
      aws.putSecret(APP, { ...EXAMPLE_APP, db_password: 'fixed-by-someone-else' })
    })
    const run = await cli(['rollback', 'app'])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /error: The app secret "FastAPIAppSecrets" changed \(now version \S+\) after this command read version \S+; nothing was written/
    )
    expect(aws.secretValue(APP).json).toEqual({
      ...EXAMPLE_APP,
      db_password: 'fixed-by-someone-else'
    })
  })

  it('fails with one message when there is no previous version', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const run = await cli(['rollback', 'app'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'The app secret "FastAPIAppSecrets" has no previous version (AWSPREVIOUS) to roll back to'
    )
  })
})

describe('generate', () => {
  it('writes a new random value with the compare-and-swap and prints it only with --reveal', async () => {
    seed()
    const run = await cli([
      'generate',
      'app',
      'jwt_secret',
      '--length',
      '48',
      '--exclude-punctuation'
    ])
    expect(run.code).toBe(0)
    const stored = aws.secretValue(APP).json.jwt_secret as string
    expect(stored).toMatch(/^[A-Za-z0-9]{48}$/)
    expect(run.output).not.toContain(stored)
    expect(aws.callsOf('GetRandomPassword')[0].params).toMatchObject({
      PasswordLength: 48,
      ExcludePunctuation: true
    })
    const revealed = await cli(['generate', 'app', 'jwt_secret', '--reveal'])
    expect(revealed.stderr).toContain(aws.secretValue(APP).json.jwt_secret)
  })

  it('refuses a bad length', async () => {
    seed()
    const run = await cli(['generate', 'app', 'jwt_secret', '--length', 'lots'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('--length must be a whole number from 1 to 4096, not "lots"')
  })
})
