import { setMaxListeners } from 'node:events'
import { StoppedError, throwIfStopped, withStopState } from '../lib/cancel.js'
import { ActionError } from '../lib/errors.js'
import type { Logger, StepOutputs } from '../lib/log.js'
import { OUTPUTS } from '../lib/output-names.js'
import type { Readable } from 'node:stream'
import { broadcast } from '../release/archive.js'
import { printFailureLogs, type FailureLogs } from './failure-logs.js'
import { allowedCount, concurrencyCount } from './rate.js'
import {
  CollectedOutput,
  describeFailed,
  printInstanceGroup,
  type InstanceResult,
  type RestartReport
} from './report.js'
import {
  ShipFailure,
  type InstanceRelease,
  type ReleaseRun,
  type ReleaseTransport
} from './release-steps.js'
import type { RestartDeps, RestartSettings, RestartTarget } from './transport.js'
import type { TrafficGate } from './traffic-gate.js'

// A release through the restart engine: first every instance receives and prepares it (within
// max-concurrency, max-errors), then batches of max-concurrency switch, restart and check, and a
// failed instance goes back to its previous release. Beyond max-errors, no further batch starts
// and every instance switched in this run goes back, so the fleet ends on one version.

/** One instance through the release: where it is, and what it runs now. */
interface Instance {
  target: RestartTarget
  instanceId: string
  where?: string
  steps?: InstanceRelease
  /** A fleet's collector; a single host streams to the log. */
  output?: CollectedOutput
  started: number
  previous?: string
  state: 'pending' | 'received' | 'live' | 'failed'
  /** Went back to its previous release (and whether that came up healthy). */
  rolledBack?: { healthy: boolean }
  result?: { status: string; exitCode?: number }
  message?: string
  /** What the summary says the instance runs. */
  runs?: string
  /** Pruned and unlocked with its activation. */
  finished?: boolean
  /** The unit's status and journal when its restart or check failed (input "failure-logs"). */
  failureLogs?: FailureLogs
}

interface Run {
  settings: RestartSettings
  release: ReleaseRun
  transport: ReleaseTransport
  deps: RestartDeps
  log: Logger
  /** Failures allowed (max-errors; none for a single host). */
  allowed: number
  concurrency: number
  /** Behind target groups: each switch batch drained before, healthy after (traffic-gate.ts). */
  gate?: TrafficGate
  /** Why the gate refused a batch (min-healthy): the run's failure. */
  refused?: string
}

export async function shipRelease(
  settings: RestartSettings,
  release: ReleaseRun,
  targets: readonly RestartTarget[],
  transport: ReleaseTransport,
  deps: RestartDeps,
  report: RestartReport,
  gate?: TrafficGate
): Promise<void> {
  const { log, outputs } = deps
  const total = targets.length
  const run: Run = {
    settings,
    release,
    transport,
    deps,
    log,
    allowed: total > 1 ? allowedCount(settings.maxErrors, total) : 0,
    concurrency: concurrencyCount(settings.maxConcurrency, total),
    gate
  }
  if (deps.signal) setMaxListeners(10 + run.concurrency * 4, deps.signal)
  outputs.set(OUTPUTS.releaseId, release.id)
  outputs.set(OUTPUTS.rolledBack, 'false')
  try {
    await shipEverywhere(run, targets, report)
  } finally {
    await transport.releases.cleanUp?.()
  }
}

async function shipEverywhere(
  run: Run,
  targets: readonly RestartTarget[],
  report: RestartReport
): Promise<void> {
  const { settings, release, transport, deps, log } = run
  const { outputs } = deps
  const total = targets.length
  const open = await transport.releases.prepare(targets, settings, release, deps, log)
  const instances: Instance[] = targets.map(target => ({
    target,
    instanceId: target.instanceId ?? target.address,
    where: transport.where(target),
    output: total > 1 ? new CollectedOutput() : undefined,
    started: Date.now(),
    state: 'pending'
  }))
  try {
    const [only] = instances
    if (instances.length === 1) only.steps = await open(only.target)
    // Behind a target group even one instance is drained first: the gate runs its batch.
    if (only.steps?.shipAndActivate && !run.gate) await shipAlone(run, only)
    else {
      await receiveEverywhere(run, instances, open)
      await switchInBatches(run, instances)
    }
  } finally {
    for (const instance of instances) instance.steps?.close()
    recordRelease(run, instances, report, outputs)
  }
  conclude(run, instances, outputs)
}

/**
 * An instance alone, where the transport can: lock, ship, prepare, switch, restart, check, prune
 * and unlock in one go; a failure after the switch rolls back, one before it leaves current alone.
 */
async function shipAlone(run: Run, instance: Instance): Promise<void> {
  const { release, deps } = run
  const steps = instance.steps as InstanceRelease
  run.log.info(
    `Shipping release ${release.id} to ${instance.where ?? instance.instanceId} ${run.transport.via} into ${release.settings.appDir}/releases/, ` +
      'then switching to it.'
  )
  const archive = run.transport.releases.streamsArchive ? release.archive() : undefined
  try {
    const { previous, checked } = await (
      steps.shipAndActivate as NonNullable<InstanceRelease['shipAndActivate']>
    )(archive, instance.output)
    instance.previous = previous
    instance.state = 'live'
    instance.finished = true
    instance.runs = `${release.id} (${checked})`
    return
  } catch (error) {
    const failure = error instanceof ShipFailure ? error : undefined
    const cause = failure ? failure.failure : error
    instance.previous = failure?.previous
    if (cause instanceof StoppedError) {
      await steps.abandon()
      throw withStopState(cause, unusedMessage(run))
    }
    recordFailure(run, instance, cause)
    if (!failure?.switched) {
      await steps.abandon(instance.output)
      throwIfStopped(deps.signal, unusedMessage(run))
      return
    }
  } finally {
    archive?.destroy()
  }
  await goBack(run, instance, 'its failure')
}

function unusedMessage(run: Run): string {
  return `release ${run.release.id} was switched nowhere: what was received is removed, or where the connection was lost left unused in ${run.release.settings.appDir}/releases`
}

/** Step one, on every instance: lock, ship, extract, release-command. Nothing is switched. */
async function receiveEverywhere(
  run: Run,
  instances: Instance[],
  open: (target: RestartTarget) => Promise<InstanceRelease>
): Promise<void> {
  const { release, log, deps } = run
  log.info(
    `Shipping release ${release.id} to ${instances.length === 1 ? (instances[0].where ?? instances[0].instanceId) : `${instances.length} instances, ${run.concurrency} at a time`} ` +
      `${run.transport.via} into ${release.settings.appDir}/releases/.`
  )
  const unused = unusedMessage(run)
  try {
    // In waves of max-concurrency, each wave reading one archive: made and compressed once.
    const wave = run.transport.releases.receivesAtOnce ? instances.length : run.concurrency
    for (let start = 0; start < instances.length; start += wave) {
      const failed = instances.filter(i => i.state === 'failed').length
      if (failed > run.allowed || deps.signal?.aborted) break
      const receivers = instances.slice(start, start + wave)
      const archives = run.transport.releases.streamsArchive
        ? broadcast(release.archive(), receivers.length)
        : []
      await Promise.all(
        receivers.map((instance, i) => receiveOne(run, instance, open, archives[i]))
      )
    }
  } catch (error) {
    await Promise.all(instances.map(i => i.steps?.abandon(i.output)))
    throw withStopState(error, unused)
  }
  const received = instances.filter(i => i.state === 'received')
  // Those that failed may hold the lock and a release never switched to.
  await Promise.all(
    instances.filter(i => i.state === 'failed').map(i => i.steps?.abandon(i.output))
  )
  if (deps.signal?.aborted) {
    await Promise.all(received.map(i => i.steps?.abandon()))
    throwIfStopped(deps.signal, unused)
  }
  const failed = instances.filter(i => i.state !== 'received')
  if (failed.length > run.allowed) {
    await Promise.all(received.map(i => i.steps?.abandon(i.output)))
    throw new ActionError(
      instances.length === 1
        ? (failed[0].message ?? 'The release could not be prepared.')
        : `Preparing release ${release.id} failed on ${failed.length} of ${instances.length} instances, more than max-errors ${run.settings.maxErrors.text} allows (${run.allowed}): ${describeFailed(results(failed))}. ` +
            `Nothing was switched anywhere.${culprit(failed)}`
    )
  }
}

/** One instance's lock, upload and release-command; its share of the archive always ends. */
async function receiveOne(
  run: Run,
  instance: Instance,
  open: (target: RestartTarget) => Promise<InstanceRelease>,
  archive: Readable | undefined
): Promise<void> {
  try {
    await attempt(run, instance, async () => {
      instance.steps ??= await open(instance.target)
      const { previous } = await instance.steps.receive(archive, instance.output)
      instance.previous = previous
      instance.state = 'received'
    })
  } finally {
    archive?.destroy()
  }
}

/**
 * Step two, batch by batch: switch, restart, check; a failed instance goes back. Once more than
 * max-errors have failed, no further batch starts, and every instance switched in this run goes
 * back too. A switch under way is not cut short by a stop: the stop comes after its batch.
 */
async function switchInBatches(run: Run, instances: Instance[]): Promise<void> {
  const received = instances.filter(i => i.state === 'received')
  if (run.gate) run.refused = await switchBehindGate(run, run.gate, instances)
  for (let start = 0; !run.gate && start < received.length; start += run.concurrency) {
    throwIfStopped(run.deps.signal, stoppedBetweenBatches(run, instances))
    const batch = received.slice(start, start + run.concurrency)
    const alone = instances.length === 1
    await Promise.all(batch.map(instance => activate(run, instance, alone)))
    if (instances.filter(i => i.state === 'failed').length > run.allowed) break
  }
  if (run.refused || instances.filter(i => i.state === 'failed').length > run.allowed) {
    await sendBack(
      run,
      instances.filter(i => i.state === 'live')
    )
    await Promise.all(
      instances.filter(i => i.state === 'received').map(i => i.steps?.abandon(i.output))
    )
    return
  }
  await Promise.all(
    instances
      .filter(i => i.state === 'live' && !i.finished)
      .map(i => i.steps?.finish(i.previous, i.output).catch(() => undefined))
  )
}

/**
 * The switch batches through the gate: each batch drained, switched, restarted and checked (a
 * failed instance rolled back) before it is registered back; one that does not become healthy
 * in its group goes back to its previous release and stays out.
 */
async function switchBehindGate(
  run: Run,
  gate: TrafficGate,
  instances: Instance[]
): Promise<string | undefined> {
  const received = instances.filter(i => i.state === 'received')
  const byId = new Map(received.map(i => [i.instanceId, i]))
  const failedCount = () => instances.filter(i => i.state === 'failed').length
  try {
    return await gate.runBatches(received, run.concurrency, {
      keyOf: instance => instance.instanceId,
      mayGoOn: () => failedCount() <= run.allowed && !run.deps.signal?.aborted,
      async run(batch) {
        await Promise.all(batch.map(instance => activate(run, instance, false)))
        return new Set(batch.filter(i => i.state === 'failed').map(i => i.instanceId))
      },
      async unhealthy(key, message) {
        const instance = byId.get(key) as Instance
        note(instance, message)
        await goBack(run, instance, 'not healthy in its target group')
      }
    })
  } catch (error) {
    throw withStopState(error, stoppedBetweenBatches(run, instances))
  }
}

/**
 * Beyond max-errors, every instance switched in this run goes back, so the fleet ends on one
 * version; behind target groups, batch by batch through the gate, so that none restarts while it
 * takes traffic. Were the gate to refuse a batch (min-healthy), the rest still go back.
 */
async function sendBack(run: Run, live: Instance[]): Promise<void> {
  const each = (batch: Instance[]) => Promise.all(batch.map(i => goBack(run, i, 'the fleet')))
  if (!run.gate || live.length === 0) {
    await each(live)
    return
  }
  const byId = new Map(live.map(i => [i.instanceId, i]))
  const refused = await run.gate.runBatches(live, run.concurrency, {
    keyOf: instance => instance.instanceId,
    mayGoOn: () => true,
    async run(batch) {
      await each(batch)
      return new Set(batch.filter(i => i.rolledBack?.healthy === false).map(i => i.instanceId))
    },
    unhealthy: (key, message) => note(byId.get(key) as Instance, message)
  })
  if (!refused) return
  run.log.warning(`${refused} The others go back to their previous release in their target group.`)
  await each(live.filter(i => !i.rolledBack))
}

/** One instance's switch, restart and check; on failure, its rollback. Never rejects. */
async function activate(run: Run, instance: Instance, alone: boolean): Promise<void> {
  const steps = instance.steps as InstanceRelease
  await attempt(run, instance, async () => {
    // Alone, nothing can send it back once it is healthy: prune and unlock in the same go.
    const finish = alone ? { previous: instance.previous } : undefined
    const checked = await steps.activate(instance.output, finish)
    instance.finished = alone
    instance.state = 'live'
    instance.runs = `${run.release.id} (${checked})`
  })
  if (instance.state === 'failed') await goBack(run, instance, 'its failure')
}

/** Back to the previous release, restarted and checked again; or why not. */
async function goBack(run: Run, instance: Instance, why: string): Promise<void> {
  const { release } = run
  const { appDir, rollbackOnFailure } = release.settings
  const steps = instance.steps as InstanceRelease
  const where = instance.where ?? instance.instanceId
  if (!rollbackOnFailure) {
    note(
      instance,
      `rollback-on-failure is false: ${appDir}/current stays on release ${release.id} on ${where}.`
    )
    instance.runs = `${release.id} (failed, not rolled back)`
    await steps.abandon(instance.output)
    return
  }
  if (instance.previous === undefined) {
    note(
      instance,
      `This was the first release on ${where}: there is nothing to go back to, so ${appDir}/current stays on ${release.id}.`
    )
    instance.runs = `${release.id} (failed, first release)`
    await steps.abandon(instance.output)
    return
  }
  if (instance.state === 'live') {
    instance.state = 'failed'
    instance.result = { status: 'RolledBack' }
  }
  try {
    await steps.rollback(instance.previous, instance.output)
    instance.rolledBack = { healthy: true }
    note(
      instance,
      `Rolled back on ${where} (${why}): ${appDir}/current points to release ${instance.previous} again, restarted, and it came up healthy.`
    )
  } catch (error) {
    instance.rolledBack = { healthy: false }
    const { message } = run.transport.failure(error)
    note(
      instance,
      `Rolled back on ${where} (${why}) to release ${instance.previous}, but that did not come up healthy either: ${message}`
    )
  }
  instance.runs = `${instance.previous} (rolled back${instance.rolledBack.healthy ? '' : ', unhealthy'})`
  await steps.abandon(instance.output)
}

function note(instance: Instance, text: string): void {
  instance.message = instance.message ? `${instance.message}\n${text}` : text
}

/** Runs one step of an instance; a failure marks it failed, in the transport's words. */
async function attempt(run: Run, instance: Instance, work: () => Promise<void>): Promise<void> {
  try {
    await work()
  } catch (error) {
    if (error instanceof StoppedError && instance.output === undefined) throw error
    recordFailure(run, instance, error)
  }
}

/** The instance failed: its row, its message, and what it said of the unit (input "failure-logs"). */
function recordFailure(run: Run, instance: Instance, error: unknown): void {
  const { status, exitCode, message, logs } = run.transport.failure(error)
  instance.state = 'failed'
  instance.result = { status, exitCode }
  instance.message = message
  // The first failure's: a rollback's restart would show the previous release's unit.
  instance.failureLogs ??= logs
}

function stoppedBetweenBatches(run: Run, instances: Instance[]): string {
  const live = instances.filter(i => i.state === 'live').length
  return `release ${run.release.id} is live on ${live} of ${instances.length} instance(s); the others were not switched (it is left unused there)`
}

function results(instances: Instance[]): InstanceResult[] {
  return instances.map(i => ({
    instanceId: i.instanceId,
    status: i.result?.status ?? (i.state === 'pending' ? 'NotStarted' : 'Success'),
    exitCode: i.result?.exitCode ?? (i.state === 'live' ? 0 : undefined)
  }))
}

function culprit(failed: Instance[]): string {
  const first = failed.find(i => i.message !== undefined)
  return first ? `\n${first.instanceId}: ${first.message}` : ''
}

/** The outputs and the summary: what runs where. */
function recordRelease(
  run: Run,
  instances: Instance[],
  report: RestartReport,
  outputs: StepOutputs
): void {
  const previous = [...new Set(instances.map(i => i.previous ?? ''))]
  outputs.set(OUTPUTS.previousReleaseId, previous.length === 1 ? previous[0] : '')
  const back = instances.filter(i => i.rolledBack)
  outputs.set(OUTPUTS.rolledBack, String(back.length > 0))
  outputs.set(OUTPUTS.rolledBackInstances, JSON.stringify(back.map(i => i.instanceId)))
  const withLogs = instances.filter(i => i.failureLogs !== undefined)
  for (const instance of withLogs)
    printFailureLogs(
      run.log,
      instance.where ?? instance.instanceId,
      instance.failureLogs as FailureLogs
    )
  if (withLogs.length > 0) {
    report.failureLogs = withLogs.map(i => ({
      where: i.where ?? i.instanceId,
      logs: i.failureLogs as FailureLogs
    }))
  }
  const commandIds = run.transport.releases.commandIds?.() ?? []
  if (commandIds.length > 0) outputs.set(OUTPUTS.commandId, commandIds.join(','))
  const { unit } = run.settings.script
  if (instances.length === 1) {
    const [only] = instances
    report.restart = {
      host: only.where ?? only.instanceId,
      unit,
      result:
        only.state === 'live'
          ? `release ${only.runs}`
          : `failed; runs ${only.runs ?? 'what it ran'}`
    }
    return
  }
  report.fleet = {
    unit,
    commandIds: run.transport.releases.commandIds?.() ?? [],
    ...(run.transport.name === 'ssh' ? { via: 'ssh' as const } : {}),
    results: results(instances).map((row, i) => ({
      ...row,
      durationMs: Date.now() - instances[i].started,
      release: instances[i].runs ?? instances[i].previous ?? '-'
    }))
  }
  if (run.gate) report.fleet.results = run.gate.annotate(report.fleet.results)
  for (const [i, row] of report.fleet.results.entries()) printGroup(run.log, instances[i], row)
}

function printGroup(log: Logger, instance: Instance, row: InstanceResult): void {
  const output = instance.output as CollectedOutput
  for (const line of (instance.message ?? '').split('\n')) if (line) output.line(line)
  printInstanceGroup(log, row, output.collected(), undefined, instance.where)
}

/** The run's end: fails beyond max-errors (or on a single host's failure), warns within it. */
function conclude(run: Run, instances: Instance[], outputs: StepOutputs): void {
  const { release, log } = run
  if (run.refused) throw new ActionError(run.refused)
  const failed = instances.filter(i => i.state !== 'live')
  if (failed.length > run.allowed) {
    if (instances.length === 1) throw new ActionError(failed[0].message ?? 'The release failed.')
    throw new ActionError(
      `Release ${release.id} failed on ${failed.length} of ${instances.length} instances, more than max-errors ` +
        `${run.settings.maxErrors.text} allows (${run.allowed}): ${describeFailed(results(failed))}. ` +
        'No further batch was started, and every instance switched in this run went back to its previous release, so the fleet runs one version.' +
        culprit(failed)
    )
  }
  if (failed.length > 0) {
    log.warning(
      `${failed.length} of ${instances.length} instances did not take release ${release.id} (${describeFailed(results(failed))}); ` +
        `they run their previous release (output rolled-back-instances). Within max-errors ${run.settings.maxErrors.text}, so the step passes, with restarted false.`
    )
    return
  }
  outputs.set(OUTPUTS.restarted, 'true')
  log.info(
    `Release ${release.id} is live on ${instances.length === 1 ? (instances[0].where ?? instances[0].instanceId) : `${instances.length} instances`}` +
      ` (${release.settings.appDir}/current), "${run.settings.script.unit}" restarted and healthy.`
  )
}
