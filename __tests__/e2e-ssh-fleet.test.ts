// restart: ssh with several instances, through the bundle as the runner runs it: a three-instance
// stack whose instances are three OpenSSH servers (test-support/sshd.js), one port shared, each on
// its own loopback address, with its own host key printed to its own console output.
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { loopbackAliasesWork, startSshdFleet, type SshdFixture } from '../test-support/sshd.js'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const FLEET = ['i-0aaa0000000000001', 'i-0aaa0000000000002', 'i-0aaa0000000000003']
const SECRET = 'FastAPIDeploymentSecrets'
const RESTART = ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi']

let servers: SshdFixture[] = []
let aws: LocalAws

// Each instance is a server on its own loopback address (the action's "ssh-port" is one for the
// fleet); where only 127.0.0.1 exists (macOS without aliases), there is nothing to run this on.
const aliases = await loopbackAliasesWork(3)
if (!aliases)
  console.log('restart: ssh fleet tests skipped: 127.0.0.2 and 127.0.0.3 cannot be used here')
const describeFleet = aliases ? describe : describe.skip

beforeAll(async () => {
  if (aliases) servers = await startSshdFleet(3)
}, 60_000)
afterAll(() => Promise.all(servers.map(server => server.stop())))

beforeEach(async () => {
  for (const server of servers) {
    await server.clearCalls()
    await server.setBehaviour({})
  }
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_user: servers[0].user })
  FLEET.forEach((instanceId, i) =>
    aws.addInstance({
      instanceId,
      publicIp: servers[i].host,
      consoleOutput: cloudInitConsole([servers[i].hostPublicKey])
    })
  )
})
afterEach(() => aws.stop())

function stackInputs(extra: Record<string, string> = {}): Record<string, string> {
  const app = createCdkApp({ stacks: { [STACK]: { outputs: { Web: FLEET.join(',') } } } })
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    'instance-id-output': 'Web',
    'mask-exclude': 'ec2_host',
    restart: 'ssh',
    'ssh-private-key': servers[0].clientPrivateKey,
    'ssh-port': String(servers[0].port),
    'max-concurrency': '100%',
    ...extra
  }
}

const where = (i: number) => `${servers[i].host}:${servers[i].port}`

/** The lines of each log group, by its title. */
function groups(run: BundleRun): Map<string, string[]> {
  const found = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('::group::')) found.set(line.slice(9), (current = []))
    else if (line === '::endgroup::') current = undefined
    else current?.push(line)
  }
  return found
}

function errors(run: BundleRun): string[] {
  return run.commands.filter(c => c.name === 'error').map(c => c.data)
}

describeFleet('restart: ssh with several instances, end to end', () => {
  it("restarts every instance of a three-instance stack, each checked against its own console's host key", async () => {
    const run = await runBundle(stackInputs(), aws.environment())
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    const addresses = servers.map(server => server.host)
    expect(run.outputs).toMatchObject({
      'instance-ids': JSON.stringify(FLEET),
      'instance-ips': JSON.stringify(addresses),
      ec2_host: addresses.join(','),
      restarted: 'true'
    })
    for (const server of servers) expect(server.calls()[0]).toEqual(RESTART)
    expect(run.visibleLog).toContain('host key: from the console output of each instance')
    expect(aws.callsOf('GetConsoleOutput').map(c => c.params.InstanceId)).toEqual(
      expect.arrayContaining(FLEET)
    )
    // One group per instance, holding that instance's commands and nothing of the others'.
    const byTitle = [...groups(run)].filter(([title]) => title.startsWith('i-'))
    expect(byTitle).toHaveLength(3)
    FLEET.forEach((id, i) => {
      const group = byTitle.find(([title]) => title.startsWith(`${id} (${where(i)}): `))
      expect(group?.[0]).toMatch(/: Success, exit code 0, [0-9.]+ s$/)
      const text = group?.[1].join('\n') ?? ''
      expect(text).toContain(`${where(i)}$ timeout`)
      for (const other of [0, 1, 2].filter(j => j !== i)) expect(text).not.toContain(where(other))
      expect(run.summary).toContain(`<td><code>${id}</code></td><td>Success</td><td>0</td>`)
    })
    expect(run.summary).toContain('over SSH: 3 of 3 instances succeeded')
    expect(run.visibleLog).toContain('Restarted "fastapi" on 3 instances over SSH.')
  }, 60_000)

  describe('one instance failing', () => {
    beforeEach(() =>
      servers[1].setBehaviour({
        restartExitCode: 1,
        restartStderr: 'Job for fastapi.service failed. ::warning::not from the action'
      })
    )

    it('fails the step under max-errors 0, naming the instance', async () => {
      const run = await runBundle(stackInputs({ 'max-errors': '0' }), aws.environment())
      expect(run.code).toBe(1)
      const [error, ...more] = errors(run)
      expect(more).toEqual([])
      expect(error).toContain(
        'Restarting "fastapi" did not succeed on 1 of 3 instances, more than max-errors 0 allows (0): ' +
          `${FLEET[1]} Failed.`
      )
      expect(error).toContain(`${FLEET[1]}: Restarting service "fastapi" on ${where(1)} failed`)
      expect(error).toContain('Job for fastapi.service failed.')
      // The instance's words are shown, and none of its workflow commands is obeyed.
      expect(run.commands.filter(c => c.name === 'warning')).toEqual([])
      expect(run.outputs.restarted).toBe('false')
      expect(run.summary).toContain(`<td><code>${FLEET[1]}</code></td><td>Failed</td><td>1</td>`)
    }, 60_000)

    it('passes under max-errors 1, reporting the failure, with restarted false', async () => {
      const run = await runBundle(stackInputs({ 'max-errors': '1' }), aws.environment())
      expect(errors(run)).toEqual([])
      expect(run.code).toBe(0)
      const warnings = run.commands.filter(c => c.name === 'warning').map(c => c.data)
      expect(warnings).toEqual([
        `1 of 3 instances did not restart (${FLEET[1]} Failed); within max-errors 1, so the step passes, with restarted false.`
      ])
      expect(run.outputs.restarted).toBe('false')
      expect(servers[2].calls()).toHaveLength(3)
      expect([...groups(run).keys()].find(title => title.startsWith(FLEET[1]))).toMatch(
        /: Failed, exit code 1, /
      )
    }, 60_000)

    it('starts no further instance once max-errors is exceeded, one at a time', async () => {
      await servers[0].setBehaviour({ restartExitCode: 1 })
      const run = await runBundle(
        stackInputs({ 'max-concurrency': '1', 'max-errors': '0' }),
        aws.environment()
      )
      expect(run.code).toBe(1)
      expect(errors(run)[0]).toContain(
        `${FLEET[0]} Failed, ${FLEET[1]} NotStarted, ${FLEET[2]} NotStarted.`
      )
      expect(servers[1].calls()).toEqual([])
      expect(servers[2].calls()).toEqual([])
    }, 60_000)
  })

  it('names the instance whose host key matches none its console printed, and runs nothing there', async () => {
    // The second instance's console shows the first one's key: whoever answers there is refused.
    aws.addInstance({
      instanceId: FLEET[1],
      publicIp: servers[1].host,
      consoleOutput: cloudInitConsole([servers[0].hostPublicKey])
    })
    const logBefore = servers[1].serverLog().length
    const run = await runBundle(stackInputs(), aws.environment())
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain(`${FLEET[1]} NotConnected`)
    expect(error).toContain(
      `${FLEET[1]}: The host key of ${where(1)} has fingerprint ${servers[1].hostFingerprint}, ` +
        `which matches no key of its type that cloud-init printed to the console output of ${FLEET[1]}`
    )
    // Refused before logging in: nothing ran there.
    expect(servers[1].calls()).toEqual([])
    expect(servers[1].serverLog().slice(logBefore)).not.toContain('Accepted publickey')
  }, 60_000)

  it('with a pinned fingerprint, refuses the instances whose key is not pinned', async () => {
    const run = await runBundle(
      stackInputs({
        'ssh-host-fingerprint': [servers[0].hostFingerprint, servers[2].hostFingerprint].join('\n'),
        'max-errors': '1'
      }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(run.commands.filter(c => c.name === 'warning').map(c => c.data)).toEqual([
      `1 of 3 instances did not restart (${FLEET[1]} NotConnected); within max-errors 1, so the step passes, with restarted false.`
    ])
    expect(aws.callsOf('GetConsoleOutput')).toEqual([])
    expect(servers[1].calls()).toEqual([])
    expect(servers[0].calls()).toHaveLength(3)
  }, 60_000)

  it('reports a target without an address as not connected, and restarts the others', async () => {
    aws.addInstance({ instanceId: FLEET[2] })
    const run = await runBundle(
      {
        deploy: 'false',
        targets: FLEET.join('\n'),
        restart: 'ssh',
        'ssh-private-key': servers[0].clientPrivateKey,
        'ssh-port': String(servers[0].port),
        'max-concurrency': '2',
        'max-errors': '1'
      },
      aws.environment()
    )
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.commands.filter(c => c.name === 'warning').map(c => c.data)).toEqual([
      `1 of 3 instances did not restart (${FLEET[2]} NotConnected); within max-errors 1, so the step passes, with restarted false.`
    ])
    expect(run.stdout).toContain(
      `Instance ${FLEET[2]} has no public address (input "address-type"), so it cannot be reached over SSH.`
    )
    expect(servers[0].calls()).toHaveLength(3)
    expect(servers[1].calls()).toHaveLength(3)
    expect(run.outputs.restarted).toBe('false')
  }, 60_000)

  it('closes every connection when cancelled, and reports their fate as unknown', async () => {
    for (const server of servers) await server.setBehaviour({ hangOn: 'restart' })
    const logsBefore = servers.map(server => server.serverLog().length)
    let cancel = () => {}
    let poll: NodeJS.Timeout | undefined
    const run = await runBundle(stackInputs({ 'ssh-command-timeout': '60' }), aws.environment(), {
      onStart: runner => {
        cancel = runner.cancel
        // Cancelled once every instance runs its restart.
        poll = setInterval(() => {
          if (servers.every(s => s.calls().some(call => call[0] === 'systemctl'))) {
            clearInterval(poll)
            cancel()
          }
        }, 50)
      }
    }).finally(() => clearInterval(poll))
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(errors(run)).toEqual([
      expect.stringMatching(
        /^The run was cancelled \(SIGINT\) during the SSH restart: .*the connections to the instances were closed: whether the restart ran on those it had started is unknown/
      )
    ])
    for (const id of FLEET)
      expect(run.summary).toContain(`<td><code>${id}</code></td><td>Unknown</td><td>-</td>`)
    expect(run.outputs.restarted).toBe('false')
    // Each connection was ended by the action (an SSH disconnect), not dropped by its exit: in
    // OpenSSH's words (the embedded server does not log disconnects).
    for (const [i, server] of servers.entries())
      if (server.server === 'openssh')
        expect(server.serverLog().slice(logsBefore[i])).toContain('Received disconnect')
  }, 60_000)
})
