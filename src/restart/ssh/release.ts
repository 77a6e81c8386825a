import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { ActionError } from '../../lib/errors.js'
import { UntrustedOutput, type Logger, type UntrustedSink } from '../../lib/log.js'
import {
  lockCommand,
  pruneCommand,
  receiveCommand,
  releaseCommand,
  switchCommand,
  unlockCommand
} from '../../release/remote-scripts.js'
import { releaseIdFromInstance } from '../../release/settings.js'
import {
  ShipFailure,
  type InstanceRelease,
  type ReleaseRun,
  type ReleaseSteps
} from '../release-steps.js'
import type { HostKeyPolicy, RestartDeps, RestartSettings, RestartTarget } from '../transport.js'
import { connectWithRetries, type SshConnection } from './connect.js'
import type { HostKeyCheck } from './host-keys.js'
import { readFailureLogs, RemoteStepError, runSteps, type RemoteStep } from './remote-shell.js'
import { checkedWords } from '../script.js'
import { remoteSteps, type SshTransportSettings } from './transport.js'

// A release over SSH: one connection per instance for the whole release (lock, upload, switch,
// restart, check, prune), the archive streamed into `tar -x` on that connection's channel.

/** The release steps over SSH; the same login and host key checks as the restart's. */
export function sshReleases(settings: SshTransportSettings, hostKeys: HostKeyPolicy): ReleaseSteps {
  return {
    streamsArchive: true,
    async prepare(targets, restart, release, deps, log) {
      const hostKeysFor = await hostKeys(targets, deps)
      return async target => {
        if (target.address === '') {
          throw new ActionError(
            `Instance ${target.instanceId} has no ${settings.addressType} address (input "address-type"), so it cannot be reached over SSH.`
          )
        }
        return instanceRelease(target, await hostKeysFor(target), {
          settings,
          restart,
          release,
          deps,
          log
        })
      }
    }
  }
}

interface Context {
  settings: SshTransportSettings
  restart: RestartSettings
  release: ReleaseRun
  deps: RestartDeps
  log: Logger
}

function instanceRelease(
  target: RestartTarget,
  hostKeys: HostKeyCheck,
  context: Context
): InstanceRelease {
  const { settings, release, deps } = context
  let connection: SshConnection | undefined
  const connected = async () => (connection ??= await connect(target, hostKeys, context))
  // Only receiving stops at the step's cancellation: a switch under way finishes (with its
  // restart and check), and unlocking always runs, so that a stop leaves no lock behind.
  const steps = async (list: RemoteStep[], output?: UntrustedSink, archive?: Readable) => {
    const open = await connected()
    try {
      await runSteps(open, list, settings.commandTimeoutMs, output, archive && deps.signal, archive)
    } catch (error) {
      await withFailureLogs(error, list, open, context)
      throw error
    }
  }
  const where = () => connection?.where ?? `${target.address}:${settings.port}`
  const switchTo = (id: string) => switchAndRestart(context, where(), id)
  const finishSteps = (previous: string | undefined) => pruneAndUnlock(context, where(), previous)
  return {
    async receive(archive, output) {
      const at = (await connected()).where
      return { previous: await receiveThen(context, steps, at, { archive, output }) }
    },
    async shipAndActivate(archive, output) {
      const at = (await connected()).where
      const after = [...switchTo(release.id), ...finishSteps(undefined)]
      const previous = await receiveThen(context, steps, at, { archive, output, after })
      return { previous, checked: checkedWords(context.restart.script) }
    },
    async activate(output, finish) {
      await steps(
        [...switchTo(release.id), ...(finish ? finishSteps(finish.previous) : [])],
        output
      )
      return checkedWords(context.restart.script)
    },
    async rollback(previous, output) {
      await steps(switchTo(previous), output)
      return checkedWords(context.restart.script)
    },
    async finish(previous, output) {
      await steps(finishSteps(previous), output)
    },
    async abandon(output) {
      // Without a connection nothing was locked or shipped.
      if (!connection) return
      try {
        await steps([unlockStep(context, where(), release.id)], output)
      } catch {
        // The lock names this run; the next run waits for it, then says whose it is.
      }
    },
    close: () => connection?.close()
  }
}

/** One connection for the whole release on the instance, with the restart's retries. */
function connect(target: RestartTarget, hostKeys: HostKeyCheck, context: Context) {
  const { settings, deps, log } = context
  return connectWithRetries({
    host: target.address,
    port: settings.port,
    credentials: settings.credentials,
    hostKeys,
    timeoutMs: settings.connectTimeoutMs,
    sleep: deps.sleep,
    warn: message => log.warning(`${target.instanceId ?? target.address}: ${message}`),
    signal: deps.signal,
    earlySocket: target.earlySocket
  })
}

type StepRunner = (list: RemoteStep[], output?: UntrustedSink, archive?: Readable) => Promise<void>

/**
 * Lock, upload, release-command, and then `after` in the same channel (for an instance alone:
 * switch, restart, check, prune, unlock); resolves to where current pointed. A failure in `after`
 * is a ShipFailure that says whether current was switched by then.
 */
async function receiveThen(
  context: Context,
  run: StepRunner,
  at: string,
  {
    archive,
    output,
    after = []
  }: { archive?: Readable; output?: UntrustedSink; after?: RemoteStep[] }
): Promise<string | undefined> {
  const marker = `sda-current-${randomBytes(12).toString('hex')}`
  // The lock's line alone: what a later step prints (release-command's output) cannot stand in.
  let pointed: string | undefined
  const capture = capturing(output ?? new UntrustedOutput(), marker, text => (pointed ??= text))
  const receiving = receiveSteps(context, at, marker)
  // From the switch on, a stop lets the steps finish: the run ends on a release that runs.
  const going = after.map(step => ({ ...step, unstoppable: true }))
  try {
    await run([...receiving, ...going], capture, archive)
  } catch (error) {
    if (after.length === 0) throw error
    const failedAt = error instanceof RemoteStepError ? error.step : undefined
    const switched = failedAt !== undefined && failedAt >= receiving.length
    throw new ShipFailure(error, switched, releaseIdFromInstance(pointed ?? ''))
  }
  return releaseIdFromInstance(pointed ?? '')
}

/** After a successful switch: old releases removed (never the live or previous one), then unlocked. */
function pruneAndUnlock(
  context: Context,
  where: string,
  previous: string | undefined
): RemoteStep[] {
  const { release } = context
  const { appDir, keep } = release.settings
  return [
    {
      command: pruneCommand(appDir, keep, release.id, previous),
      shown: `prune ${appDir}/releases (keep-releases ${keep})`,
      doing: `Removing old releases on ${where}`,
      failed: `Removing old releases on ${where} failed`,
      program: 'rm',
      hint: `The release is live; check ${appDir}/releases on the instance.`
    },
    unlockStep(context, where)
  ]
}

function receiveSteps(context: Context, where: string, marker: string): RemoteStep[] {
  const { release } = context
  const { appDir, timeoutSeconds } = release.settings
  const layout = { appDir, releaseId: release.id }
  const limit = { ms: (timeoutSeconds + 10) * 1000, input: 'release-timeout' }
  const list: RemoteStep[] = [
    {
      command: lockCommand(layout, release.holder, timeoutSeconds, marker),
      shown: `lock ${appDir} (waits up to ${timeoutSeconds} s for another release)`,
      doing: `Locking ${appDir} on ${where}`,
      failed: `Locking ${appDir} on ${where} failed`,
      program: 'the lock',
      hint: 'Nothing was shipped or switched.',
      includeStdout: true,
      limit
    },
    {
      command: receiveCommand(layout, release.revision),
      shown: `tar -xz into ${appDir}/releases/${release.id}`,
      doing: `Receiving release ${release.id} on ${where}`,
      failed: `Receiving release ${release.id} on ${where} failed`,
      program: 'tar -x',
      hint: 'Nothing was switched; no half release is left that looks whole.',
      limit
    }
  ]
  if (release.settings.command !== '')
    list.push({
      command: releaseCommand(layout, release.settings.command),
      shown: `cd ${appDir}/releases/${release.id} && ${release.settings.command}`,
      doing: `The release command on ${where}`,
      failed: `The release command (input "release-command") on ${where} failed`,
      program: 'it',
      hint: 'Nothing was switched: the service still runs the release it ran.',
      limit
    })
  return list
}

/** Switch current, then the restart's own two steps, the check under health-timeout. */
function switchAndRestart(context: Context, where: string, id: string): RemoteStep[] {
  const { script } = context.restart
  const { appDir } = context.release.settings
  const [restart, check] = remoteSteps(script, where, context.settings.credentials.username)
  const switchStep: RemoteStep = {
    command: switchCommand(appDir, id),
    shown: `ln -s releases/${id} && mv -T onto ${appDir}/current`,
    doing: `Switching ${appDir}/current to release ${id} on ${where}`,
    failed: `Switching ${appDir}/current to release ${id} on ${where} failed`,
    program: 'mv -T',
    hint: `Check ${appDir}/current on the instance (it must be a symlink, or absent).`
  }
  return [switchStep, { ...restart, aboutTheUnit: true }, { ...check, aboutTheUnit: true }]
}

/**
 * When the restart or the check failed (input "failure-logs"), the unit's status and journal, read
 * over the same connection before anything else happens there (a rollback restarts the unit).
 */
async function withFailureLogs(
  error: unknown,
  list: RemoteStep[],
  connection: SshConnection,
  context: Context
): Promise<void> {
  const { script } = context.restart
  if (!(error instanceof RemoteStepError) || !script.failureLogs || error.step === undefined) return
  if (!list[error.step]?.aboutTheUnit) return
  error.failureLogs = await readFailureLogs(connection, script.failureLogs, script.unit)
}

function unlockStep(context: Context, where: string, unused?: string): RemoteStep {
  const { appDir } = context.release.settings
  return {
    command: unlockCommand(appDir, context.release.holder, unused),
    shown: `unlock ${appDir}${unused ? ` (removing the unused release ${unused})` : ''}`,
    doing: `Unlocking ${appDir} on ${where}`,
    failed: `Unlocking ${appDir} on ${where} failed`,
    program: 'rm',
    hint: `Remove ${appDir}/.release-lock on the instance if no run is under way.`
  }
}

/** A sink that passes every line on but the marker's, whose rest goes to `found`. */
function capturing(
  output: UntrustedSink,
  marker: string,
  found: (text: string) => void
): UntrustedSink {
  return {
    line: text => {
      if (text.startsWith(`${marker} `) || text === marker) found(text.slice(marker.length + 1))
      else output.line(text)
    },
    around: stream => output.around(stream)
  }
}
