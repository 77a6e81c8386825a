// Input "rotate" through the bundle, the way the runner runs it: new app-secret values from the
// local endpoint's GetRandomPassword, written with the compare-and-swap, then the restart over
// SSH against OpenSSH, where systemctl's stand-in starts a stand-in service that reads the app
// secret as the real one does at start (test-support/secret-reading-service.js).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { digest } from '../test-support/secret-reading-service.js'
import { startSshd, startSshdFleet, type SshdFixture } from '../test-support/sshd.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { readablePieces, repoRoot, runBundle, type BundleRun } from './helpers/run-bundle.js'

const APP = 'FastAPIAppSecrets'
const SERVICE = path.join(repoRoot, 'test-support', 'secret-reading-service.js')

// New values built to break masking, from GetRandomPassword's own alphabet (its punctuation
// includes every one of these): workflow-command syntax, the percent-encoding the runner decodes,
// JSON and HTML escapes (the summary is HTML), shell quotes.
const NEW_JWT = `::error::x%25"q"<b>&amp;\\n'$(id)'##[group]jwt`
const NEW_PASSWORD = `{"a":"b"}%0A::add-mask::pw&lt;<>`

let aws: LocalAws
let sshd: SshdFixture
let state: string

beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(() => sshd.stop())

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIDeploymentSecrets', {
    ...EXAMPLE_DEPLOYMENT,
    ec2_host: '127.0.0.1',
    ec2_user: sshd.user
  })
  aws.putSecret(APP, EXAMPLE_APP)
  state = mkdtempSync(path.join(tmpdir(), 'rotate-service-'))
  await sshd.clearCalls()
  await sshd.setBehaviour({ onRestart: serviceStart(aws, state) })
})
afterEach(async () => {
  await aws.stop()
  rmSync(state, { recursive: true, force: true })
})

/** The stand-in service's start, as `systemctl restart` runs it on the test host. */
function serviceStart(local: LocalAws, stateDir: string): string {
  return [process.execPath, SERVICE, local.url, APP, 'jwt_secret', stateDir]
    .map(word => `'${word.replaceAll("'", "'\\''")}'`)
    .join(' ')
}

function rotateInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'false',
    rotate: 'jwt_secret, generated_password',
    'ssh-private-key': sshd.clientPrivateKey,
    'ssh-port': String(sshd.port),
    'ssh-host-fingerprint': sshd.hostFingerprint,
    'ssh-connect-timeout': '10',
    'ssh-command-timeout': '20',
    ...extra
  }
}

/** What the service loaded at each start, oldest first (digests: it never keeps a value). */
function loaded(stateDir = state): string[] {
  return readFileSync(path.join(stateDir, 'loaded'), 'utf8').split('\n').filter(Boolean)
}

/** The service comes up only with this value of jwt_secret. */
function acceptOnly(value: string, stateDir = state): void {
  writeFileSync(path.join(stateDir, 'accept'), `${digest(value)}\n`)
}

/** Neither new value, in any form a reader could use, anywhere the run leaves text. */
function expectNewValuesHidden(run: BundleRun, fixtures: SshdFixture[] = [sshd]): void {
  const places = {
    log: run.visibleLog,
    summary: run.summary,
    outputs: JSON.stringify(run.outputs),
    env: JSON.stringify(run.exportedEnv),
    // Every argv the instance saw, and what its sshd logged.
    argv: JSON.stringify(fixtures.map(f => f.calls())),
    sshd: fixtures.map(f => f.serverLog()).join('\n')
  }
  for (const value of [NEW_JWT, NEW_PASSWORD]) {
    const forms = [
      ...readablePieces(value),
      JSON.stringify(value).slice(1, -1),
      encodeURIComponent(value),
      value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    ]
    for (const [where, text] of Object.entries(places)) {
      for (const form of forms)
        expect({ where, found: text.includes(form) }).toEqual({ where, found: false })
    }
  }
  expect(run.masks).toEqual(expect.arrayContaining([NEW_JWT, NEW_PASSWORD]))
}

function errorsOf(run: BundleRun): string[] {
  return run.visibleLog.split('\n').filter(line => line.startsWith('::error::'))
}

describe('rotate', () => {
  it('writes new values, restarts, and the service loads them; the old ones stay AWSPREVIOUS', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    const run = await runBundle(rotateInputs(), aws.environment())
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    const current = aws.secretValue(APP)
    expect(current.json).toEqual({
      ...EXAMPLE_APP,
      jwt_secret: NEW_JWT,
      generated_password: NEW_PASSWORD
    })
    expect(aws.secretValue(APP, 'AWSPREVIOUS').json).toEqual(EXAMPLE_APP)
    expect(loaded()).toEqual([digest(NEW_JWT)])
    expect(run.outputs).toMatchObject({
      rotated: '["jwt_secret","generated_password"]',
      'app-secret-version-id': current.versionId,
      restarted: 'true'
    })
    expect(aws.callsOf('GetRandomPassword').map(c => c.params.PasswordLength)).toEqual([32, 32])
    expect(run.summary).toContain(
      'Rotated <code>jwt_secret</code>, <code>generated_password</code>'
    )
    expectNewValuesHidden(run)
  })

  it('passes rotate-length and the exclusions to GetRandomPassword', async () => {
    const run = await runBundle(
      rotateInputs({
        rotate: 'jwt_secret',
        'rotate-length': '48',
        'rotate-exclude-characters': '"\'\\',
        'rotate-exclude-punctuation': 'true'
      }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(aws.callsOf('GetRandomPassword').map(c => c.params)).toEqual([
      { PasswordLength: 48, ExcludeCharacters: '"\'\\', ExcludePunctuation: true }
    ])
    const value = aws.secretValue(APP).json.jwt_secret
    expect(value).toMatch(/^[A-Za-z0-9]{48}$/)
    expect(loaded()).toEqual([digest(value)])
    expect(run.visibleLog).not.toContain(value)
  })

  it('puts the old values back as AWSCURRENT and restarts again when the health check fails', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    acceptOnly(EXAMPLE_APP.jwt_secret)
    const run = await runBundle(rotateInputs(), aws.environment())
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(
      'The restart with the rotated "jwt_secret", "generated_password" failed'
    )
    expect(errors[0]).toContain(
      'the 1 instance already restarted was restarted again on the old values'
    )
    const current = aws.secretValue(APP)
    expect(current.json).toEqual(EXAMPLE_APP)
    // First with the new value (it did not come up), then with the old one again.
    expect(loaded()).toEqual([digest(NEW_JWT), digest(EXAMPLE_APP.jwt_secret)])
    // (Between them, the failed restart's journal through sudo: input "failure-logs".)
    expect(sshd.calls().filter(call => call[0] === 'sudo' && call[3] === 'restart')).toHaveLength(2)
    expect(run.outputs).toMatchObject({
      rotated: '[]',
      restarted: 'false',
      'app-secret-version-id': current.versionId
    })
    expect(run.summary).toContain('undone: the old values are back in version')
    expectNewValuesHidden(run)
  })

  it('keeps a concurrent edit of another key through both the rotation and the undo', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    acceptOnly(EXAMPLE_APP.jwt_secret)
    const edits: Record<string, string> = {}
    let swaps = 0
    // Another writer, once while the rotation swaps its version in and once while it is undone.
    aws.before('UpdateSecretVersionStage', params => {
      if (params.SecretId !== APP || params.VersionStage !== 'AWSCURRENT') return
      swaps++
      const edit: Record<number, [string, string]> = {
        1: ['api_keys', 'edited-during-rotation'],
        3: ['db_password', 'edited-during-undo']
      }
      if (!edit[swaps]) return
      const [key, value] = edit[swaps]
      edits[key] = value
      aws.putSecret(APP, { ...aws.secretValue(APP).json, [key]: value })
    })
    const run = await runBundle(rotateInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(edits).toEqual({ api_keys: 'edited-during-rotation', db_password: 'edited-during-undo' })
    expect(aws.secretValue(APP).json).toEqual({ ...EXAMPLE_APP, ...edits })
    expect(run.visibleLog).toContain('The app secret')
    expect(run.visibleLog).toContain('merging the new "jwt_secret", "generated_password"')
    expectNewValuesHidden(run)
  })

  it('keeps a concurrent edit of another key after a rotation that succeeds', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    let edited = false
    aws.before('UpdateSecretVersionStage', params => {
      if (params.SecretId !== APP || edited) return
      edited = true
      aws.putSecret(APP, { ...aws.secretValue(APP).json, api_keys: 'edited-meanwhile' })
    })
    const run = await runBundle(rotateInputs(), aws.environment())
    expect(run.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual({
      ...EXAMPLE_APP,
      api_keys: 'edited-meanwhile',
      jwt_secret: NEW_JWT,
      generated_password: NEW_PASSWORD
    })
    expect(loaded()).toEqual([digest(NEW_JWT)])
  })

  it('adds a key the secret lacks with rotate-create', async () => {
    aws.randomPasswords([NEW_PASSWORD])
    const run = await runBundle(
      rotateInputs({ rotate: 'session_key', 'rotate-create': 'true' }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual({ ...EXAMPLE_APP, session_key: NEW_PASSWORD })
    expect(run.outputs.rotated).toBe('["session_key"]')
  })
})

describe('rotate refuses before anything changes', () => {
  async function expectRefused(
    inputs: Record<string, string>,
    message: string,
    env: Record<string, string> = {}
  ): Promise<void> {
    const before = aws.secretValue(APP)
    const run = await runBundle(inputs, { ...aws.environment(), ...env })
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(message)
    expect(aws.secretValue(APP)).toEqual(before)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(aws.callsOf('GetRandomPassword')).toHaveLength(0)
    expect(sshd.calls()).toEqual([])
  }

  it('a key that is not in the app secret', () =>
    expectRefused(
      rotateInputs({ rotate: 'jwt_secret, jwt_secret_typo' }),
      'Input "rotate" names "jwt_secret_typo", which the app secret "FastAPIAppSecrets"'
    ))

  it('restart: none', () =>
    expectRefused(rotateInputs({ restart: 'none' }), 'with restart: none: nothing would load'))

  it('an empty app-secret-id', () =>
    expectRefused(rotateInputs({ 'app-secret-id': '' }), 'with an empty "app-secret-id"'))

  it('deploy: diff', () =>
    expectRefused(rotateInputs({ deploy: 'diff', stack: 'FastAPIEC2Stack' }), 'with deploy: diff'))

  it('a secret whose Secrets Manager rotation is on', () => {
    aws.enableRotation(APP, 'arn:aws:lambda:us-east-1:123456789012:function:RotateApp')
    return expectRefused(rotateInputs(), "has Secrets Manager's own rotation turned on")
  })
})

describe('rotate on a fleet', () => {
  it('undoes on the first failed instance whatever max-errors allows, and restarts again only those it reached', async () => {
    const fleet = await startSshdFleet(2)
    const states = fleet.map(() => mkdtempSync(path.join(tmpdir(), 'rotate-fleet-')))
    try {
      aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ec2_user: fleet[0].user })
      const ids = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2']
      fleet.forEach((fixture, i) =>
        aws.addInstance({
          instanceId: ids[i],
          publicIp: fixture.host,
          consoleOutput: cloudInitConsole([fixture.hostPublicKey])
        })
      )
      for (const [i, fixture] of fleet.entries())
        await fixture.setBehaviour({ onRestart: serviceStart(aws, states[i]) })
      // The first instance does not come back with the new value: max-errors 100% would go on.
      acceptOnly(EXAMPLE_APP.jwt_secret, states[0])
      aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
      const run = await runBundle(
        rotateInputs({
          targets: ids.join(','),
          'ssh-port': String(fleet[0].port),
          'ssh-private-key': fleet[0].clientPrivateKey,
          'ssh-host-fingerprint': '',
          'max-concurrency': '1',
          'max-errors': '100%'
        }),
        aws.environment()
      )
      expect(run.code).toBe(1)
      expect(errorsOf(run)).toHaveLength(1)
      expect(errorsOf(run)[0]).toContain('(with input "rotate", one failed instance is enough)')
      expect(errorsOf(run)[0]).toContain('the 1 instance already restarted was restarted again')
      expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
      // One at a time: the first failed on the new value and came back on the old one; the second
      // never started, so it still runs the old value and was left alone.
      expect(loaded(states[0])).toEqual([digest(NEW_JWT), digest(EXAMPLE_APP.jwt_secret)])
      expect(fleet[1].calls()).toEqual([])
      expectNewValuesHidden(run, fleet)
    } finally {
      await Promise.all(fleet.map(f => f.stop()))
      for (const dir of states) rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('rotate with restart: ssm', () => {
  const ids = ['i-0ccccccccccccccc1', 'i-0ccccccccccccccc2']
  let states: string[]

  beforeEach(() => {
    states = ids.map(() => mkdtempSync(path.join(tmpdir(), 'rotate-ssm-')))
    ids.forEach((instanceId, i) => {
      aws.addInstance({ instanceId, publicIp: `203.0.113.${i + 1}` })
      aws.ssm.addAgent(instanceId, { onRestart: serviceStart(aws, states[i]) })
    })
  })
  afterEach(() => {
    for (const dir of states) rmSync(dir, { recursive: true, force: true })
  })

  const ssmInputs = {
    deploy: 'false',
    targets: ids.join(','),
    restart: 'ssm',
    rotate: 'jwt_secret'
  }

  it('every instance loads the new value', async () => {
    aws.randomPasswords([NEW_JWT])
    const run = await runBundle(ssmInputs, aws.environment())
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(states.map(dir => loaded(dir))).toEqual([[digest(NEW_JWT)], [digest(NEW_JWT)]])
    expect(run.outputs.rotated).toBe('["jwt_secret"]')
    expect(JSON.stringify(ids.map(id => aws.ssm.calls(id)))).not.toContain(NEW_JWT)
  })

  it('undoes when one instance does not come back, whatever max-errors allows, and restarts the rest again', async () => {
    aws.randomPasswords([NEW_JWT])
    acceptOnly(EXAMPLE_APP.jwt_secret, states[1])
    const run = await runBundle(
      { ...ssmInputs, 'max-concurrency': '100%', 'max-errors': '1' },
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(errorsOf(run)).toHaveLength(1)
    expect(errorsOf(run)[0]).toContain('the 2 instances already restarted were restarted again')
    expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
    const old = digest(EXAMPLE_APP.jwt_secret)
    expect(states.map(dir => loaded(dir))).toEqual([
      [digest(NEW_JWT), old],
      [digest(NEW_JWT), old]
    ])
    expect(aws.callsOf('SendCommand').map(call => call.params.MaxErrors)).toEqual(['0', '1'])
    expect(run.visibleLog).not.toContain(NEW_JWT)
  })
})
