// The release engine in-process, with a transport of its own that records each step: prepare
// everywhere before any switch, batches of max-concurrency, a failed instance rolled back, and
// beyond max-errors every switched instance sent back so that the fleet ends on one version.
import { newReport } from '../src/action/summary.js'
import { shipRelease } from '../src/restart/release-engine.js'
import { parseRate } from '../src/restart/rate.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import type { RestartSettings } from '../src/restart/transport.js'
import { recordingLogger, recordingOutputs } from './helpers/recording-logger.js'
import {
  recordingReleaseTransport,
  TEST_RELEASE,
  type ReleaseBehaviour
} from './helpers/recording-release.js'

let steps: string[]

const transport = (behaviours: Record<string, ReleaseBehaviour>) =>
  recordingReleaseTransport(step => steps.push(step), behaviours)
const release = TEST_RELEASE

function settings(maxConcurrency: string, maxErrors: string): RestartSettings {
  return {
    script: restartScript(checkServiceName('fastapi'), ''),
    maxConcurrency: parseRate(maxConcurrency),
    maxErrors: parseRate(maxErrors)
  }
}

const targets = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    instanceId: `i-${i + 1}`,
    address: `10.0.0.${i + 1}`
  }))

async function ship(
  count: number,
  rates: [string, string],
  behaviours: Record<string, ReleaseBehaviour>
) {
  steps = []
  const log = recordingLogger()
  const outputs = recordingOutputs()
  const report = newReport()
  const run = shipRelease(
    settings(...rates),
    release,
    targets(count),
    transport(behaviours),
    { sleep: async () => undefined, log, outputs },
    report
  )
  const error = await run.then(
    () => undefined,
    (e: unknown) => e as Error
  )
  return { error, log, outputs: outputs.values, report }
}

const allPrevious = (ids: string[]): Record<string, ReleaseBehaviour> =>
  Object.fromEntries(ids.map(id => [id, { previous: 'old' }]))

describe('a release through the engine', () => {
  it('prepares every instance before it switches any', async () => {
    const { error, outputs } = await ship(4, ['2', '0'], allPrevious(['i-1', 'i-2', 'i-3', 'i-4']))
    expect(error).toBeUndefined()
    const lastReceive = Math.max(...steps.map((s, i) => (s.endsWith('receive') ? i : -1)))
    const firstActivate = steps.findIndex(s => s.endsWith('activate'))
    expect(lastReceive).toBeLessThan(firstActivate)
    expect(steps.filter(s => s.endsWith(' finish'))).toHaveLength(4)
    expect(outputs.get('restarted')).toBe('true')
    expect(outputs.get('previous-release-id')).toBe('old')
  })

  it('beyond max-errors starts no further batch and sends every switched instance back', async () => {
    const behaviours = allPrevious(['i-1', 'i-2', 'i-3', 'i-4', 'i-5'])
    behaviours['i-3'].failActivate = true
    const { error, outputs } = await ship(5, ['2', '0'], behaviours)
    expect(error?.message).toContain(
      'every instance switched in this run went back to its previous release'
    )
    // Batches: (i-1, i-2), then (i-3, i-4); i-5 is never switched.
    expect(steps).not.toContain('i-5 activate')
    expect(steps).toContain('i-5 abandon')
    for (const id of ['i-1', 'i-2', 'i-3', 'i-4']) expect(steps).toContain(`${id} rollback to old`)
    expect(steps.filter(s => s.endsWith(' finish'))).toEqual([])
    expect(JSON.parse(outputs.get('rolled-back-instances') ?? '')).toEqual([
      'i-1',
      'i-2',
      'i-3',
      'i-4'
    ])
  })

  it('within max-errors rolls back the failed one only, and passes with a warning', async () => {
    const behaviours = allPrevious(['i-1', 'i-2', 'i-3'])
    behaviours['i-2'].failActivate = true
    const { error, log, outputs } = await ship(3, ['1', '1'], behaviours)
    expect(error).toBeUndefined()
    expect(outputs.get('rolled-back-instances')).toBe('["i-2"]')
    expect(outputs.get('restarted')).toBeUndefined()
    expect(
      log.said
        .filter(([kind]) => kind === 'warning')
        .map(([, text]) => text)
        .join()
    ).toContain('1 of 3 instances did not take release 0123456789ab-1-1 (i-2 Failed)')
  })

  it('switches nothing when preparing fails beyond max-errors', async () => {
    const behaviours = allPrevious(['i-1', 'i-2', 'i-3'])
    behaviours['i-2'].failReceive = true
    const { error } = await ship(3, ['3', '0'], behaviours)
    expect(error?.message).toContain('Nothing was switched anywhere.')
    expect(steps.some(s => s.includes('activate'))).toBe(false)
    expect(steps.filter(s => s.endsWith('abandon')).sort()).toEqual([
      'i-1 abandon',
      'i-2 abandon',
      'i-3 abandon'
    ])
  })

  it('on a single host, prunes with the activation, and on a first release says there is nothing to go back to', async () => {
    await ship(1, ['1', '0'], { 'i-1': { previous: 'old' } })
    expect(steps).toEqual(['i-1 receive', 'i-1 activate+finish'])
    const { error, outputs } = await ship(1, ['1', '0'], { 'i-1': { failActivate: true } })
    expect(error?.message).toContain(
      'This was the first release on 10.0.0.1:22: there is nothing to go back to'
    )
    expect(outputs.get('rolled-back')).toBe('false')
    expect(steps).toEqual(['i-1 receive', 'i-1 activate+finish', 'i-1 abandon'])
  })
})
