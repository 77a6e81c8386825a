import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { OUTPUTS } from '../lib/output-names.js'
import type { RestartReport } from '../restart/report.js'
import { StoppedError } from '../lib/cancel.js'
import { ActionError, failureMessage } from '../lib/errors.js'
import { shownVersionId, type Logger, type StepOutputs } from '../lib/log.js'
import { restart } from '../restart/engine.js'
import type {
  RestartDeps,
  RestartSettings,
  RestartTarget,
  RestartTransport
} from '../restart/transport.js'
import {
  keyList,
  rotateKeys,
  undoRotation,
  type RotateRequest,
  type Rotation,
  type UndoneRotation
} from '../secrets/rotate.js'
import type { JsonSecret } from '../secrets/read.js'

/** What the rotation tells the job summary, beside the restart's rows: key names and versions. */
export interface RotationReport extends RestartReport {
  /** The keys given new values, and, when the restart failed, how it was undone. */
  rotation?: {
    secretId: string
    keys: string[]
    versionId: string
    undone?: { versionId: string; restartedAgain: string }
  }
}

// Input "rotate": new values for app-secret keys, then the restart that makes the service load
// them; when the service does not come back, both are undone.

/** What the rotation phase works on: the app secret as this run read (and checked) it. */
export interface RotationPhase {
  request: RotateRequest
  app: JsonSecret
  client: SecretsManagerClient
  log: Logger
  outputs: StepOutputs
}

/** The restart, as the plan built it. */
export interface PlannedRestart {
  settings: RestartSettings
  transport: RestartTransport
}

/** A single failed instance is enough to undo: more would mean a fleet split between two keys. */
const NO_ERRORS = { text: '0', value: 0, percent: false } as const

/** Fleet statuses of an instance the command never reached, so nothing to restart again. */
const NOT_RESTARTED = new Set(['NotStarted', 'Cancelled', 'Undeliverable'])

/**
 * Rotates the keys, restarts every target so the service loads them, and sets the outputs
 * `app-secret-version-id` and `rotated`. When any instance fails, the keys go back (only where
 * they still hold this run's values), the instances already restarted are restarted again on the
 * old values, and the step fails saying so.
 */
export async function rotateAndRestart(
  phase: RotationPhase,
  planned: PlannedRestart,
  targets: readonly RestartTarget[],
  deps: RestartDeps,
  report: RotationReport
): Promise<void> {
  const { request, app, client, log, outputs } = phase
  const rotation = await rotateKeys(client, app, request, log, deps.signal)
  report.rotation = { secretId: app.id, keys: [...request.keys], versionId: rotation.versionId }
  outputs.set(OUTPUTS.appSecretVersionId, rotation.versionId)
  log.info(
    `Rotated ${keyList(request.keys)} of the app secret "${app.id}": version ${shownVersionId(rotation.versionId)} is current. ` +
      'Restarting so that the service loads them; if any instance fails, the rotation is undone.'
  )
  try {
    await restart(
      { ...planned.settings, maxErrors: NO_ERRORS },
      targets,
      planned.transport,
      deps,
      report
    )
  } catch (error) {
    if (error instanceof StoppedError) {
      throw new StoppedError(
        error.request,
        `${error.state ?? planned.transport.stopped(targets.length > 1)}; the rotated ${keyList(request.keys)} keep ` +
          `their new values (version ${shownVersionId(rotation.versionId)}): restart again to load them everywhere`
      )
    }
    throw await undo(phase, rotation, error, planned, targets, deps, report)
  }
  outputs.set(OUTPUTS.rotated, JSON.stringify(request.keys))
}

/** Undoes the rotation after `failure`; returns the error the step fails with. */
async function undo(
  phase: RotationPhase,
  rotation: Rotation,
  failure: unknown,
  planned: PlannedRestart,
  targets: readonly RestartTarget[],
  deps: RestartDeps,
  report: RotationReport
): Promise<ActionError> {
  const { client, log, outputs } = phase
  const keys = keyList(rotation.keys)
  const cause = `The restart with the rotated ${keys} failed (with input "rotate", one failed instance is enough)`
  let undone: UndoneRotation
  try {
    undone = await undoRotation(client, rotation, log)
  } catch (error) {
    return new ActionError(
      `${cause}, and putting the old values back failed too: ${failureMessage(error)} Version ${shownVersionId(rotation.versionId)} ` +
        `with the new values is still current; "secrets-deploy rollback" puts the previous version back.\n${failureMessage(failure)}`
    )
  }
  outputs.set(OUTPUTS.appSecretVersionId, undone.versionId)
  const kept = undone.kept.length
    ? ` (${keyList(undone.kept)} kept as another writer changed ${undone.kept.length === 1 ? 'it' : 'them'} during the run)`
    : ''
  const restored = `the old values are back in version ${shownVersionId(undone.versionId)}${kept}`
  const again = await restartAgain(planned, targets, deps, report)
  if (report.rotation)
    report.rotation.undone = { versionId: undone.versionId, restartedAgain: again }
  // The step fails: the restart it was run for did not succeed, whatever the second one did.
  outputs.set(OUTPUTS.restarted, 'false')
  log.info(`Undid the rotation: ${restored}; ${again}.`)
  return new ActionError(
    `${cause}, so it was undone: ${restored}; ${again}.\n${failureMessage(failure)}`
  )
}

/**
 * Restarts again, on the old values, the instances the failed restart reached. The summary keeps
 * the failed restart's table: that is what the run is about.
 */
async function restartAgain(
  planned: PlannedRestart,
  targets: readonly RestartTarget[],
  deps: RestartDeps,
  report: RotationReport
): Promise<string> {
  const reached = reachedTargets(targets, report)
  if (reached.length === 0) return 'no instance had been restarted, so none was restarted again'
  const first = { restart: report.restart, fleet: report.fleet }
  const count = `${reached.length} instance${reached.length === 1 ? '' : 's'}`
  try {
    await restart(planned.settings, reached, planned.transport, deps, report)
    return `the ${count} already restarted ${reached.length === 1 ? 'was' : 'were'} restarted again on the old values`
  } catch (error) {
    return `restarting the ${count} already restarted again on the old values failed too: ${failureMessage(error)}`
  } finally {
    report.restart = first.restart
    report.fleet = first.fleet
  }
}

/** The targets the failed restart reached: every one it did not leave untouched. */
function reachedTargets(
  targets: readonly RestartTarget[],
  report: RotationReport
): RestartTarget[] {
  // A connection opened early is used up by the first restart.
  const fresh = targets.map(({ instanceId, address }) => ({ instanceId, address }))
  if (!report.fleet) return report.restart ? fresh : []
  const ran = report.fleet.results.filter(r => !NOT_RESTARTED.has(r.status))
  // A single target at the secret's address has no id until the fleet transport looked it up.
  if (targets.length === 1) return ran.length > 0 ? fresh : []
  const ids = new Set(ran.map(r => r.instanceId))
  return fresh.filter(t => ids.has(t.instanceId ?? t.address))
}
