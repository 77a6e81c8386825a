// The restart engine's own fan-out behind a target group (src/restart/gated.ts), in-process: a
// scripted instance transport whose instances succeed or fail as each test says, and the real
// ELBv2 client against the local endpoint's target group.
import { newReport } from '../src/action/summary.js'
import { restart } from '../src/restart/engine.js'
import type { InstanceTransport } from '../src/restart/transport.js'
import { startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { gatedSettings } from './helpers/gated-settings.js'
import { recordingLogger, recordingOutputs } from './helpers/recording-logger.js'

const FLEET = ['i-0fff0000000000001', 'i-0fff0000000000002', 'i-0fff0000000000003']

let aws: LocalAws
let ran: string[]
beforeEach(async () => {
  aws = await startLocalAws()
  ran = []
})
afterEach(() => aws.stop())

/** Instances that restart at once, those in `failing` with a failure; each run is recorded. */
function transport(failing: string[] = []): InstanceTransport {
  return {
    kind: 'instance',
    name: 'ssh',
    via: 'over SSH',
    where: target => `${target.address}:22`,
    stopped: () => 'stopped',
    failure: error => ({ status: 'Failed', exitCode: 1, message: (error as Error).message }),
    prepare: async () => async target => ({
      run: async () => {
        const id = target.instanceId as string
        ran.push(`${id} (${Object.keys(aws.targetGroups.states(group)).length} in the group)`)
        if (failing.includes(id)) throw new Error(`restart failed on ${id}`)
        return 'active'
      }
    })
  }
}

let group: string

async function restartBehind(count: number, failing: string[], maxErrors: string, minHealthy = 1) {
  group = aws.targetGroups.addGroup({ targets: FLEET })
  const settings = gatedSettings(aws, group, { maxConcurrency: '1', maxErrors, minHealthy })
  const deps = {
    log: recordingLogger(),
    outputs: recordingOutputs(),
    sleep: (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))
  }
  const report = newReport()
  const targets = FLEET.slice(0, count).map((instanceId, i) => ({
    instanceId,
    address: `10.0.0.${i + 1}`
  }))
  const error = await restart(settings, targets, transport(failing), deps, report)
    .then(() => undefined)
    .catch((e: unknown) => e as Error)
  return { error, report, outputs: deps.outputs.values, said: deps.log.said }
}

describe('the engine behind a target group', () => {
  it('restarts one at a time, each out of the group while it restarts, and reports both waits', async () => {
    const { error, report, outputs } = await restartBehind(3, [], '0')
    expect(error).toBeUndefined()
    expect(ran).toEqual(FLEET.map(id => `${id} (2 in the group)`))
    expect(outputs.get('restarted')).toBe('true')
    expect(outputs.get('out-of-service')).toBe('[]')
    for (const row of report.fleet?.results ?? [])
      expect(row).toMatchObject({
        status: 'Success',
        drained: expect.stringMatching(/ s$/),
        healthyAfter: expect.stringMatching(/ s$/)
      })
  })

  it('goes through the fleet path for a single host too, so the summary has its waits', async () => {
    const { error, report } = await restartBehind(1, [], '0')
    expect(error).toBeUndefined()
    expect(report.restart).toBeUndefined()
    expect(report.fleet?.results).toHaveLength(1)
  })

  it('keeps a failed instance out, passes within max-errors with a warning naming it', async () => {
    const { error, outputs, said } = await restartBehind(3, [FLEET[1]], '1')
    expect(error).toBeUndefined()
    expect(outputs.get('out-of-service')).toBe(JSON.stringify([FLEET[1]]))
    expect(Object.keys(aws.targetGroups.states(group)).sort()).toEqual([FLEET[0], FLEET[2]])
    expect(said.filter(([kind]) => kind === 'warning').map(([, text]) => text)).toEqual([
      expect.stringContaining(`1 of 3 instances did not restart (${FLEET[1]} Failed)`),
      expect.stringContaining(
        `(deregistered, taking no traffic): ${FLEET[1]} (output out-of-service)`
      )
    ])
  })

  it('refuses the batch that would go below min-healthy once a failure kept one out', async () => {
    const { error, report } = await restartBehind(3, [FLEET[0]], '2', 2)
    expect(error?.message).toContain(
      `Taking ${FLEET[1]} out of target group ${group} would leave 1 healthy target (2 healthy now), fewer than min-healthy 2`
    )
    expect(ran).toEqual([`${FLEET[0]} (2 in the group)`])
    expect(report.fleet?.results.map(r => r.status)).toEqual(['Failed', 'NotStarted', 'NotStarted'])
  })
})
