import { setMaxListeners } from 'node:events'
import { StoppedError, throwIfStopped, withStopState } from '../lib/cancel.js'
import { ActionError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { OUTPUTS } from '../lib/output-names.js'
import { fanOut } from './fan-out.js'
import {
  beyondMaxErrors,
  CollectedOutput,
  printInstanceGroup,
  warnWithinMaxErrors,
  type InstanceResult,
  type RestartReport
} from './report.js'
import { allowedCount, concurrencyCount } from './rate.js'
import { shipRelease } from './release-engine.js'
import type { ReleaseTransport } from './release-steps.js'
import { printFailureLogs, type InstanceFailureLogs } from './failure-logs.js'
import { gatedFanOut, gatedFleet, openGate, UNHEALTHY } from './gated.js'
import type { TrafficGate } from './traffic-gate.js'
import type {
  FleetRestart,
  FleetTransport,
  InstanceTransport,
  PreparedRestart,
  RestartDeps,
  RestartSettings,
  RestartTarget,
  RestartTransport
} from './transport.js'

// The restart engine: which instances, how many at once, what the run reports. The transports
// (SSH: ssh/transport.ts; SSM: ssm/transport.ts) only reach the instances.

/** The engine's own words for an instance's result; transports add theirs (Failed, TimedOut, ...). */
const STATUS = {
  success: 'Success',
  /** Never started: more failed than max-errors allows, or the step was cancelled first. */
  notStarted: 'NotStarted'
} as const

/**
 * The restart phase: restarts the service on every target with `transport`, and reports each
 * (the log, the outputs `restarted` and `command-id`, the job summary). A single host is a fleet
 * of one: over SSH its output streams live and it fills the summary's single-restart section, and
 * max-errors does not apply to it. A stop is a StoppedError that says what the restart left.
 */
export async function restart(
  settings: RestartSettings,
  targets: readonly RestartTarget[],
  transport: RestartTransport,
  deps: RestartDeps,
  report: RestartReport
): Promise<void> {
  // Behind target groups: described, and min-healthy checked, before anything changes.
  const gate = await openGate(settings, targets, deps)
  try {
    if (settings.release) {
      const { release } = settings
      await shipRelease(
        settings,
        release,
        await withIds(targets, transport),
        releaseTransport(transport),
        deps,
        report,
        gate
      )
    } else if (transport.kind === 'fleet')
      await restartAtOnce(settings, targets, transport, deps, report, gate)
    else if (targets.length === 1 && !gate)
      await restartHost(settings, targets[0], transport, deps, report)
    else await restartEach(settings, targets, transport, deps, report, gate)
  } catch (error) {
    throw withStopState(error, transport.stopped(targets.length > 1))
  } finally {
    gate?.conclude(report)
  }
}

/** One host, its output streaming live: the summary says how it went, or that its fate is unknown. */
async function restartHost(
  settings: RestartSettings,
  target: RestartTarget,
  transport: InstanceTransport,
  deps: RestartDeps,
  report: RestartReport
): Promise<void> {
  const { unit } = settings.script
  const prepare = await transport.prepare([target], settings, deps)
  const prepared = await prepare(target)
  const where = transport.where(target) ?? target.address
  report.restart = { host: where, unit, result: 'failed' }
  try {
    report.restart.result = `restarted, ${await prepared.run()}`
  } catch (error) {
    if (error instanceof StoppedError)
      report.restart.result = 'unknown: the run was stopped and the connection closed mid-command'
    const { logs } = transport.failure(error)
    if (logs) {
      printFailureLogs(deps.log, where, logs)
      report.failureLogs = [{ where, logs }]
    }
    throw error
  }
  deps.outputs.set(OUTPUTS.restarted, 'true')
  deps.log.info(`Restarted "${unit}" on ${where}.`)
}

/** An instance's end in the fan-out, and why it did not succeed, in the action's words. */
interface Outcome {
  result: InstanceResult
  message?: string
  /** What the instance said about the unit afterwards (input "failure-logs"). */
  failureLogs?: InstanceFailureLogs
}

/**
 * Several instances, through the engine's own fan-out: at most max-concurrency at once; once more
 * than max-errors have failed, no further instance starts. Each instance's output is collected
 * while it runs and printed as one log group when it ends, so that concurrent instances never mix
 * their lines; the summary gets the same table as a fleet transport's.
 */
async function restartEach(
  settings: RestartSettings,
  targets: readonly RestartTarget[],
  transport: InstanceTransport,
  deps: RestartDeps,
  report: RestartReport,
  gate?: TrafficGate
): Promise<void> {
  const { maxConcurrency, maxErrors } = settings
  const total = targets.length
  const concurrency = concurrencyCount(maxConcurrency, total)
  const allowed = allowedCount(maxErrors, total)
  // Every running instance listens for the step's cancellation (its connection, its command, its
  // waits): expected, not a leak, so no warning for more than Node's default of ten.
  if (deps.signal) setMaxListeners(10 + concurrency * 4, deps.signal)
  const prepare = await transport.prepare(targets, settings, deps)
  deps.log.info(
    `Restarting "${settings.script.unit}" on ${total} instances ${transport.via}, ${concurrency} at a time ` +
      `(max-concurrency ${maxConcurrency.text}, max-errors ${maxErrors.text}).`
  )
  const options = {
    concurrency,
    maxErrors: allowed,
    failed: (outcome: Outcome) => outcome.result.status !== STATUS.success,
    signal: deps.signal
  }
  const work = (target: RestartTarget) => restartInstance(target, prepare, transport, deps.log)
  const { outcomes, refused } = gate
    ? await gatedFanOut(gate, targets, { ...options, unhealthy: unhealthyOutcome }, work)
    : { outcomes: await fanOut(targets, options, work), refused: undefined }
  const results = targets.map(
    (target, i): InstanceResult =>
      outcomes[i]?.result ?? { instanceId: instanceIdOf(target), status: STATUS.notStarted }
  )
  const failed = results.filter(r => r.status !== STATUS.success)
  const failureLogs = outcomes.flatMap(outcome => outcome?.failureLogs ?? [])
  const run: FleetRestart = {
    commandIds: [],
    results: gate?.annotate(results) ?? results,
    failed,
    failureLogs
  }
  if (refused) run.failure = refused
  else if (failed.length > allowed) {
    const culprit = outcomes.find(o => o?.message !== undefined)
    run.failure =
      beyondMaxErrors(settings.script.unit, failed, total, maxErrors, allowed) +
      (failed.some(r => r.status === STATUS.notStarted)
        ? `The ${STATUS.notStarted} ones were not restarted: no instance starts once max-errors is exceeded. `
        : '') +
      `Each instance's log group has its output.` +
      (culprit ? `\n${culprit.result.instanceId}: ${culprit.message}` : '')
  }
  recordFleet(settings, run, transport, report, deps)
  // A stop is the run's failure, whatever the instances did meanwhile.
  throwIfStopped(deps.signal)
  concludeFleet(settings, run, transport, deps)
}

/** An instance restarted fine that its target group did not find healthy in time. */
function unhealthyOutcome(outcome: Outcome | undefined, message: string): Outcome {
  const result = outcome?.result ?? { instanceId: '', status: UNHEALTHY }
  return { ...outcome, result: { ...result, status: UNHEALTHY }, message }
}

/** One instance of the fan-out: getting it ready, its restart, its log group; never rejects. */
async function restartInstance(
  target: RestartTarget,
  prepare: (target: RestartTarget) => Promise<PreparedRestart>,
  transport: InstanceTransport,
  log: Logger
): Promise<Outcome> {
  const instanceId = instanceIdOf(target)
  const started = Date.now()
  const output = new CollectedOutput()
  let outcome: Outcome
  try {
    await (await prepare(target)).run(output)
    const durationMs = Date.now() - started
    outcome = { result: { instanceId, status: STATUS.success, exitCode: 0, durationMs } }
  } catch (error) {
    const { status, exitCode, message, logs } = transport.failure(error)
    const where = transport.where(target)
    outcome = {
      result: { instanceId, status, exitCode, durationMs: Date.now() - started },
      message,
      ...(logs && { failureLogs: { where: where ? `${instanceId} (${where})` : instanceId, logs } })
    }
    // The action's own words, which quote what the instance printed: still untrusted text.
    for (const line of message.split('\n')) output.line(line)
  }
  printInstanceGroup(log, outcome.result, output.collected(), undefined, transport.where(target))
  // Right after the instance's own group, before any other instance prints.
  if (outcome.failureLogs)
    printFailureLogs(log, outcome.failureLogs.where, outcome.failureLogs.logs)
  return outcome
}

/** A fleet transport (SSM Run Command): AWS runs the fan-out with the same rates. */
async function restartAtOnce(
  settings: RestartSettings,
  targets: readonly RestartTarget[],
  transport: FleetTransport,
  deps: RestartDeps,
  report: RestartReport,
  gate?: TrafficGate
): Promise<void> {
  // Without a deploy or targets: the one instance at the address the secret holds.
  const instanceIds = (await withIds(targets, transport)).map(target => target.instanceId as string)
  const run = gate
    ? await gatedFleet(gate, instanceIds, settings, deps, (ids, batch) =>
        transport.restartAll(ids, batch, deps)
      )
    : await transport.restartAll(instanceIds, settings, deps)
  if (gate) run.results = gate.annotate(run.results)
  recordFleet(settings, run, transport, report, deps)
  concludeFleet(settings, run, transport, deps)
}

/** The fleet's outputs and the summary's table, before the run is judged. */
function recordFleet(
  settings: RestartSettings,
  run: FleetRestart,
  transport: RestartTransport,
  report: RestartReport,
  deps: RestartDeps
): void {
  if (run.commandIds.length > 0) deps.outputs.set(OUTPUTS.commandId, run.commandIds.join(','))
  report.fleet = {
    unit: settings.script.unit,
    commandIds: run.commandIds,
    ...(transport.name === 'ssh' ? { via: 'ssh' as const } : {}),
    results: run.results
  }
  if (run.failureLogs?.length) report.failureLogs = run.failureLogs
}

/**
 * Beyond max-errors the run fails; within it the step passes with a warning and `restarted`
 * false; `restarted` is true only when every instance succeeded.
 */
function concludeFleet(
  settings: RestartSettings,
  run: FleetRestart,
  transport: RestartTransport,
  deps: RestartDeps
): void {
  if (run.failure) throw new ActionError(run.failure)
  const total = run.results.length
  if (run.failed.length > 0) {
    warnWithinMaxErrors(deps.log, run.failed, total, settings.maxErrors)
    return
  }
  deps.outputs.set(OUTPUTS.restarted, 'true')
  deps.log.info(
    `Restarted "${settings.script.unit}" on ${total} instance${total > 1 ? 's' : ''} ${transport.via}.`
  )
}

/** How a release reaches the instances: the transport's own release steps. */
function releaseTransport(transport: RestartTransport): ReleaseTransport {
  if (transport.kind === 'fleet') {
    if (!transport.release) throw new ActionError(`A release cannot be shipped ${transport.via}.`)
    return transport.release
  }
  const { releases } = transport
  if (!releases) throw new ActionError(`A release cannot be shipped ${transport.via}.`)
  return {
    name: transport.name,
    via: transport.via,
    where: target => transport.where(target),
    failure: error => transport.failure(error),
    releases
  }
}

/** A fleet transport needs instance ids: the one at the secret's address is looked up. */
async function withIds(
  targets: readonly RestartTarget[],
  transport: RestartTransport
): Promise<readonly RestartTarget[]> {
  if (transport.kind !== 'fleet') return targets
  const named: RestartTarget[] = []
  for (const target of targets)
    named.push({
      ...target,
      instanceId: target.instanceId ?? (await transport.instanceAt(target.address))
    })
  return named
}

/** A fleet's instances all have ids; a single host at the secret's address may not. */
function instanceIdOf(target: RestartTarget): string {
  return target.instanceId ?? target.address
}
