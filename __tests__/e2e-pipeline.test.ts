// The whole pipeline through the bundle, the way the runner runs it: secrets from the local AWS
// endpoint, cdk deploy (stand-in), the instance's address (127.0.0.1), the write-back, and the
// restart over SSH against a real OpenSSH server with stand-ins for sudo and systemctl.
import { cloudInitConsole, consoleNoise, fingerprintEntry } from '../test-support/cloud-init.js'
import { generateKeyPair, startSshd, type SshdFixture } from '../test-support/sshd.js'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { HOSTILE_VALUES, readablePieces, runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'

let aws: LocalAws
let sshd: SshdFixture
let deployment: Record<string, string>

beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(() => sshd.stop())

beforeEach(async () => {
  await sshd.clearCalls()
  await sshd.setBehaviour({})
  aws = await startLocalAws()
  deployment = { ...EXAMPLE_DEPLOYMENT, ec2_user: sshd.user, ...HOSTILE_VALUES }
  aws.putSecret('FastAPIDeploymentSecrets', deployment)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.addInstance({
    instanceId: INSTANCE,
    publicIp: '127.0.0.1',
    consoleOutput: cloudInitConsole([sshd.hostPublicKey])
  })
})
afterEach(() => aws.stop())

// The stand-in instance answers on loopback, an address the action never registers as a mask (it
// would hide "127.0.0.1" in every later line of the job): it shows in the messages as it is. A real
// instance's address is masked (e2e-deploy.test.ts, e2e-untrusted-names.test.ts).
const SHOWN_ADDRESS = '127.0.0.1'

function pipelineInputs(extra: Record<string, string> = {}): Record<string, string> {
  const app = createCdkApp({ stacks: { [STACK]: { outputs: { InstanceId: INSTANCE } } } })
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    'ssh-private-key': sshd.clientPrivateKey,
    'ssh-port': String(sshd.port),
    'ssh-connect-timeout': '10',
    'ssh-command-timeout': '10',
    ...extra
  }
}

const RESTARTED = [
  ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi'],
  ['systemctl', 'restart', '--', 'fastapi'],
  ['systemctl', 'is-active', '--', 'fastapi']
]

function expectNoSecretInLog(run: BundleRun): void {
  const secrets = [
    ...Object.values(deployment),
    ...Object.values(EXAMPLE_APP),
    sshd.clientPrivateKey
  ]
  for (const value of secrets) {
    for (const piece of readablePieces(value)) expect(run.visibleLog).not.toContain(piece)
  }
}

function expectOneError(run: BundleRun, message: string): void {
  expect(run.code).toBe(1)
  const errors = run.visibleLog.split('\n').filter(line => line.startsWith('::error::'))
  expect(errors).toHaveLength(1)
  expect(errors[0]).toContain(message)
  expect(run.outputs.restarted).toBe('false')
}

describe('the whole pipeline', () => {
  it('deploys, writes the address back, learns the host key from the console and restarts', async () => {
    const run = await runBundle(pipelineInputs(), aws.environment())
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(sshd.calls()).toEqual(RESTARTED)
    expect(aws.secretValue('FastAPIDeploymentSecrets').json).toEqual({
      ...deployment,
      ec2_host: '127.0.0.1'
    })
    expect(run.outputs).toMatchObject({
      restarted: 'true',
      'instance-id': INSTANCE,
      ec2_host: '127.0.0.1'
    })
    expect(run.visibleLog).toContain(
      `Host key fingerprints of ${INSTANCE} from its console output: ${sshd.hostFingerprint}`
    )
    expect(run.visibleLog).toContain(`host key: from the console output of ${INSTANCE}`)
    expect(run.visibleLog).not.toContain('::warning::')
    // The private key is masked line by line, though the action never prints it.
    for (const line of sshd.clientPrivateKey.split('\n').filter(line => line.trim() !== '')) {
      expect(run.masks).toContain(line.trim())
    }
    expect(run.summary).toContain(
      `Restart of <code>fastapi</code> on <code>${SHOWN_ADDRESS}:${sshd.port}</code>: restarted, active (host key ${sshd.hostFingerprint})`
    )
    expect(run.masks).not.toContain(SHOWN_ADDRESS)
    expectNoSecretInLog(run)
  })

  it('logs in as the user in the key named by user-key', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...deployment,
      ec2_host: '127.0.0.1',
      ec2_user: 'nobody-here',
      login_user: sshd.user
    })
    const inputs = pipelineInputs({
      deploy: 'false',
      stack: '',
      'user-key': 'login_user',
      'ssh-host-fingerprint': sshd.hostFingerprint
    })
    const run = await runBundle(inputs, aws.environment())
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(sshd.calls()).toEqual(RESTARTED)
  })

  it('restarts alone with deploy: false, on the address the secret holds and a pinned host key', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_host: '127.0.0.1' })
    const inputs = pipelineInputs({
      deploy: 'false',
      stack: '',
      'ssh-host-fingerprint': sshd.hostFingerprint
    })
    const run = await runBundle(inputs, aws.environment())
    expect(run.code).toBe(0)
    expect(run.visibleLog).toContain('host key: pinned')
    expect(sshd.calls()).toEqual(RESTARTED)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(aws.callsOf('GetConsoleOutput')).toHaveLength(0)
    expectNoSecretInLog(run)
  })

  it("finds the instance behind the secret's address to read its console when nothing is pinned", async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_host: '127.0.0.1' })
    const run = await runBundle(pipelineInputs({ deploy: 'false', stack: '' }), aws.environment())
    expect(run.code).toBe(0)
    // Both views: the Latest one and the buffered one.
    expect(
      aws.callsOf('GetConsoleOutput').map(call => [call.params.InstanceId, call.params.Latest])
    ).toEqual([
      [INSTANCE, 'true'],
      [INSTANCE, undefined]
    ])
  })

  it.each(['cloud-init', 'ec2-syslog', 'ec2', 'journal'] as const)(
    'restarts alone on the host key a console in the %s shape shows',
    async shape => {
      aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_host: '127.0.0.1' })
      aws.addInstance({
        instanceId: INSTANCE,
        publicIp: '127.0.0.1',
        consoleOutput: cloudInitConsole([sshd.hostPublicKey], { shape })
      })
      const run = await runBundle(pipelineInputs({ deploy: 'false', stack: '' }), aws.environment())
      expect(run.visibleLog).not.toContain('::error::')
      expect(run.code).toBe(0)
      expect(run.visibleLog).toContain(
        `Host key fingerprints of ${INSTANCE} from its console output: ${sshd.hostFingerprint} (ED25519)`
      )
      expect(sshd.calls()).toEqual(RESTARTED)
    }
  )

  it('logs in with an encrypted key whose passphrase has spaces at its ends', async () => {
    const passphrase = '  spaced pass phrase  '
    const key = await generateKeyPair({ passphrase })
    const keyed = await startSshd({ authorizedKey: key.publicKey })
    try {
      aws.addInstance({
        instanceId: INSTANCE,
        publicIp: '127.0.0.1',
        consoleOutput: cloudInitConsole([keyed.hostPublicKey])
      })
      const inputs = pipelineInputs({
        'ssh-private-key': key.privateKey,
        'ssh-passphrase': passphrase,
        'ssh-port': String(keyed.port)
      })
      const run = await runBundle(inputs, aws.environment())
      expect(run.visibleLog).not.toContain('::error::')
      expect(run.outputs.restarted).toBe('true')
      expect(keyed.calls()).toEqual(RESTARTED)
      expect(run.visibleLog).not.toContain('spaced pass phrase')
    } finally {
      await keyed.stop()
    }
  })

  it('shows what the health command prints without obeying workflow commands in it', async () => {
    const inputs = pipelineInputs({
      'health-command':
        'echo "::error::from the instance"; echo "::set-output name=restarted::false"; echo healthy'
    })
    const run = await runBundle(inputs, aws.environment())
    expect(run.code).toBe(0)
    expect(run.visibleLog).toContain('::error::from the instance')
    expect(run.visibleLog).toContain('healthy')
    expect(run.outputs.restarted).toBe('true')
    // Shown, but not obeyed: the runner parser follows the runner's own rules.
    expect(
      run.commands.filter(command => /from the instance|set-output/.test(command.line))
    ).toEqual([])
  })

  it('accepts any host key only when told to, with a warning', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '127.0.0.1' })
    const run = await runBundle(
      pipelineInputs({ 'ssh-insecure-skip-host-key-check': 'true' }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(run.visibleLog).toContain(
      `::warning::Not verifying the SSH host key of ${SHOWN_ADDRESS} (ssh-insecure-skip-host-key-check: true)`
    )
    expect(aws.callsOf('GetConsoleOutput')).toHaveLength(0)
  })
})

describe('the pipeline fails loudly', () => {
  it('when the host key matches no pinned fingerprint: nothing runs on the host', async () => {
    const wrong = 'SHA256:' + 'A'.repeat(43)
    const run = await runBundle(
      pipelineInputs({ 'ssh-host-fingerprint': wrong }),
      aws.environment()
    )
    expectOneError(
      run,
      `The host key of ${SHOWN_ADDRESS}:${sshd.port} has fingerprint ${sshd.hostFingerprint}, which matches none in input "ssh-host-fingerprint"`
    )
    expect(sshd.calls()).toEqual([])
  })

  it('when the restart fails, with the unit, the exit code and the remote stderr', async () => {
    await sshd.setBehaviour({
      restartExitCode: 1,
      restartStderr:
        'Job for fastapi.service failed because the control process exited with error code.'
    })
    const run = await runBundle(pipelineInputs(), aws.environment())
    expectOneError(run, `Restarting service "fastapi" on ${SHOWN_ADDRESS}:${sshd.port} failed`)
    expect(run.stdout).toContain(
      '(The deploy itself succeeded: "ec2_host" already holds the new address, version'
    )
    expect(run.stdout).toMatch(
      /exited with code 1\..*Job for fastapi.service failed because the control process exited/
    )
    expectNoSecretInLog(run)
  })

  it('when the unit is not active after the restart', async () => {
    await sshd.setBehaviour({ activeState: 'failed' })
    const run = await runBundle(pipelineInputs(), aws.environment())
    expectOneError(run, `Service "fastapi" on ${SHOWN_ADDRESS}:${sshd.port} is not active`)
    expect(run.stdout).toContain(
      'is not active after the restart: systemctl is-active exited with code 3'
    )
  })

  describe("with a machine in the middle answering at the instance's address", () => {
    // The instance's real sshd, whose host key cloud-init printed, and the attacker's, which
    // answers at the address the action connects to. Both accept the workflow's key, so that
    // whichever the action trusts gets the restart.
    let real: SshdFixture
    let attacker: SshdFixture
    let client: { privateKey: string; publicKey: string }
    beforeAll(async () => {
      client = await generateKeyPair()
      real = await startSshd({ authorizedKey: client.publicKey })
      attacker = await startSshd({ authorizedKey: client.publicKey })
    })
    afterAll(() => Promise.all([real.stop(), attacker.stop()]))
    beforeEach(async () => {
      aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_host: '127.0.0.1' })
      await Promise.all([real.clearCalls(), attacker.clearCalls()])
    })

    function restartAtAttacker(): Promise<BundleRun> {
      const inputs = pipelineInputs({
        deploy: 'false',
        stack: '',
        'ssh-private-key': client.privateKey,
        'ssh-port': String(attacker.port)
      })
      return runBundle(inputs, aws.environment())
    }

    function expectNothingRanAnywhere(): void {
      expect(attacker.calls()).toEqual([])
      expect(attacker.serverLog()).not.toContain('Accepted publickey')
      expect(real.calls()).toEqual([])
    }

    it.each(['cloud-init', 'ec2'] as const)(
      "refuses a BEGIN and the attacker's key with no END printed before cloud-init's block (%s shape)",
      async shape => {
        const genuine = cloudInitConsole([real.hostPublicKey], { shape }).split('\n')
        const frame = genuine.findIndex(line => line.endsWith('#####'))
        const [prefix] = /^.*?(?:cloud-init|ec2): /.exec(genuine[frame]) ?? ['']
        const planted = [
          `${prefix}-----BEGIN SSH HOST KEY FINGERPRINTS-----`,
          `${prefix}${fingerprintEntry(attacker.hostPublicKey)}`
        ]
        aws.addInstance({
          instanceId: INSTANCE,
          publicIp: '127.0.0.1',
          consoleOutput: [...genuine.slice(0, frame), ...planted, ...genuine.slice(frame)].join(
            '\n'
          )
        })

        const run = await restartAtAttacker()

        expectOneError(
          run,
          `The buffered view of the console output of instance ${INSTANCE} holds an unclosed block at line ${frame + 1}`
        )
        expect(run.visibleLog).toContain('Pin the host key with input "ssh-host-fingerprint"')
        expectNothingRanAnywhere()
      }
    )

    it.each(['cloud-init', 'ec2'] as const)(
      'refuses a block of its own that 64 KB of noise leaves alone in the Latest view (%s shape)',
      async shape => {
        const genuine = cloudInitConsole([real.hostPublicKey], { shape })
        const planted = cloudInitConsole([attacker.hostPublicKey], { shape })
        aws.addInstance({
          instanceId: INSTANCE,
          publicIp: '127.0.0.1',
          consoleOutput: genuine,
          latestConsoleOutput: [genuine, ...consoleNoise(70_000), planted].join('\n')
        })

        const run = await restartAtAttacker()

        expectOneError(run, 'the Latest and buffered views disagree')
        expect(run.visibleLog).toContain('Pin the host key with input "ssh-host-fingerprint"')
        expectNothingRanAnywhere()
      }
    )
  })

  it("when the console output holds a planted host key block besides cloud-init's, before connecting", async () => {
    const planted = await generateKeyPair({ comment: 'planted' })
    aws.addInstance({
      instanceId: INSTANCE,
      publicIp: '127.0.0.1',
      consoleOutput: `${cloudInitConsole([planted.publicKey])}\n${cloudInitConsole([sshd.hostPublicKey])}`
    })
    const run = await runBundle(pipelineInputs(), aws.environment())
    expectOneError(
      run,
      `The buffered view of the console output of instance ${INSTANCE} holds two different blocks`
    )
    expect(run.visibleLog).toContain('Pin the host key with input "ssh-host-fingerprint"')
    expect(sshd.calls()).toEqual([])
  })

  it('when the console output has no host key, before connecting', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '127.0.0.1', consoleOutput: 'still booting' })
    const run = await runBundle(pipelineInputs({ 'ssh-connect-timeout': '1' }), aws.environment())
    expectOneError(
      run,
      `The console output of instance ${INSTANCE} showed no SSH host key fingerprints within 1 s`
    )
    expect(sshd.calls()).toEqual([])
  })

  it.each([
    [
      'a hostile unit name',
      { service: 'fastapi; rm -rf ~' },
      'Input "service" must be a systemd unit name'
    ],
    ['no private key', { 'ssh-private-key': '' }, 'Input "ssh-private-key" is empty'],
    [
      'a private key that is not one',
      { 'ssh-private-key': 'not-a-key-at-all' },
      'Input "ssh-private-key" could not be used as an SSH private key'
    ],
    [
      'a host-key that is an output of the action',
      { 'host-key': 'instance-ip' },
      'Input "host-key" is "instance-ip": it must name a key of the deployment secret'
    ],
    [
      'a hostile user name',
      { 'ssh-user': '$(id)' },
      'Input "ssh-user" is not a valid Linux user name'
    ],
    [
      'a bad fingerprint',
      { 'ssh-host-fingerprint': 'MD5:aa:bb' },
      'Input "ssh-host-fingerprint" has "MD5:aa:bb", which is not a SHA256 fingerprint'
    ],
    [
      'a bad port',
      { 'ssh-port': '70000' },
      'Input "ssh-port" must be a whole number from 1 to 65535, not "70000".'
    ]
  ])('before deploying anything, on %s', async (_name, extra, message) => {
    const run = await runBundle(pipelineInputs(extra), aws.environment())
    expectOneError(run, message)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(run.outputs['stack-outputs']).toBeUndefined()
    expect(sshd.calls()).toEqual([])
  })

  it('before deploying anything, on an ec2_user that is not a user name', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_user: 'ec2-user; reboot' })
    const run = await runBundle(pipelineInputs(), aws.environment())
    expectOneError(
      run,
      'Key "ec2_user" of the deployment secret "FastAPIDeploymentSecrets" (input "user-key", used when input "ssh-user" is empty) is not a valid Linux user name'
    )
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
  })

  it('with deploy: false and an address in the secret that is not one', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...deployment, ec2_host: 'http://10.0.0.1/' })
    const run = await runBundle(pipelineInputs({ deploy: 'false', stack: '' }), aws.environment())
    expectOneError(
      run,
      'Key "ec2_host" of the deployment secret "FastAPIDeploymentSecrets" is not an IP address or host name'
    )
  })

  it('with deploy: false and no address in the secret', async () => {
    const run = await runBundle(pipelineInputs({ deploy: 'false', stack: '' }), aws.environment())
    expectOneError(
      run,
      'The deployment secret "FastAPIDeploymentSecrets" has no value for "ec2_host" (input "host-key": the address to restart on when deploy is false)'
    )
  })
})
