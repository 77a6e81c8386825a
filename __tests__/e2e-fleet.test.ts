// Fleets through the bundle as the runner runs it: every instance of a stack, or the instances of
// input "targets", restarted with restart: ssm on the local endpoint, which runs each instance's
// command through /bin/sh with recording stand-ins.
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const FLEET = ['i-0aaa0000000000001', 'i-0aaa0000000000002', 'i-0aaa0000000000003']
const address = (i: number) => `203.0.113.${i + 1}`

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
})
afterEach(() => aws.stop())

function addFleet(ids: string[], tags: Record<string, string> = {}) {
  ids.forEach((instanceId, i) => {
    aws.addInstance({
      instanceId,
      publicIp: address(i),
      privateIp: `10.0.${i >> 8}.${i & 255}`,
      tags
    })
    aws.ssm.addAgent(instanceId)
  })
}

function stackInputs(extra: Record<string, string> = {}): Record<string, string> {
  const app = createCdkApp({
    // Listed out of order, and one of them twice: the action sorts and removes duplicates.
    stacks: {
      [STACK]: { outputs: { Web: `${FLEET[2]},${FLEET[0]}, ${FLEET[1]}`, Other: FLEET[0] } }
    }
  })
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    'instance-id-output': 'Web',
    restart: 'ssm',
    'max-concurrency': '100%',
    ...extra
  }
}

describe('restart: ssm, end to end', () => {
  it('restarts every instance of a three-instance stack and reports each', async () => {
    addFleet(FLEET, { 'aws:cloudformation:stack-name': STACK })
    const run = await runBundle(stackInputs({ 'mask-exclude': 'ec2_host' }), aws.environment())
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)

    const addresses = FLEET.map((_, i) => address(i))
    expect(run.outputs).toMatchObject({
      'instance-id': FLEET[0],
      'instance-ip': addresses[0],
      'instance-ids': JSON.stringify(FLEET),
      'instance-ips': JSON.stringify(addresses),
      ec2_host: addresses.join(','),
      restarted: 'true'
    })
    expect(aws.secretValue('FastAPIDeploymentSecrets').json.ec2_host).toBe(addresses.join(','))

    const sends = aws.callsOf('SendCommand')
    expect(sends).toHaveLength(1)
    expect(run.outputs['command-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(sends[0].params).toMatchObject({ InstanceIds: FLEET, MaxConcurrency: '100%' })
    for (const id of FLEET) {
      expect(aws.ssm.calls(id)).toEqual([
        ['systemctl', 'restart', '--', 'fastapi'],
        ['systemctl', 'is-active', '--', 'fastapi']
      ])
      expect(run.stdout).toMatch(new RegExp(`::group::${id}: Success, exit code 0, [0-9.]+ s`))
    }
    for (const id of FLEET)
      expect(run.summary).toContain(`<td><code>${id}</code></td><td>Success</td><td>0</td>`)
    // No request per instance per poll: one page answers all three.
    const lists = aws.callsOf('ListCommandInvocations')
    expect(lists.every(call => call.params.InstanceId === undefined)).toBe(true)
  })

  describe('one instance failing', () => {
    beforeEach(() => {
      addFleet(FLEET, { 'aws:cloudformation:stack-name': STACK })
      aws.ssm.setBehaviour(FLEET[1], {
        outcome: 'failure',
        stderr: 'Job for fastapi.service failed. ::warning::not from the action'
      })
    })

    it('fails the step under max-errors 0, naming the instance and its status', async () => {
      const run = await runBundle(stackInputs({ 'max-errors': '0' }), aws.environment())
      expect(run.code).toBe(1)
      const errors = run.commands.filter(c => c.name === 'error')
      expect(errors).toHaveLength(1)
      expect(errors[0].data).toContain(`${FLEET[1]} Failed`)
      expect(errors[0].data).toContain('Job for fastapi.service failed.')
      // What the instance printed is shown, and none of its workflow commands is obeyed.
      expect(run.commands.filter(c => c.name === 'warning')).toEqual([])
      expect(run.outputs.restarted).toBe('false')
      expect(run.summary).toContain(`<td><code>${FLEET[1]}</code></td><td>Failed</td><td>1</td>`)
    })

    it('passes under max-errors 1, reporting the failure, with restarted false', async () => {
      const run = await runBundle(stackInputs({ 'max-errors': '1' }), aws.environment())
      expect(run.code).toBe(0)
      expect(run.commands.filter(c => c.name === 'error')).toEqual([])
      const warnings = run.commands.filter(c => c.name === 'warning')
      expect(warnings).toHaveLength(1)
      expect(warnings[0].data).toContain(`1 of 3 instances did not restart (${FLEET[1]} Failed)`)
      expect(run.outputs.restarted).toBe('false')
      expect(aws.ssm.calls(FLEET[2])).toHaveLength(2)
    })
  })

  it('restarts 200 instances named by a tag in input "targets"', async () => {
    const fleet = Array.from({ length: 200 }, (_, i) => `i-0bbb${String(i).padStart(13, '0')}`)
    addFleet(fleet, { role: 'web' })
    const run = await runBundle(
      { deploy: 'false', targets: 'tag:role=web', restart: 'ssm', 'max-concurrency': '50%' },
      aws.environment()
    )
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(JSON.parse(run.outputs['instance-ids'])).toEqual(fleet)
    expect(run.outputs['command-id'].split(',')).toHaveLength(4)
    expect(run.outputs.restarted).toBe('true')
    expect(fleet.every(id => aws.ssm.calls(id).length === 2)).toBe(true)
    // The secret is not touched without a deploy.
    expect(aws.callsOf('PutSecretValue')).toEqual([])
  }, 120_000)

  it('fails naming an instance whose agent never registers, and what it needs', async () => {
    addFleet(FLEET.slice(0, 2))
    aws.ssm.setBehaviour(FLEET[1], { agent: 'never' })
    const run = await runBundle(
      {
        deploy: 'false',
        targets: FLEET.slice(0, 2).join('\n'),
        restart: 'ssm',
        'ssm-timeout': '30'
      },
      aws.environment()
    )
    expect(run.code).toBe(1)
    const errors = run.commands.filter(c => c.name === 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0].data).toContain(
      `Instance ${FLEET[1]} (not registered) is not an Online managed instance in SSM`
    )
    expect(errors[0].data).toContain('AmazonSSMManagedInstanceCore')
    expect(aws.callsOf('SendCommand')).toEqual([])
  }, 90_000)

  it('restarts the one instance at the address the secret holds, as today but over SSM', async () => {
    addFleet(FLEET)
    aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ec2_host: address(1) })
    const run = await runBundle(
      { deploy: 'false', restart: 'ssm', 'health-command': 'echo "service is healthy"' },
      aws.environment()
    )
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(aws.callsOf('SendCommand')[0].params).toMatchObject({ InstanceIds: [FLEET[1]] })
    // After the restart and its check, only on failure: the unit's status and journal
    // (input "failure-logs", ssm.test.ts).
    const [command] = (aws.callsOf('SendCommand')[0].params.Parameters as { commands: string[] })
      .commands
    expect(
      command.startsWith(
        `systemctl restart -- fastapi && sh -c 'echo "service is healthy"' || { s=$?; `
      )
    ).toBe(true)
    expect(run.visibleLog).toContain('service is healthy')
    expect(run.outputs).toMatchObject({ 'instance-ip': address(1), restarted: 'true' })
  })

  it('refuses input "targets" with deploy: true, before anything happens', async () => {
    const run = await runBundle(stackInputs({ targets: FLEET[0] }), aws.environment())
    expect(run.code).toBe(1)
    expect(run.commands.filter(c => c.name === 'error')[0]?.data).toContain(
      'Input "targets" is for deploy: false'
    )
    expect(aws.calls).toEqual([])
  })

  it('refuses a max-concurrency SSM would not take', async () => {
    const run = await runBundle(stackInputs({ 'max-concurrency': '0' }), aws.environment())
    expect(run.code).toBe(1)
    expect(run.commands.filter(c => c.name === 'error')[0]?.data).toContain(
      'Input "max-concurrency" must be a number of instances (1 to 999) or a percentage'
    )
  })
})
