// The traffic gate (src/restart/traffic-gate.ts) in this process, with the real ELBv2 client over
// HTTP against the local endpoint's target groups (test-support/elbv2.js).
import { TrafficGate, TRAFFIC_STATE, type TrafficSettings } from '../src/restart/traffic-gate.js'
import { ActionError } from '../src/lib/errors.js'
import { ec2For, elbv2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { recordingLogger, recordingOutputs } from './helpers/recording-logger.js'

const FLEET = [
  'i-0bbb0000000000001',
  'i-0bbb0000000000002',
  'i-0bbb0000000000003',
  'i-0bbb0000000000004'
]

// The ELBv2 API Reference's sample response of DescribeTargetHealth (API_DescribeTargetHealth,
// "Examples", Query API version 2015-12-01): the shape the stand-in answers in.
const REFERENCE_SAMPLE = `<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <HealthCheckPort>80</HealthCheckPort>
        <TargetHealth>
          <State>healthy</State>
        </TargetHealth>
        <Target>
          <Port>80</Port>
          <Id>i-0376fadf</Id>
        </Target>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
  <ResponseMetadata>
    <RequestId>c534f810-f389-11e5-9192-3fff33344cfa</RequestId>
  </ResponseMetadata>
</DescribeTargetHealthResponse>`

let aws: LocalAws
beforeEach(async () => {
  aws = await startLocalAws()
})
afterEach(() => aws.stop())

const saved = new Map<string, string>()

function settings(groupArns: string[], extra: Partial<TrafficSettings> = {}): TrafficSettings {
  const elb = elbv2For(aws)
  const ec2 = ec2For(aws)
  return {
    groupArns,
    healthyTimeoutSeconds: 5,
    minHealthy: 1,
    elbv2: async () => elb,
    ec2: async () => ec2,
    state: { save: (name, value) => void saved.set(name, value) },
    ...extra
  }
}

function deps(signal?: AbortSignal) {
  return {
    log: recordingLogger(),
    outputs: recordingOutputs(),
    sleep: (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms)),
    signal
  }
}

/** The element names of an XML text, in order: its shape without its values. */
const shape = (text: string) => [...text.matchAll(/<\/?([A-Za-z]+)/g)].map(m => m[0]).join(' ')

/** Runs every batch, recording what each one held; those in `failing` fail. */
function work(batches: string[][], failing: string[] = []) {
  const unhealthy: [string, string][] = []
  return {
    unhealthyCalls: unhealthy,
    keyOf: (id: string) => id,
    mayGoOn: () => true,
    async run(batch: string[]) {
      batches.push(batch)
      return new Set(batch.filter(id => failing.includes(id)))
    },
    unhealthy: (key: string, message: string) => void unhealthy.push([key, message])
  }
}

describe('the local endpoint speaks ELBv2', () => {
  it("answers DescribeTargetHealth in the shape of the API Reference's sample", async () => {
    const arn = aws.targetGroups.addGroup({ targets: ['i-0376fadf'] })
    const answer = await fetch(aws.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        Action: 'DescribeTargetHealth',
        Version: '2015-12-01',
        TargetGroupArn: arn
      })
    })
    expect(answer.status).toBe(200)
    expect(shape(await answer.text())).toBe(shape(REFERENCE_SAMPLE))
  })

  it('answers an unknown group with the Query error shape, as the SDK names it', async () => {
    const elb = elbv2For(aws)
    const { DescribeTargetHealthCommand } =
      await import('@aws-sdk/client-elastic-load-balancing-v2')
    await expect(
      elb.send(
        new DescribeTargetHealthCommand({
          TargetGroupArn:
            'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/none/0123456789abcdef'
        })
      )
    ).rejects.toMatchObject({ name: 'TargetGroupNotFoundException' })
  })
})

describe('TrafficGate', () => {
  it('keeps min-healthy targets in service at every moment, batch after batch', async () => {
    const arn = aws.targetGroups.addGroup({ targets: FLEET })
    const gate = await TrafficGate.open(settings([arn], { minHealthy: 2 }), FLEET, 2, deps())
    const batches: string[][] = []
    expect(await gate.runBatches(FLEET, 2, work(batches))).toBeUndefined()
    expect(batches).toEqual([FLEET.slice(0, 2), FLEET.slice(2)])
    const counts = aws.targetGroups.healthyCounts(arn)
    expect(counts.length).toBeGreaterThanOrEqual(12)
    expect(Math.min(...counts)).toBe(2)
    expect(aws.targetGroups.states(arn)).toEqual(
      Object.fromEntries(FLEET.map(id => [id, 'healthy']))
    )
    expect(gate.outOfService()).toEqual([])
    // Every poll asks for the batch's targets in one request.
    const polls = aws.callsOf('DescribeTargetHealth').filter(c => c.params['Targets.member.1.Id'])
    expect(polls.every(c => c.params['Targets.member.2.Id'] !== undefined)).toBe(true)
    expect(saved.get(TRAFFIC_STATE)).toBe('')
  })

  it('keeps a failed instance and one that never becomes healthy out, and the rest back in', async () => {
    const arn = aws.targetGroups.addGroup({ targets: FLEET })
    aws.targetGroups.neverHealthy(arn, FLEET[1])
    const gate = await TrafficGate.open(
      settings([arn], { healthyTimeoutSeconds: 1 }),
      FLEET,
      2,
      deps()
    )
    const batches: string[][] = []
    const steps = work(batches, [FLEET[2]])
    await gate.runBatches(FLEET, 2, steps)
    expect(steps.unhealthyCalls).toEqual([
      [
        FLEET[1],
        expect.stringContaining(
          'did not become healthy in its target group within 1 s (input "healthy-timeout")'
        )
      ]
    ])
    expect(aws.targetGroups.states(arn)).toEqual({ [FLEET[0]]: 'healthy', [FLEET[3]]: 'healthy' })
    expect(gate.outOfService()).toEqual([FLEET[1], FLEET[2]])
  })

  it('refuses a group of one target under min-healthy 1 before anything changes', async () => {
    const arn = aws.targetGroups.addGroup({ targets: [FLEET[0]] })
    const opening = TrafficGate.open(settings([arn]), [FLEET[0]], 1, deps())
    await expect(opening).rejects.toThrow(ActionError)
    await expect(opening).rejects.toThrow(/min-healthy: 0 to accept dropping traffic/)
    expect(aws.callsOf('DeregisterTargets')).toEqual([])
  })

  it('matches the targets of an ip group by the private address, and leaves the others outside', async () => {
    aws.addInstance({ instanceId: FLEET[0], privateIp: '10.0.1.10', publicIp: '203.0.113.10' })
    aws.addInstance({ instanceId: FLEET[1], privateIp: '10.0.1.11', publicIp: '203.0.113.11' })
    aws.addInstance({ instanceId: FLEET[2], privateIp: '10.0.1.12', publicIp: '203.0.113.12' })
    const arn = aws.targetGroups.addGroup({
      targetType: 'ip',
      targets: ['10.0.1.10', '10.0.1.11', '10.0.2.99']
    })
    const log = deps()
    const gate = await TrafficGate.open(settings([arn]), FLEET.slice(0, 3), 1, log)
    const batches: string[][] = []
    await gate.runBatches(FLEET.slice(0, 3), 1, work(batches))
    // The one outside the group first, then the gated ones one at a time.
    expect(batches).toEqual([[FLEET[2]], [FLEET[0]], [FLEET[1]]])
    expect(aws.callsOf('DeregisterTargets').map(c => c.params['Targets.member.1.Id'])).toEqual([
      '10.0.1.10',
      '10.0.1.11'
    ])
    expect(log.log.said).toContainEqual([
      'info',
      expect.stringContaining(`Not behind target group ${arn}: ${FLEET[2]}`)
    ])
  })

  it('registers every target back when the run stops mid-batch', async () => {
    const arn = aws.targetGroups.addGroup({ targets: FLEET })
    const stop = new AbortController()
    const gate = await TrafficGate.open(settings([arn]), FLEET, 2, deps(stop.signal))
    const steps = {
      ...work([]),
      async run(batch: string[]) {
        expect(
          JSON.parse(saved.get(TRAFFIC_STATE) ?? '[]')[0].targets.map((t: { id: string }) => t.id)
        ).toEqual(batch)
        stop.abort()
        return new Set<string>()
      }
    }
    await expect(gate.runBatches(FLEET, 2, steps)).rejects.toThrow(/cancelled/)
    expect(Object.keys(aws.targetGroups.states(arn)).sort()).toEqual(FLEET)
    expect(saved.get(TRAFFIC_STATE)).toBe('')
  })
})
