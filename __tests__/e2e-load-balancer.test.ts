// A rolling restart behind ELBv2 target groups (input "target-group-arn"), through the bundle as
// the runner runs it, against the local endpoint: its target groups (test-support/elbv2.js)
// record every change of a target's state, and SSM Run Command runs each instance's restart
// through recording stand-ins.
import { join } from 'node:path'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { startSshd, type SshdFixture } from '../test-support/sshd.js'
import { createCdkApp } from './helpers/cdk-app.js'
import { repoRoot, runBundle, type BundleRun } from './helpers/run-bundle.js'

const FLEET = [
  'i-0ccc0000000000001',
  'i-0ccc0000000000002',
  'i-0ccc0000000000003',
  'i-0ccc0000000000004'
]
const privateIp = (i: number) => `10.0.3.${i + 10}`

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
  FLEET.forEach((instanceId, i) => {
    aws.addInstance({ instanceId, publicIp: `203.0.113.${i + 40}`, privateIp: privateIp(i) })
    aws.ssm.addAgent(instanceId)
  })
})
afterEach(() => aws.stop())

function inputs(group: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'false',
    targets: FLEET.join('\n'),
    restart: 'ssm',
    'target-group-arn': group,
    'max-concurrency': '2',
    'healthy-timeout': '5',
    ...extra
  }
}

const errors = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)

describe('target-group-arn, end to end', () => {
  it('restarts a fleet of 4 in batches of 2, never leaving fewer than 2 healthy targets', async () => {
    const group = aws.targetGroups.addGroup({ targets: FLEET, healthyAfterMs: 300 })
    const run = await runBundle(inputs(group, { 'min-healthy': '2' }), aws.environment())
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({ restarted: 'true', 'out-of-service': '[]' })
    // Every transition the group went through: out, drained, back, initial, healthy; per target.
    const counts = aws.targetGroups.healthyCounts(group)
    expect(counts).toHaveLength(FLEET.length * 4)
    expect(Math.min(...counts)).toBe(2)
    expect(counts.at(-1)).toBe(4)
    // One command per batch, each with the batch's instances; each batch out while it restarted.
    const sends = aws.callsOf('SendCommand').map(c => c.params.InstanceIds)
    expect(sends).toEqual([FLEET.slice(0, 2), FLEET.slice(2)])
    for (const id of FLEET)
      expect(aws.ssm.calls(id)[0]).toEqual(['systemctl', 'restart', '--', 'fastapi'])
    expect(run.summary).toContain('<th>drained in</th><th>healthy after</th>')
    expect(run.summary).toContain(`Every instance is back in target group <code>${group}</code>`)
  }, 60_000)

  it('keeps an instance that never becomes healthy out, puts the others back, and fails', async () => {
    const group = aws.targetGroups.addGroup({ targets: FLEET })
    aws.targetGroups.neverHealthy(group, FLEET[1])
    const run = await runBundle(inputs(group, { 'healthy-timeout': '2' }), aws.environment())
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain(`${FLEET[1]} Unhealthy`)
    expect(error).toContain(
      `${FLEET[1]} did not become healthy in its target group within 2 s (input "healthy-timeout")`
    )
    expect(aws.targetGroups.states(group)).toEqual({
      [FLEET[0]]: 'healthy',
      [FLEET[2]]: 'healthy',
      [FLEET[3]]: 'healthy'
    })
    // Beyond max-errors 0: the second batch was not started, and stayed in service.
    expect(aws.callsOf('SendCommand')).toHaveLength(1)
    expect(run.outputs['out-of-service']).toBe(JSON.stringify([FLEET[1]]))
    expect(run.summary).toContain(`<strong>Out of target group <code>${group}</code></strong>`)
  }, 60_000)

  it('registers every instance back when cancelled mid-batch', async () => {
    const group = aws.targetGroups.addGroup({ targets: FLEET })
    for (const id of FLEET) aws.ssm.addAgent(id, { pendingPolls: 1000 })
    let poll: NodeJS.Timeout | undefined
    const run = await runBundle(inputs(group), aws.environment(), {
      onStart: runner => {
        poll = setInterval(() => {
          if (aws.callsOf('SendCommand').length > 0) {
            clearInterval(poll)
            runner.cancel()
          }
        }, 50)
      }
    }).finally(() => clearInterval(poll))
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(errors(run)[0]).toMatch(/^The run was cancelled \(SIGINT\) during the SSM restart/)
    expect(aws.callsOf('DeregisterTargets')).toHaveLength(1)
    expect(Object.keys(aws.targetGroups.states(group)).sort()).toEqual(FLEET)
    expect(run.state.target_groups).toBe('')
  }, 60_000)

  it('matches the targets of an ip group by private address; the instance outside goes first', async () => {
    const group = aws.targetGroups.addGroup({
      targetType: 'ip',
      targets: [privateIp(0), privateIp(1), privateIp(2)]
    })
    const run = await runBundle(inputs(group, { 'max-concurrency': '1' }), aws.environment())
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(aws.callsOf('SendCommand').map(c => c.params.InstanceIds)).toEqual([
      [FLEET[3]],
      [FLEET[0]],
      [FLEET[1]],
      [FLEET[2]]
    ])
    expect(aws.callsOf('DeregisterTargets').map(c => c.params['Targets.member.1.Id'])).toEqual([
      privateIp(0),
      privateIp(1),
      privateIp(2)
    ])
    expect(run.visibleLog).toContain(`Not behind target group ${group}: ${FLEET[3]}`)
  }, 60_000)

  it('with from-stack, restarts behind the target group that the deployed stack names', async () => {
    const group = aws.targetGroups.addGroup({ targets: FLEET })
    const stack = 'FastAPIFleetStack'
    const app = createCdkApp({
      stacks: { [stack]: { outputs: { Web: FLEET.join(','), WebTargetGroupArn: group } } }
    })
    const run = await runBundle(
      {
        stack,
        'working-directory': app.dir,
        'cdk-command': app.command,
        'instance-id-output': 'Web',
        restart: 'ssm',
        'target-group-arn': 'from-stack',
        'max-concurrency': '2'
      },
      aws.environment()
    )
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(aws.callsOf('DeregisterTargets').map(c => c.params.TargetGroupArn)).toEqual([
      group,
      group
    ])
    expect(run.outputs['out-of-service']).toBe('[]')
  }, 60_000)

  it('refuses a group of one target under min-healthy 1 before anything changes', async () => {
    const group = aws.targetGroups.addGroup({ targets: [FLEET[0]] })
    const run = await runBundle(inputs(group, { targets: FLEET[0] }), aws.environment())
    expect(run.code).toBe(1)
    expect(errors(run)).toEqual([
      expect.stringContaining(
        `Target group ${group} has 1 target, all in one batch: restarting ${FLEET[0]} would leave it no healthy target, and min-healthy is 1. ` +
          'Nothing was changed. Set min-healthy: 0 to accept dropping traffic while it restarts'
      )
    ])
    expect(aws.callsOf('DeregisterTargets')).toEqual([])
    expect(aws.callsOf('SendCommand')).toEqual([])
  }, 60_000)

  it('refuses a target-group-arn that is not one, before reading anything', async () => {
    const run = await runBundle(
      inputs('arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/x'),
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(errors(run)).toEqual([
      expect.stringContaining(
        'Input "target-group-arn" has "arn:aws:elasticloadbalancing:us-east-1:123:loadbalancer/app/x", which is not a target group ARN'
      )
    ])
    expect(aws.calls).toEqual([])
  }, 60_000)

  it('leaves the batch of a killed main step to the post step, which registers it back', async () => {
    const group = aws.targetGroups.addGroup({ targets: FLEET })
    for (const id of FLEET) aws.ssm.addAgent(id, { pendingPolls: 1000 })
    let poll: NodeJS.Timeout | undefined
    const run = await runBundle(inputs(group), aws.environment(), {
      onStart: runner => {
        poll = setInterval(() => {
          if (aws.callsOf('SendCommand').length > 0) {
            clearInterval(poll)
            runner.kill('SIGKILL')
          }
        }, 50)
      }
    }).finally(() => clearInterval(poll))
    expect(run.signalsSent).toEqual(['SIGKILL'])
    expect(Object.keys(aws.targetGroups.states(group)).sort()).toEqual(FLEET.slice(2))
    expect(JSON.parse(run.state.target_groups)).toEqual([
      {
        groupArn: group,
        targets: FLEET.slice(0, 2).map(id => ({ id, port: 80 }))
      }
    ])
    const post = await runBundle(
      {},
      { ...aws.environment(), STATE_target_groups: run.state.target_groups },
      { entry: join(repoRoot, 'dist/post.js') }
    )
    expect(post.code).toBe(0)
    expect(post.stdout).toContain(
      `Registered ${FLEET[0]}, ${FLEET[1]} back into target group ${group}, which the main step left out.`
    )
    expect(Object.keys(aws.targetGroups.states(group)).sort()).toEqual(FLEET)
  }, 60_000)

  it('has the post step refuse saved registrations it cannot trust, obeying nothing in them', async () => {
    const state = JSON.stringify([
      { groupArn: '\n::error::owned', targets: [{ id: 'i-0ccc0000000000001', port: 80 }] }
    ])
    const post = await runBundle(
      {},
      { ...aws.environment(), STATE_target_groups: state },
      { entry: join(repoRoot, 'dist/post.js') }
    )
    expect(post.code).toBe(0)
    expect(post.commands.filter(c => c.name === 'error')).toEqual([])
    expect(post.commands.filter(c => c.name === 'warning').map(c => c.data)).toEqual([
      expect.stringContaining('The saved target group registrations could not be read')
    ])
    expect(aws.calls).toEqual([])
  }, 60_000)

  it('has the post step do nothing when the main step left nothing out', async () => {
    const post = await runBundle(
      {},
      { ...aws.environment(), STATE_target_groups: '' },
      { entry: join(repoRoot, 'dist/post.js') }
    )
    expect(post.code).toBe(0)
    expect(post.stdout).toBe('')
    expect(aws.calls).toEqual([])
  }, 60_000)
})

describe('target-group-arn over SSH, end to end', () => {
  let sshd: SshdFixture
  beforeAll(async () => {
    sshd = await startSshd()
  }, 60_000)
  afterAll(() => sshd.stop())

  it('restarts 4 instances over SSH in batches of 2, never leaving fewer than 2 healthy', async () => {
    // The four instances are one OpenSSH server (one address): the group tells them apart.
    for (const instanceId of FLEET) aws.addInstance({ instanceId, publicIp: sshd.host })
    aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ec2_user: sshd.user })
    const group = aws.targetGroups.addGroup({ targets: FLEET, healthyAfterMs: 200 })
    await sshd.clearCalls()
    const run = await runBundle(
      inputs(group, {
        restart: 'ssh',
        'ssh-private-key': sshd.clientPrivateKey,
        'ssh-host-fingerprint': sshd.hostFingerprint,
        'ssh-port': String(sshd.port),
        'min-healthy': '2'
      }),
      aws.environment()
    )
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(Math.min(...aws.targetGroups.healthyCounts(group))).toBe(2)
    expect(
      sshd.calls().filter(call => call[0] === 'systemctl' && call[1] === 'restart')
    ).toHaveLength(4)
    expect(run.outputs).toMatchObject({ restarted: 'true', 'out-of-service': '[]' })
    expect(run.summary).toContain('over SSH: 4 of 4 instances succeeded')
  }, 60_000)
})
