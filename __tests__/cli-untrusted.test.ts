// The command line run in a workflow step, as the README's examples run it: whatever the secret
// holds (key names, version ids, stage names chosen by whoever may write it), the runner reads no
// workflow command in its standard output or standard error. The runner's reading of a line is
// test-support/runner.js's port of actions/runner's ActionCommand.cs (`::name::` after .NET's
// TrimStart, `##[name]` anywhere).
import {
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand
} from '@aws-sdk/client-secrets-manager'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runnerView } from './helpers/runner-commands.js'
import { runCli, type CliRun } from './helpers/run-cli.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  secretsManagerFor,
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
const cli = (args: string[]) => runCli(aws, args)

/**
 * Key names that the runner obeyed when an earlier `secrets-deploy get` printed them at the start
 * of a line: an annotation, an output a later step trusts, a mask that hides the service's name in
 * the rest of the job, a pause of all commands (kept last: once obeyed it hides the others), and
 * the legacy syntax the runner finds anywhere in a line.
 */
const COMMAND_KEYS: Record<string, string> = {
  '::warning title=x::y': 'value-of-the-warning-key',
  '::set-output name=deploy-approved::yes': 'value-of-the-output-key',
  '::add-mask::fastapi': 'value-of-the-mask-key',
  '  ::error::indented': 'value-of-the-indented-key',
  'key ##[error]legacy': 'value-of-the-legacy-key',
  '::stop-commands::x': 'value-of-the-pause-key'
}

/**
 * Version ids whoever may write the secret chooses (PutSecretValue's ClientRequestToken: AWS
 * documents 32 to 64 characters and no character set, and the local endpoint takes newlines).
 */
const PLANTED_VERSION_IDS = [
  '0123456789abcdef0123456789abcdef\n::warning title=v::planted',
  '0123456789abcdef0123456789abcdeg\n##[error]legacy-in-a-version',
  '0123456789abcdef0123456789abcdeh\n::stop-commands::pwned'
]

/** Every workflow command the runner would carry out for this run's output, both streams. */
function obeyed(run: CliRun): string[] {
  const lines = [...run.stdout.split('\n'), ...run.stderr.split('\n')]
  return runnerView(lines).commands.map(command => command.line)
}

/**
 * The lines the runner shows as text, both streams, as a person reads them: without the
 * zero-width spaces that keep "::" from starting a line and "##[" from being read.
 */
const shownText = (run: CliRun) =>
  runnerView([...run.stdout.split('\n'), ...run.stderr.split('\n')])
    .text.join('\n')
    .replaceAll('\u200b', '')

/** Puts each planted version as the new AWSCURRENT of `name`, through the real SDK. */
async function plantVersions(name: string, values: Record<string, string>[]): Promise<void> {
  const client = secretsManagerFor(aws)
  try {
    for (const [i, versionId] of PLANTED_VERSION_IDS.entries()) {
      await client.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretString: JSON.stringify(values[i % values.length]),
          ClientRequestToken: versionId
        })
      )
    }
    // A stage name is the writer's choice too (AWS documents 1 to 256 characters).
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: '::warning title=s::stage',
        MoveToVersionId: PLANTED_VERSION_IDS[0]
      })
    )
  } finally {
    client.destroy()
  }
}

describe('key names with command syntax', () => {
  beforeEach(() => {
    aws.putSecret(APP, { ...EXAMPLE_APP, ...COMMAND_KEYS })
  })

  it('get: the table, one key and a missing key are printed inert, and still readable', async () => {
    const table = await cli(['get', 'app'])
    expect(table.code).toBe(0)
    expect(obeyed(table)).toEqual([])
    for (const key of Object.keys(COMMAND_KEYS)) expect(shownText(table)).toContain(key.trim())
    for (const key of Object.keys(COMMAND_KEYS)) {
      const one = await cli(['get', 'app', key])
      expect(one.code).toBe(0)
      expect(obeyed(one)).toEqual([])
      expect(one.stdout).toMatch(/\d+ characters \(--reveal prints the value\)$/m)
    }
    const missing = await cli(['get', 'app', '::error::no-such-key'])
    expect(missing.code).toBe(1)
    expect(obeyed(missing)).toEqual([])
    expect(shownText(missing)).toContain('has no key "::error::no-such-key"')
  })

  it('get --reveal: the table quotes each value; a key with --reveal stays the raw value alone', async () => {
    const table = await cli(['get', 'app', '--reveal'])
    expect(table.code).toBe(0)
    expect(obeyed(table)).toEqual([])
    const one = await cli(['get', 'app', '::add-mask::fastapi', '--reveal'])
    expect(one).toMatchObject({ code: 0, stdout: 'value-of-the-mask-key\n', stderr: '' })
  })

  it('history: the keys each version added, removed or changed are printed inert', async () => {
    const rest: Record<string, string> = { ...EXAMPLE_APP, ...COMMAND_KEYS }
    delete rest['::warning title=x::y']
    aws.putSecret(APP, {
      ...rest,
      '::set-output name=deploy-approved::yes': 'changed-value',
      'key ##[error]legacy': 'changed-value-too'
    })
    const run = await cli(['history', 'app'])
    expect(run.code).toBe(0)
    expect(obeyed(run)).toEqual([])
    expect(shownText(run)).toContain(
      '-::warning title=x::y ~::set-output name=deploy-approved::yes ~key ##[error]legacy'
    )
  })

  it('--json: valid JSON holding the same names, with no "##[" in any line', async () => {
    for (const args of [
      ['get', 'app', '--json'],
      ['get', 'app', '--reveal', '--json'],
      ['history', 'app', '--json'],
      ['list', '--json']
    ]) {
      const run = await cli(args)
      expect(run.code).toBe(0)
      expect(obeyed(run)).toEqual([])
      expect(run.stdout).not.toContain('##[')
      expect(run.stdout).not.toContain('#')
      const parsed = JSON.parse(run.stdout)
      if (args[0] === 'get')
        expect(Object.keys(parsed.keys ?? parsed.values)).toEqual(
          Object.keys({ ...EXAMPLE_APP, ...COMMAND_KEYS })
        )
    }
    const all = JSON.parse((await cli(['get', 'app', '--reveal', '--json'])).stdout)
    expect(all.values).toEqual({ ...EXAMPLE_APP, ...COMMAND_KEYS })
  })

  it('validate: the problems a bad key name causes are printed inert, and --json stays JSON', async () => {
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ...COMMAND_KEYS })
    const run = await cli(['validate'])
    expect(run.code).toBe(1)
    expect(obeyed(run)).toEqual([])
    expect(run.stdout).toContain('cannot be a step output name')
    const json = await cli(['validate', '--json'])
    expect(obeyed(json)).toEqual([])
    expect(json.stdout).not.toContain('##[')
    expect(JSON.parse(json.stdout).secrets[0].problems).toEqual([
      // The action's message quotes the key as untrusted text already ("##[" broken).
      expect.stringContaining('"key #\u200b#[error]legacy"')
    ])
  })
})

describe('version ids and stage names with a newline and command syntax', () => {
  beforeEach(async () => {
    aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    aws.putSecret(APP, EXAMPLE_APP)
    await plantVersions(APP, [
      { ...EXAMPLE_APP, db_password: 'planted-password-1' },
      { ...EXAMPLE_APP, db_password: 'planted-password-2' }
    ])
  })

  it('history prints each id and stage inert, on one line each, JSON-quoted', async () => {
    const run = await cli(['history', 'app'])
    expect(run.code).toBe(0)
    expect(obeyed(run)).toEqual([])
    const lines = run.stdout.trim().split('\n')
    // The header, the first version, then the three planted ones: one line each.
    expect(lines).toHaveLength(5)
    expect(lines[2]).toMatch(/^"0123456789abcdef0123456789abcdef ::warning title=v::planted"\s/)
    expect(lines[2]).toContain('::warning title=s::stage')
    const json = await cli(['history', 'app', '--json'])
    expect(obeyed(json)).toEqual([])
    expect(JSON.parse(json.stdout).map((v: { versionId: string }) => v.versionId)).toEqual([
      expect.any(String),
      ...PLANTED_VERSION_IDS
    ])
  })

  it('get, validate, set, unset, backup and doctor say which version, inert', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sd-untrusted-'))
    const shownCurrent = '"0123456789abcdef0123456789abcdeh ::stop-commands::pwned"'
    try {
      const runs: CliRun[] = []
      for (const args of [
        ['get', 'app'],
        ['get', 'app', '--json'],
        ['get', 'app', 'no_such_key'],
        ['validate'],
        ['validate', '--json'],
        ['doctor', '--restart', 'none'],
        ['doctor', '--restart', 'none', '--json'],
        ['backup', 'app', '--out', join(dir, 'backup.json')],
        ['unset', 'app', 'no_such_key'],
        // The value the current version already holds: nothing is written, its id is printed.
        ['set', 'app', 'db_password', 'planted-password-1']
      ])
        runs.push(await cli(args))
      for (const run of runs) {
        expect(obeyed(run)).toEqual([])
        expect(run.output).not.toContain('##[')
      }
      const [get, getJson, noKey, validate, , , , backup, , set] = runs
      expect(get.stderr).toContain(`app secret "FastAPIAppSecrets", version ${shownCurrent}:`)
      expect(JSON.parse(getJson.stdout).versionId).toBe(PLANTED_VERSION_IDS[2])
      expect(noKey.stderr).toContain(`(version ${shownCurrent}) has no key "no_such_key"`)
      expect(validate.stdout).toContain(`app secret "FastAPIAppSecrets" (version ${shownCurrent})`)
      expect(backup.stderr).toContain(`Backed up "FastAPIAppSecrets" version ${shownCurrent}`)
      expect(set).toMatchObject({ code: 0, stdout: `${shownCurrent}\n` })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('warnings of the shared code', () => {
  // A port is a plain number, too common to be masked, and not secret: the simplest such value.
  const SSH_PORT = { ssh_port: '22' }

  it("go to standard error in the command line's words; --json output stays JSON alone", async () => {
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ...SSH_PORT })
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ...SSH_PORT, ec2_host: '203.0.113.10' })
    aws.putSecret(APP, EXAMPLE_APP)
    for (const args of [
      ['get', 'deployment', '--json'],
      ['list', '--json'],
      ['validate', '--json'],
      ['history', 'deployment', '--json']
    ]) {
      const run = await cli(args)
      expect(run.code).toBe(0)
      expect(() => JSON.parse(run.stdout)).not.toThrow()
      expect(run.stdout).not.toContain('::')
      expect(run.stderr).toMatch(
        /^warning: (The deployment secret|The secret|A version of the deployment secret) "FastAPIDeploymentSecrets" has key "ssh_port" \(a plain number\) whose value is not masked/m
      )
      expect(run.stderr).toContain('"secrets-deploy generate <secret> <key>"')
      expect(run.stderr).not.toContain('input "mask-exclude"')
      expect(run.stderr).not.toContain('::warning')
      // One warning, once, however many versions were read.
      expect(run.stderr.match(/^warning: /gm)).toHaveLength(1)
    }
  })

  it('keep a value revealed with a key alone on standard output', async () => {
    aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ...SSH_PORT })
    const run = await cli(['get', 'deployment', 'ssh_port', '--reveal'])
    expect(run).toMatchObject({ code: 0, stdout: '22\n' })
    expect(run.stderr).toMatch(/^warning: The deployment secret .* "ssh_port" \(a plain number\)/)
  })
})
