// A cancelled step, end to end: the bundle runs as the runner runs it, and is cancelled as the
// runner cancels (SIGINT to the action's process alone, SIGTERM 7.5 s later, then SIGKILL) during
// each phase. Nothing it started may outlive it, the secret is untouched or fully written, and the
// log holds one error that says where it stopped and what it left.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { startSshd } from '../test-support/sshd.js'
import { createCdkApp, type CdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'
const SECRET = 'FastAPIDeploymentSecrets'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, EXAMPLE_DEPLOYMENT)
})
afterEach(() => aws.stop())

const outputs = { InstanceId: INSTANCE, PublicIp: '203.0.113.7' }

function inputs(app: CdkApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    restart: 'none',
    ...extra
  }
}

/** The ::error:: lines the run printed: a stopped run prints exactly one. */
function errorLines(run: BundleRun): string[] {
  return run.stdout.split('\n').filter(line => line.startsWith('::error'))
}

/** Whether a process runs: a zombie (exited, waiting for its parent to reap it) does not. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'
  } catch {
    return true
  }
}

function expectSecretUntouched(): void {
  expect(aws.secretValue(SECRET).json).toEqual(EXAMPLE_DEPLOYMENT)
  const stages = Object.values(aws.versionStages(SECRET)).flat()
  expect(stages).toEqual(['AWSCURRENT'])
}

describe('a cancelled run', () => {
  it('stops cdk deploy and everything it started, and says the stack may be mid-update', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
    // The CLI dies on SIGINT as Node does by default; the app it started ignores SIGINT and
    // SIGTERM, so only the SIGKILL the action sends the whole group at last ends it.
    const app = createCdkApp({
      stacks: { [STACK]: { outputs } },
      hang: { pidFile: 'pids.json', appIgnores: ['SIGINT', 'SIGTERM'] }
    })
    const run = await runBundle(inputs(app), aws.environment(), {
      cancelWhen: line => line.includes('CREATE_IN_PROGRESS')
    })
    const pids = JSON.parse(readFileSync(join(app.dir, 'pids.json'), 'utf8')) as {
      cli: number
      app: number
    }
    expect(running(pids.cli)).toBe(false)
    expect(running(pids.app)).toBe(false)
    expect(readFileSync(join(app.dir, 'app-signals.log'), 'utf8')).toBe('SIGINT\nSIGTERM\n')

    expect(run.code).toBe(1)
    // Done before the runner's SIGTERM: the action needed no more than its SIGINT.
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(errorLines(run)).toEqual([
      expect.stringMatching(
        /^::error::The run was cancelled \(SIGINT\) during cdk deploy of stack "FastAPIEC2Stack-Staging": the CDK CLI and everything it started were stopped .*the stack may be mid-update.*nothing was written back or restarted\.$/
      )
    ])
    expect(run.visibleLog).toContain('Received SIGINT: stopping at the next safe point.')
    expect(run.summary).toContain('The run was cancelled (SIGINT) during cdk deploy of stack')
    // The pause around the CLI's output was lifted: the runner obeys the action's own error.
    expect(run.commands.filter(command => command.name === 'error')).toEqual([
      expect.objectContaining({ data: expect.stringContaining('The run was cancelled (SIGINT)') })
    ])
    expectSecretUntouched()
    expect(aws.callsOf('DescribeInstances')).toHaveLength(0)
  }, 30_000)

  it('stops cdk diff (deploy: diff) and everything it started, and says nothing was changed', async () => {
    const app = createCdkApp({
      stacks: { [STACK]: {} },
      diff: 'replacement',
      hang: { pidFile: 'pids.json' }
    })
    const run = await runBundle(inputs(app, { deploy: 'diff' }), aws.environment(), {
      cancelWhen: line => line.includes('waiting on the app')
    })
    const pids = JSON.parse(readFileSync(join(app.dir, 'pids.json'), 'utf8')) as {
      cli: number
      app: number
    }
    expect(running(pids.cli)).toBe(false)
    expect(running(pids.app)).toBe(false)
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(errorLines(run)).toEqual([
      '::error::The run was cancelled (SIGINT) during cdk diff of stack "FastAPIEC2Stack-Staging": the CDK CLI and ' +
        'everything it started were stopped; cdk diff changes nothing: nothing was deployed, written back or restarted.'
    ])
    expect(run.outputs).not.toHaveProperty('changes')
    expectSecretUntouched()
  }, 30_000)

  it('sends the group SIGTERM at once when SIGTERM is the first signal the action gets', async () => {
    const app = createCdkApp({
      stacks: { [STACK]: { outputs } },
      hang: { pidFile: 'pids.json' }
    })
    let kill: (signal: NodeJS.Signals) => void = () => {}
    const run = await runBundle(inputs(app), aws.environment(), {
      onStart: runner => (kill = runner.kill),
      onLogLine: line => {
        if (line.includes('CREATE_IN_PROGRESS')) kill('SIGTERM')
      }
    })
    const pids = JSON.parse(readFileSync(join(app.dir, 'pids.json'), 'utf8')) as {
      cli: number
      app: number
    }
    expect(running(pids.cli)).toBe(false)
    expect(running(pids.app)).toBe(false)
    expect(readFileSync(join(app.dir, 'app-signals.log'), 'utf8')).toBe('SIGTERM\n')
    expect(run.code).toBe(1)
    expect(errorLines(run)).toEqual([
      expect.stringContaining(
        'The run was cancelled (SIGTERM) during cdk deploy of stack "FastAPIEC2Stack-Staging"'
      )
    ])
    expectSecretUntouched()
  }, 30_000)

  it('stops cdk deploy the same way when input deploy-timeout runs out', async () => {
    const app = createCdkApp({
      stacks: { [STACK]: { outputs } },
      hang: { pidFile: 'pids.json' }
    })
    const run = await runBundle(inputs(app, { 'deploy-timeout': '2' }), aws.environment())
    const pids = JSON.parse(readFileSync(join(app.dir, 'pids.json'), 'utf8')) as {
      cli: number
      app: number
    }
    expect(running(pids.cli)).toBe(false)
    expect(running(pids.app)).toBe(false)
    expect(readFileSync(join(app.dir, 'app-signals.log'), 'utf8')).toBe('SIGINT\n')
    expect(run.code).toBe(1)
    expect(errorLines(run)).toEqual([
      expect.stringContaining(
        'The run was stopped after 2 s (input "deploy-timeout") during cdk deploy of stack "FastAPIEC2Stack-Staging"'
      )
    ])
    expectSecretUntouched()
  }, 30_000)

  it('refuses a deploy-timeout that is not a number of seconds', async () => {
    const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
    const run = await runBundle(inputs(app, { 'deploy-timeout': '10m' }), aws.environment())
    expect(run.code).toBe(1)
    expect(errorLines(run)).toEqual([
      '::error::Input "deploy-timeout" must be a whole number from 1 to 21600, not "10m".'
    ])
    expect(app.invocations()).toHaveLength(0)
    expectSecretUntouched()
  })

  it('stops the wait for the instance, with nothing written back', async () => {
    aws.addInstance({ instanceId: INSTANCE, state: 'pending' })
    const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
    const run = await runBundle(inputs(app), aws.environment(), {
      cancelWhen: line => line.includes(`Instance ${INSTANCE} is pending; waiting.`)
    })
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(errorLines(run)).toEqual([
      '::error::The run was cancelled (SIGINT) during the wait for the instance: the stack was deployed; ' +
        'its address was not written back and nothing was restarted.'
    ])
    expectSecretUntouched()
  }, 30_000)

  it('finishes a write-back that has put its version, and says so', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
    const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
    const received = signalReceived()
    let cancel = () => {}
    // The signal arrives while the new version is being put, before the swap.
    aws.before('PutSecretValue', async () => {
      cancel()
      await received.promise
    })
    const run = await runBundle(inputs(app), aws.environment(), {
      onStart: runner => (cancel = runner.cancel),
      onLogLine: received.watch
    })
    expect(run.code).toBe(1)
    const current = aws.secretValue(SECRET)
    expect(current.json).toEqual({ ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.7' })
    // No label of the write-back is left behind.
    expect(Object.values(aws.versionStages(SECRET)).flat().sort()).toEqual([
      'AWSCURRENT',
      'AWSPREVIOUS'
    ])
    expect(errorLines(run)).toEqual([
      `::error::The run was cancelled (SIGINT) after every phase had finished: "ec2_host" holds the new address (version ${current.versionId}).`
    ])
  }, 30_000)

  it('gives up its version when a concurrent edit refuses the swap, leaving that edit current', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
    const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
    const received = signalReceived()
    let cancel = () => {}
    let edited = false
    // While the swap is on its way, someone edits the secret and the step is cancelled.
    aws.before('UpdateSecretVersionStage', async params => {
      if (edited || params.VersionStage !== 'AWSCURRENT') return
      edited = true
      aws.putSecret(SECRET, {
        ...EXAMPLE_DEPLOYMENT,
        github_repo: 'https://example.test/moved.git'
      })
      cancel()
      await received.promise
    })
    const run = await runBundle(inputs(app), aws.environment(), {
      onStart: runner => (cancel = runner.cancel),
      onLogLine: received.watch
    })
    expect(run.code).toBe(1)
    expect(aws.secretValue(SECRET).json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      github_repo: 'https://example.test/moved.git'
    })
    const stages = Object.values(aws.versionStages(SECRET)).flat()
    expect(stages).not.toContain('SECRETS-DEPLOY-PENDING')
    expect(stages.filter(stage => stage === 'AWSCURRENT')).toHaveLength(1)
    expect(errorLines(run)).toEqual([
      expect.stringMatching(
        /^::error::The run was cancelled \(SIGINT\) during the write-back of the address: another writer changed the deployment secret "FastAPIDeploymentSecrets" during the write, so this run's version \S+ was given up \(never current, its label removed\): it did not set "ec2_host"\.$/
      )
    ])
  }, 30_000)
})

describe('a run cancelled during the SSH restart', () => {
  it('closes the connection and reports the remote fate as unknown', async () => {
    const sshd = await startSshd()
    try {
      await sshd.setBehaviour({ hangOn: 'restart' })
      aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_user: sshd.user })
      aws.addInstance({
        instanceId: INSTANCE,
        publicIp: '127.0.0.1',
        consoleOutput: cloudInitConsole([sshd.hostPublicKey])
      })
      const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
      const run = await runBundle(
        inputs(app, {
          restart: 'ssh',
          'ssh-private-key': sshd.clientPrivateKey,
          'ssh-port': String(sshd.port),
          'ssh-command-timeout': '60'
        }),
        aws.environment(),
        { cancelWhen: line => line.includes('hanging') }
      )
      expect(run.code).toBe(1)
      expect(run.signalsSent).toEqual(['SIGINT'])
      const current = aws.secretValue(SECRET)
      expect(current.json).toEqual({
        ...EXAMPLE_DEPLOYMENT,
        ec2_user: sshd.user,
        ec2_host: '127.0.0.1'
      })
      expect(errorLines(run)).toEqual([
        `::error::The run was cancelled (SIGINT) during the SSH restart: "ec2_host" holds the new address (version ${current.versionId}); ` +
          'the connection to the instance was closed: whether the restart ran there is unknown, check the service.'
      ])
      expect(run.summary).toContain('unknown: the run was stopped and the connection closed')
      expect(run.outputs.restarted).toBe('false')
      // The action ended the connection itself (an SSH disconnect), before its process exited:
      // in OpenSSH's words (the embedded server does not log disconnects).
      if (sshd.server === 'openssh') expect(sshd.serverLog()).toContain('Received disconnect')
    } finally {
      await sshd.stop()
    }
  }, 60_000)
})

describe('a run cancelled during the SSM restart, with more than 50 instances', () => {
  // 60 instances go out as two commands: SSM takes at most 50 instance ids in one SendCommand.
  const fleet = Array.from({ length: 60 }, (_, i) => `i-0ccc${String(i).padStart(13, '0')}`)
  const ssmInputs = {
    deploy: 'false',
    targets: 'tag:role=web',
    restart: 'ssm',
    'max-concurrency': '100%'
  }

  /** The commands the endpoint accepted, in the order they were sent. */
  const sentCommandIds = () => [...aws.ssm.commands.keys()]

  function addFleet(behaviour: { pendingPolls?: number } = {}): void {
    fleet.forEach((instanceId, i) => {
      aws.addInstance({ instanceId, publicIp: `198.51.100.${i + 1}`, tags: { role: 'web' } })
      aws.ssm.addAgent(instanceId, behaviour)
    })
  }

  it('between the two SendCommands: cancels the first, sends no second, and says so', async () => {
    addFleet()
    const received = signalReceived()
    let cancel = () => {}
    // The step is cancelled while the first command is on its way; the endpoint takes it.
    aws.before('SendCommand', async () => {
      if (aws.callsOf('SendCommand').length > 1) return
      cancel()
      await received.promise
    })
    const run = await runBundle(ssmInputs, aws.environment(), {
      onStart: runner => (cancel = runner.cancel),
      onLogLine: received.watch
    })
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    const [first, ...others] = sentCommandIds()
    expect(others).toEqual([])
    expect(errorLines(run)).toEqual([
      '::error::The run was cancelled (SIGINT) during the SSM restart: the deployment secret was not changed; ' +
        `sent command ${first} to 50 of the 60 instances; sent CancelCommand for command ${first}; ` +
        'nothing was sent to the other 10; instances that had already restarted stay restarted.'
    ])
    expect(aws.callsOf('CancelCommand').map(call => call.params.CommandId)).toEqual([first])
    // The second batch was never sent: nothing ran there.
    for (const id of fleet.slice(50)) expect(aws.ssm.calls(id)).toEqual([])
    expect(run.outputs.restarted).toBe('false')
    expect(run.summary).toContain('The run was cancelled (SIGINT) during the SSM restart')
  }, 60_000)

  it('while waiting for the instances: cancels every command sent, and says so', async () => {
    // Every invocation stays Pending: the run is cancelled while it waits for them.
    addFleet({ pendingPolls: 1_000_000 })
    const run = await runBundle(ssmInputs, aws.environment(), {
      cancelWhen: line => line.includes('0 of 60 instances finished; waiting.')
    })
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    const sent = sentCommandIds()
    expect(sent).toHaveLength(2)
    expect(errorLines(run)).toEqual([
      '::error::The run was cancelled (SIGINT) during the SSM restart: the deployment secret was not changed; ' +
        `sent CancelCommand for command ${sent.join(', ')}; instances that had already restarted stay restarted.`
    ])
    expect(aws.callsOf('CancelCommand').map(call => call.params.CommandId)).toEqual(sent)
    expect(fleet.every(id => aws.ssm.calls(id).length === 0)).toBe(true)
    expect(run.outputs.restarted).toBe('false')
  }, 60_000)

  it('before anything is sent: says that nothing was sent', async () => {
    addFleet()
    // The agents register late: the run is cancelled while it waits for them.
    for (const id of fleet) aws.ssm.setBehaviour(id, { registerAfterPolls: 1_000_000 })
    const run = await runBundle(ssmInputs, aws.environment(), {
      cancelWhen: line => line.includes('Waiting for the SSM agent of 60 instances')
    })
    expect(run.code).toBe(1)
    expect(errorLines(run)).toEqual([
      '::error::The run was cancelled (SIGINT) during the SSM restart: the deployment secret was not changed; nothing was sent.'
    ])
    expect(aws.callsOf('SendCommand')).toEqual([])
    expect(aws.callsOf('CancelCommand')).toEqual([])
  }, 60_000)
})

/** Resolves once the action logs that it received the signal: it is then known to be stopping. */
function signalReceived(): { promise: Promise<void>; watch: (line: string) => void } {
  let resolve = () => {}
  const promise = new Promise<void>(r => (resolve = r))
  return {
    promise,
    watch: line => {
      if (line.includes('Received SIGINT')) resolve()
    }
  }
}
