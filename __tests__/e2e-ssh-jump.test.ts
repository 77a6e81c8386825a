// restart: ssh through a bastion (input "ssh-jump"), through the bundle as the runner runs it. The
// bastion and the instances are OpenSSH servers of their own: the bastion on 127.0.0.1, the
// instances on 127.0.0.2 and 127.0.0.3, the addresses only the bastion is told to connect to.
// Each sshd logs every TCP connection it accepts ("Connection from ..."), so a connection the
// runner side made to an instance directly would show there beside the one the bastion made.
import { cloudInitConsole } from '../test-support/cloud-init.js'
import {
  freePort,
  generateKeyPair,
  loopbackAliasesWork,
  sshServerChoice,
  startSshd,
  type SshdFixture
} from '../test-support/sshd.js'
import { EXAMPLE_APP, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const SECRET = 'FastAPIDeploymentSecrets'
const RESTART = ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi']
const BASTION_ID = 'i-0b0b0000000000001'
const FLEET = ['i-0aaa0000000000001', 'i-0aaa0000000000002']

// The embedded server (no OpenSSH here) has no direct-tcpip channels: a bastion must be OpenSSH.
const openssh = sshServerChoice().server === 'openssh'
const aliases = openssh && (await loopbackAliasesWork(3))
if (!aliases)
  console.log('ssh-jump tests skipped: they need OpenSSH sshd, and 127.0.0.2 and 127.0.0.3')
const describeJump = aliases ? describe : describe.skip

let bastion: SshdFixture
let targets: SshdFixture[] = []
let aws: LocalAws

beforeAll(async () => {
  if (!aliases) return
  bastion = await startSshd()
  const port = await freePort('127.0.0.2')
  const first = await startSshd({ listenAddress: '127.0.0.2', port })
  const { publicKey } = await publicKeyOf(first)
  targets = [first, await startSshd({ listenAddress: '127.0.0.3', port, authorizedKey: publicKey })]
}, 60_000)
afterAll(() => Promise.all([bastion, ...targets].filter(Boolean).map(server => server.stop())))

beforeEach(async () => {
  for (const server of [bastion, ...targets]) await server?.clearCalls()
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, {
    ec2_host: targets[0]?.host ?? '127.0.0.2',
    ec2_user: bastion?.user ?? 'ec2-user'
  })
})
afterEach(() => aws.stop())

/** The public key line the first target authorizes, for the second to authorize too. */
async function publicKeyOf(server: SshdFixture): Promise<{ publicKey: string }> {
  const { default: ssh2 } = await import('ssh2')
  const key = ssh2.utils.parseKey(server.clientPrivateKey)
  if (key instanceof Error) throw key
  const parsed = Array.isArray(key) ? key[0] : key
  return { publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` }
}

/** Inputs for a restart at the secret's address through the bastion, every host key pinned. */
function jumpInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'false',
    'app-secret-id': '',
    'mask-exclude': 'ec2_host, ec2_user',
    restart: 'ssh',
    'ssh-private-key': targets[0].clientPrivateKey,
    'ssh-port': String(targets[0].port),
    'ssh-host-fingerprint': targets.map(target => target.hostFingerprint).join('\n'),
    'ssh-jump': `${bastion.user}@${bastion.host}:${bastion.port}`,
    'ssh-jump-host-fingerprint': bastion.hostFingerprint,
    'ssh-jump-private-key': bastion.clientPrivateKey,
    ...extra
  }
}

/** TCP connections the server accepted since `from` (a length of its log), in sshd's words. */
function connectionsSince(server: SshdFixture, from: number): number {
  return server.serverLog().slice(from).split('Connection from ').length - 1
}

function errors(run: BundleRun): string[] {
  return run.commands.filter(c => c.name === 'error').map(c => c.data)
}

const where = (server: SshdFixture) => `${server.host}:${server.port}`

describeJump('restart: ssh through a bastion, end to end', () => {
  it('restarts the instance through the bastion; the runner never connects to it itself', async () => {
    const logs = [bastion, targets[0]].map(server => server.serverLog().length)
    const run = await runBundle(jumpInputs(), aws.environment())
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(targets[0].calls()[0]).toEqual(RESTART)
    // The bastion ran nothing: it only relayed the instance's connection.
    expect(bastion.calls()).toEqual([])
    expect(bastion.serverLog().slice(logs[0])).toContain('Accepted publickey')
    // One connection reached the instance: the bastion's (no early socket, no retry from here).
    expect(connectionsSince(targets[0], logs[1])).toBe(1)
    expect(connectionsSince(bastion, logs[0])).toBe(1)
    expect(run.visibleLog).toContain(
      `Reaching the instances through the bastion ${where(bastion)}; its host key: pinned (input "ssh-jump-host-fingerprint").`
    )
    expect(run.outputs.restarted).toBe('true')
    // The bastion's key is masked like the instances' key: every line of it.
    const lines = bastion.clientPrivateKey.split('\n').filter(line => line.trim().length >= 4)
    for (const line of lines) expect(run.masks).toContain(line)
  }, 60_000)

  it('with an instance id and a port, reuses one bastion connection for every instance', async () => {
    aws.addInstance({
      instanceId: BASTION_ID,
      publicIp: bastion.host,
      consoleOutput: cloudInitConsole([bastion.hostPublicKey])
    })
    FLEET.forEach((instanceId, i) =>
      aws.addInstance({
        instanceId,
        publicIp: targets[i].host,
        tags: { role: 'web' },
        consoleOutput: cloudInitConsole([targets[i].hostPublicKey])
      })
    )
    const before = bastion.serverLog().length
    const run = await runBundle(
      jumpInputs({
        targets: 'tag:role=web',
        'ssh-host-fingerprint': '',
        'ssh-jump': `${BASTION_ID}:${bastion.port}`,
        'ssh-jump-host-fingerprint': '',
        'max-concurrency': '100%'
      }),
      aws.environment()
    )
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    for (const target of targets) expect(target.calls()[0]).toEqual(RESTART)
    expect(connectionsSince(bastion, before)).toBe(1)
    expect(bastion.serverLog().slice(before).split('Accepted publickey').length - 1).toBe(1)
    expect(aws.callsOf('GetConsoleOutput').map(c => c.params.InstanceId)).toEqual(
      expect.arrayContaining([BASTION_ID, ...FLEET])
    )
    expect(run.visibleLog).toContain(
      `Restarted "fastapi" on 2 instances over SSH through the bastion ${BASTION_ID}.`
    )
  }, 120_000)

  it('refuses a bastion whose host key is not the pinned one, before any login to the instance', async () => {
    const logs = [bastion, targets[0]].map(server => server.serverLog().length)
    const run = await runBundle(
      // The instance's fingerprint pinned for the bastion: a key, but not the bastion's.
      jumpInputs({ 'ssh-jump-host-fingerprint': targets[0].hostFingerprint }),
      aws.environment()
    )
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain(
      `The bastion's host key did not match: ${where(bastion)} (input "ssh-jump") presented fingerprint ${bastion.hostFingerprint}`
    )
    expect(bastion.serverLog().slice(logs[0])).not.toContain('Accepted publickey')
    expect(connectionsSince(targets[0], logs[1])).toBe(0)
    expect(targets[0].calls()).toEqual([])
  }, 60_000)

  it('names the bastion when it refuses the key', async () => {
    const stranger = await generateKeyPair()
    const before = targets[0].serverLog().length
    const run = await runBundle(
      jumpInputs({ 'ssh-jump-private-key': stranger.privateKey }),
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(errors(run)[0]).toContain(
      `The bastion refused the key: SSH login as "${bastion.user}" on ${where(bastion)}`
    )
    expect(connectionsSince(targets[0], before)).toBe(0)
  }, 60_000)

  it("names the target's host key when it is not the pinned one", async () => {
    const run = await runBundle(
      jumpInputs({ 'ssh-host-fingerprint': bastion.hostFingerprint }),
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(errors(run)[0]).toContain(
      `The target's host key did not match: the host key of ${where(targets[0])} has fingerprint ${targets[0].hostFingerprint}`
    )
    expect(targets[0].calls()).toEqual([])
  }, 60_000)

  it('refuses a bastion given by address without a pinned host key, before connecting', async () => {
    const before = bastion.serverLog().length
    const run = await runBundle(jumpInputs({ 'ssh-jump-host-fingerprint': '' }), aws.environment())
    expect(run.code).toBe(1)
    expect(errors(run)).toEqual([
      expect.stringContaining(
        `Input "ssh-jump" names the bastion by address (${where(bastion)}), and input "ssh-jump-host-fingerprint" is empty`
      )
    ])
    expect(connectionsSince(bastion, before)).toBe(0)
  }, 60_000)
})

describeJump('a bastion with AllowTcpForwarding no', () => {
  let closed: SshdFixture
  beforeAll(async () => {
    if (aliases) closed = await startSshd({ extraConfig: ['AllowTcpForwarding no'] })
  }, 60_000)
  afterAll(() => closed?.stop())

  it('fails at once, naming the bastion, the instance and the setting', async () => {
    const before = targets[0].serverLog().length
    const run = await runBundle(
      jumpInputs({
        'ssh-jump': `${closed.host}:${closed.port}`,
        'ssh-jump-host-fingerprint': closed.hostFingerprint,
        'ssh-jump-private-key': closed.clientPrivateKey
      }),
      aws.environment()
    )
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain(
      `The bastion could not open a channel to ${where(targets[0])} (AllowTcpForwarding?): ${where(closed)} refused it`
    )
    expect(connectionsSince(targets[0], before)).toBe(0)
  }, 60_000)
})
