import { ActionError } from '../lib/errors.js'
import { fanOut, type FanOutOptions, type FanOutResults } from './fan-out.js'
import { allowedCount, concurrencyCount, parseRate } from './rate.js'
import { beyondMaxErrors, type InstanceResult } from './report.js'
import { TrafficGate } from './traffic-gate.js'
import type { FleetRestart, RestartDeps, RestartSettings, RestartTarget } from './transport.js'

// The restart engine's two fan-outs (its own, over SSH; SSM Run Command's) behind a traffic gate:
// the same instances and rates, in lockstep batches that the gate drains and waits for.

/** The status of an instance restarted fine that did not become healthy in its target group. */
export const UNHEALTHY = 'Unhealthy'

/** A fleet's instance as the gate keys it: its id (a single host at an address has none). */
export function gateKey(target: RestartTarget): string {
  return target.instanceId ?? target.address
}

/**
 * Opens the gate for `targets` (input "target-group-arn"), before anything changes; undefined
 * without target groups.
 */
export async function openGate(
  settings: RestartSettings,
  targets: readonly RestartTarget[],
  deps: RestartDeps
): Promise<TrafficGate | undefined> {
  if (!settings.traffic) return undefined
  const missing = targets.find(t => t.instanceId === undefined)
  if (missing) {
    throw new ActionError(
      `Input "target-group-arn" needs the instances' ids, and the restart at ${missing.address} (the address in the secret) has none: ` +
        'name the instances with input "targets", or deploy with the stack. Nothing was changed.'
    )
  }
  const concurrency = concurrencyCount(settings.maxConcurrency, targets.length)
  return TrafficGate.open(settings.traffic, targets.map(gateKey), concurrency, deps)
}

/**
 * The engine's own fan-out, batch by batch through the gate: a batch runs all at once, and no
 * further batch starts once more than max-errors have failed. Resolves to each target's result
 * (undefined: never started) and why a batch was refused, if one was.
 */
export async function gatedFanOut<R>(
  gate: TrafficGate,
  targets: readonly RestartTarget[],
  options: FanOutOptions<R> & { unhealthy: (result: R | undefined, message: string) => R },
  work: (target: RestartTarget) => Promise<R>
): Promise<{ outcomes: FanOutResults<R>; refused?: string }> {
  const outcomes: FanOutResults<R> = targets.map(() => undefined)
  const index = new Map(targets.map((target, i) => [gateKey(target), i]))
  let failures = 0
  const refused = await gate.runBatches(targets, options.concurrency, {
    keyOf: gateKey,
    mayGoOn: () => failures <= options.maxErrors && !options.signal?.aborted,
    async run(batch) {
      const limits = { ...options, concurrency: batch.length, maxErrors: batch.length }
      const results = await fanOut(batch, limits, work)
      const failed = new Set<string>()
      batch.forEach((target, i) => {
        const result = results[i]
        outcomes[index.get(gateKey(target)) as number] = result
        if (result === undefined || options.failed(result)) failed.add(gateKey(target))
      })
      failures += failed.size
      return failed
    },
    unhealthy(key, message) {
      const i = index.get(key) as number
      outcomes[i] = options.unhealthy(outcomes[i], message)
      failures++
    }
  })
  return { outcomes, refused }
}

/**
 * SSM Run Command behind the gate: one command per batch (each bounded by ssm-timeout, running
 * the whole batch at once), judged with max-errors over the whole fleet.
 */
export async function gatedFleet(
  gate: TrafficGate,
  instanceIds: readonly string[],
  settings: RestartSettings,
  deps: RestartDeps,
  restartBatch: (ids: string[], batchSettings: RestartSettings) => Promise<FleetRestart>
): Promise<FleetRestart> {
  const { maxConcurrency, maxErrors } = settings
  const total = instanceIds.length
  const allowed = allowedCount(maxErrors, total)
  // Within a batch, every instance at once and every failure judged afterwards, over the fleet.
  const all = parseRate('100%')
  const batchSettings = { ...settings, maxConcurrency: all, maxErrors: all }
  const byId = new Map<string, InstanceResult>()
  const commandIds: string[] = []
  const messages: string[] = []
  let failures = 0
  const refused = await gate.runBatches(instanceIds, concurrencyCount(maxConcurrency, total), {
    keyOf: id => id,
    mayGoOn: () => failures <= allowed && !deps.signal?.aborted,
    async run(batch) {
      const run = await restartBatch(batch, batchSettings)
      commandIds.push(...run.commandIds)
      for (const result of run.results) byId.set(result.instanceId, result)
      failures += run.failed.length
      return new Set(run.failed.map(r => r.instanceId))
    },
    unhealthy(key, message) {
      byId.set(key, { ...(byId.get(key) ?? { instanceId: key }), status: UNHEALTHY })
      messages.push(message)
      failures++
    }
  })
  const results = instanceIds.map(id => byId.get(id) ?? { instanceId: id, status: 'NotStarted' })
  const failed = results.filter(r => r.status !== 'Success')
  const run: FleetRestart = { commandIds, results, failed }
  if (refused) run.failure = refused
  else if (failed.length > allowed)
    run.failure =
      beyondMaxErrors(settings.script.unit, failed, total, maxErrors, allowed) +
      'No further batch was started once max-errors was exceeded.' +
      (messages.length ? `\n${messages[0]}` : '')
  return run
}
