// A release behind a target group, in-process: the release engine's switch batches go through the
// traffic gate (the real ELBv2 client against the local endpoint's target group), with a
// transport of its own that records each step beside the endpoint's ELBv2 calls.
import { newReport } from '../src/action/summary.js'
import { shipRelease } from '../src/restart/release-engine.js'
import { TrafficGate } from '../src/restart/traffic-gate.js'
import { startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { gatedSettings } from './helpers/gated-settings.js'
import { recordingLogger, recordingOutputs } from './helpers/recording-logger.js'
import { recordingReleaseTransport, TEST_RELEASE } from './helpers/recording-release.js'

const FLEET = [
  'i-0ddd0000000000001',
  'i-0ddd0000000000002',
  'i-0ddd0000000000003',
  'i-0ddd0000000000004'
]

let aws: LocalAws
let steps: string[]
beforeEach(async () => {
  aws = await startLocalAws()
  steps = []
  for (const action of ['DeregisterTargets', 'RegisterTargets'])
    aws.hooks.set(action, params => {
      const ids = Object.entries(params).filter(([k]) => k.endsWith('.Id'))
      steps.push(`${action} ${ids.map(([, v]) => v).join(',')}`)
    })
})
afterEach(() => aws.stop())

/** Each instance receives and switches (failing where told), recorded beside the ELBv2 calls. */
const transport = (failing: string[]) =>
  recordingReleaseTransport(
    step => steps.push(step),
    Object.fromEntries(
      FLEET.map(id => [id, { previous: 'old', failActivate: failing.includes(id) }])
    )
  )
const release = TEST_RELEASE

async function shipBehindGroup(failing: string[], maxErrors: string, minHealthy = 2) {
  const group = aws.targetGroups.addGroup({ targets: FLEET })
  const settings = gatedSettings(aws, group, { maxConcurrency: '2', maxErrors, minHealthy })
  const deps = {
    log: recordingLogger(),
    outputs: recordingOutputs(),
    sleep: (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
  }
  const targets = FLEET.map((instanceId, i) => ({ instanceId, address: `10.0.0.${i + 1}` }))
  const gate = await TrafficGate.open(settings.traffic!, FLEET, 2, deps)
  const report = newReport()
  const error = await shipRelease(
    settings,
    release,
    targets,
    transport(failing),
    deps,
    report,
    gate
  )
    .then(() => undefined)
    .catch((e: unknown) => e as Error)
  gate.conclude(report)
  return { error, group, outputs: deps.outputs.values, report }
}

describe('a release behind a target group', () => {
  it('beyond max-errors sends the instances already live back drained, batch by batch', async () => {
    const [a, b, c, d] = FLEET
    const { error, group } = await shipBehindGroup([d], '0', 1)
    expect(error?.message).toContain('more than max-errors 0 allows')
    const rollbacks = steps.filter(s => s.includes('rollback') || s.includes('Targets'))
    expect(rollbacks).toEqual([
      `DeregisterTargets ${a},${b}`,
      `RegisterTargets ${a},${b}`,
      `DeregisterTargets ${c},${d}`,
      `${d} rollback to old`,
      `RegisterTargets ${c}`,
      // The live ones, out of the group while they go back: none restarts taking traffic.
      `DeregisterTargets ${a},${b}`,
      `${a} rollback to old`,
      `${b} rollback to old`,
      `RegisterTargets ${a},${b}`,
      `DeregisterTargets ${c}`,
      `${c} rollback to old`,
      `RegisterTargets ${c}`
    ])
    expect(Math.min(...aws.targetGroups.healthyCounts(group))).toBeGreaterThanOrEqual(1)
  })

  it('drains each switch batch, and registers it back only after the switch and the check', async () => {
    const { error, group, outputs } = await shipBehindGroup([], '0')
    expect(error).toBeUndefined()
    const [a, b, c, d] = FLEET
    expect(steps.filter(s => !s.endsWith('receive') && !s.endsWith('finish'))).toEqual([
      `DeregisterTargets ${a},${b}`,
      `${a} activate`,
      `${b} activate`,
      `RegisterTargets ${a},${b}`,
      `DeregisterTargets ${c},${d}`,
      `${c} activate`,
      `${d} activate`,
      `RegisterTargets ${c},${d}`
    ])
    expect(Math.min(...aws.targetGroups.healthyCounts(group))).toBe(2)
    expect(outputs.get('restarted')).toBe('true')
  })

  it('rolls a failed instance back before its batch is registered back, and keeps it out', async () => {
    const { error, group, outputs, report } = await shipBehindGroup([FLEET[1]], '1', 1)
    expect(error).toBeUndefined()
    const rollback = steps.indexOf(`${FLEET[1]} rollback to old`)
    const registerBack = steps.indexOf(`RegisterTargets ${FLEET[0]}`)
    expect(rollback).toBeGreaterThan(-1)
    expect(registerBack).toBeGreaterThan(rollback)
    expect(Object.keys(aws.targetGroups.states(group)).sort()).toEqual(
      [FLEET[0], FLEET[2], FLEET[3]].sort()
    )
    expect(outputs.get('out-of-service')).toBe(JSON.stringify([FLEET[1]]))
    expect(report.fleet?.results.map(r => [r.instanceId, r.healthyAfter])).toEqual([
      [FLEET[0], expect.stringMatching(/ s$/)],
      [FLEET[1], 'kept out'],
      [FLEET[2], expect.stringMatching(/ s$/)],
      [FLEET[3], expect.stringMatching(/ s$/)]
    ])
  })
})
