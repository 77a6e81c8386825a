import type { CommandInvocation, SSMClient } from '@aws-sdk/client-ssm'
import { randomBytes } from 'node:crypto'
import { ActionError } from '../../lib/errors.js'
import { LineSplitter } from '../../lib/lines.js'
import { maskSecret, quoteUntrusted, UntrustedOutput, type UntrustedSink } from '../../lib/log.js'
import { parseRate, type Rate } from '../rate.js'
import { checkedWords } from '../script.js'
import {
  downloadAndReceiveCommand,
  lockCommand,
  pruneCommand,
  releaseCommand,
  switchCommand,
  unlockCommand
} from '../../release/remote-scripts.js'
import { releaseIdFromInstance } from '../../release/settings.js'
import type { ReleaseStore, StoredArchive } from '../../release/s3-store.js'
import type { InstanceRelease, ReleaseRun, ReleaseTransport } from '../release-steps.js'
import type { RestartDeps, RestartSettings } from '../transport.js'
import { MAX_IDS_PER_COMMAND } from './command.js'
import type { RunCommandOptions } from './run-command.js'

/** The Run Command module, loaded with the SSM client when the release starts. */
type RunCommandModule = typeof import('./run-command.js')

// A release with SSM Run Command: the archive goes once to S3, and each step on the instances is
// one command for all of them that take it at the same moment (one per 50 instances): the engine
// asks for a step instance by instance, and the calls made together go out together. Every
// instance downloads the archive with a presigned URL, so it needs no S3 permission and no route
// to GitHub, and checks its sha256 before extracting. Run Command runs as root.

export interface SsmReleaseSettings {
  /** Input "ssm-timeout": for the agents, and for each step's command. */
  timeoutSeconds: number
}

/** One instance's part of a command, as the step that asked for it sees it. */
interface Outcome {
  invocation?: CommandInvocation
  status: string
  exitCode?: number
  stdout: string
  stderr: string
}

/** A step failed on an instance: its status, exit code and last lines, in the engine's words. */
export class SsmStepError extends ActionError {
  constructor(
    message: string,
    readonly status: string,
    readonly exitCode: number | undefined
  ) {
    super(message)
  }
}

const ALL = parseRate('100%')
const STEP_STDERR_LINES = 20

/** The release through SSM Run Command, for the engine (restart/release-engine.ts). */
export function ssmReleaseTransport(
  settings: SsmReleaseSettings,
  ssm: () => Promise<SSMClient>,
  store: () => Promise<ReleaseStore>
): ReleaseTransport {
  const commandIds: string[] = []
  let stored: ReleaseStore | undefined
  return {
    name: 'ssm',
    via: 'with SSM Run Command',
    where: target => target.instanceId,
    failure: error =>
      error instanceof SsmStepError
        ? { status: error.status, exitCode: error.exitCode, message: error.message }
        : { status: 'Failed', message: error instanceof Error ? error.message : String(error) },
    releases: {
      streamsArchive: false,
      receivesAtOnce: true,
      commandIds: () => [...commandIds],
      cleanUp: async () => stored?.remove(),
      async prepare(targets, restart, release, deps, log) {
        const runCommands = await import('./run-command.js')
        const client = await ssm()
        const options = {
          ssm: client,
          instanceIds: targets.map(target => target.instanceId as string).sort(),
          maxConcurrency: ALL,
          maxErrors: ALL,
          timeoutSeconds: settings.timeoutSeconds,
          sleep: deps.sleep,
          signal: deps.signal,
          log
        }
        await runCommands.waitForOnlineAgents(options)
        stored = await store()
        log.info(`Uploading release ${release.id} to ${stored.name}.`)
        const archive = await stored.put(release.archive(), settings.timeoutSeconds, deps.signal)
        // A bearer token for the archive until it expires: never shown, should anything quote it.
        maskSecret(archive.url)
        log.info(`Uploaded release ${release.id} (sha256 ${archive.sha256}).`)
        const batcher = new StepBatcher(runCommands, options, commandIds)
        const marker = `sda-current-${randomBytes(12).toString('hex')}`
        return async target =>
          instanceRelease(target.instanceId as string, {
            batcher,
            restart,
            release,
            archive,
            settings,
            deps,
            // One for the whole run: every instance's receive is one command line.
            marker
          })
      }
    }
  }
}

interface Context {
  batcher: StepBatcher
  restart: RestartSettings
  release: ReleaseRun
  archive: StoredArchive
  settings: SsmReleaseSettings
  deps: RestartDeps
  /** Begins the line where the lock prints where current pointed. */
  marker: string
}

/** A step: its one command line, and how its failure is named. */
interface Step {
  line: string
  doing: string
  timeoutSeconds: number
  /** SSM's own bound on how many run it at once; the engine's batches bound the other steps. */
  maxConcurrency?: Rate
  /**
   * The step's cancellation cancels it (receiving); every other step runs to its end, as over SSH:
   * a switch under way finishes, and unlocking always runs.
   */
  stoppable?: boolean
  /** What a stop of this step leaves, as the step's error says it. */
  leaves?: string
}

function instanceRelease(instanceId: string, context: Context): InstanceRelease {
  const { release, restart, settings } = context
  const { appDir, keep } = release.settings
  const restartLine = restart.script.runCommandLines.join(' && ')
  const run = (step: Step, output?: UntrustedSink) => runStep(context, instanceId, step, output)
  const switchTo = (id: string): Step => ({
    line: `${switchCommand(appDir, id)} && ${restartLine}`,
    doing: `Switching ${appDir}/current to release ${id} and restarting "${restart.script.unit}"`,
    timeoutSeconds: settings.timeoutSeconds
  })
  const pruneAndUnlock = (previous: string | undefined) =>
    `${pruneCommand(appDir, keep, release.id, previous)} && ${unlockCommand(appDir, release.holder)}`
  const checked = checkedWords(restart.script)
  return {
    async receive(_archive, output) {
      const { marker } = context
      const outcome = await run(receiveStep(context, marker), output)
      const pointed = outcome.stdout
        .split('\n')
        .find(line => line.startsWith(`${marker} `) || line === marker)
      return { previous: releaseIdFromInstance(pointed?.slice(marker.length + 1) ?? '') }
    },
    async activate(output, finish) {
      const step = switchTo(release.id)
      if (finish) step.line += ` && ${pruneAndUnlock(finish.previous)}`
      await run(step, output)
      return checked
    },
    async rollback(previous, output) {
      await run(switchTo(previous), output)
      return checked
    },
    async finish(previous, output) {
      await run(
        {
          line: pruneAndUnlock(previous),
          doing: `Removing old releases in ${appDir}/releases`,
          timeoutSeconds: settings.timeoutSeconds
        },
        output
      )
    },
    async abandon(output) {
      await run(
        {
          line: unlockCommand(appDir, release.holder, release.id),
          doing: `Unlocking ${appDir}`,
          timeoutSeconds: settings.timeoutSeconds
        },
        output
      ).catch(() => undefined)
    },
    close: () => undefined
  }
}

/** Lock, download and check, extract, release-command: one line, each part only if the last passed. */
function receiveStep(context: Context, marker: string): Step {
  const { release, archive } = context
  const { appDir, timeoutSeconds, command } = release.settings
  const layout = { appDir, releaseId: release.id }
  const parts = [
    lockCommand(layout, release.holder, timeoutSeconds, marker),
    downloadAndReceiveCommand(layout, release.revision, {
      url: archive.url,
      sha256: archive.sha256,
      bytes: archive.bytes,
      timeoutSeconds
    }),
    ...(command !== '' ? [releaseCommand(layout, command)] : [])
  ]
  return {
    line: parts.join(' && '),
    doing: `Receiving release ${release.id} into ${appDir}/releases${command ? ' and running input "release-command"' : ''}`,
    // The lock's wait, the download with its extraction, and release-command: each within
    // release-timeout, as over SSH.
    timeoutSeconds: timeoutSeconds * 3,
    // Every instance receives in one command (one per 50): SSM keeps to max-concurrency.
    maxConcurrency: context.restart.maxConcurrency,
    stoppable: true,
    leaves: `release ${release.id} was switched nowhere: what the instances received is removed, and they run the release they ran`
  }
}

/** Runs one step on one instance, through the batcher; rejects with SsmStepError on failure. */
async function runStep(
  context: Context,
  instanceId: string,
  step: Step,
  output: UntrustedSink | undefined
): Promise<Outcome> {
  const outcome = await context.batcher.run(instanceId, step)
  const sink = output ?? new UntrustedOutput()
  for (const [name, text] of [
    ['stdout', outcome.stdout],
    ['stderr', outcome.stderr]
  ] as const) {
    if (text.trim() === '') continue
    if (outcome.stderr.trim() !== '') sink.line(`--- ${name} ---`)
    const splitter = new LineSplitter(line => sink.line(line))
    splitter.write(text)
    splitter.end()
  }
  if (outcome.status === 'Success') return outcome
  const last = (outcome.stderr || outcome.stdout)
    .split('\n')
    .filter(line => line.trim() !== '')
    .slice(-STEP_STDERR_LINES)
    .map(line => `  ${quoteUntrusted(line, 500)}`)
  const exit = outcome.exitCode === undefined ? '' : `, exit code ${outcome.exitCode}`
  throw new SsmStepError(
    `${step.doing} on ${instanceId} failed (${outcome.status}${exit}).` +
      (last.length > 0 ? `\n${last.join('\n')}` : ''),
    outcome.status,
    outcome.exitCode
  )
}

/**
 * The steps asked for at the same moment (the engine asks for a batch's steps together), with the
 * same command line, go out as one Run Command (one per 50 instances); each caller gets its own
 * instance's outcome.
 */
class StepBatcher {
  private readonly queued = new Map<
    string,
    { step: Step; waiting: Map<string, (outcome: Outcome | Error) => void> }
  >()
  private scheduled = false

  constructor(
    private readonly runCommands: RunCommandModule,
    private readonly options: Omit<RunCommandOptions, 'command' | 'instanceIds'>,
    private readonly commandIds: string[]
  ) {}

  run(instanceId: string, step: Step): Promise<Outcome> {
    const key = [step.timeoutSeconds, step.maxConcurrency?.text, step.stoppable, step.line].join(
      '\n'
    )
    const group = this.queued.get(key) ?? { step, waiting: new Map() }
    this.queued.set(key, group)
    const outcome = new Promise<Outcome | Error>(resolve => group.waiting.set(instanceId, resolve))
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => void this.flush())
    }
    return outcome.then(result => {
      if (result instanceof Error) throw result
      return result
    })
  }

  private async flush(): Promise<void> {
    this.scheduled = false
    const groups = [...this.queued.values()]
    this.queued.clear()
    await Promise.all(groups.map(group => this.send(group.step, group.waiting)))
  }

  private async send(
    step: Step,
    waiting: Map<string, (outcome: Outcome | Error) => void>
  ): Promise<void> {
    const ids = [...waiting.keys()].sort()
    for (let start = 0; start < ids.length; start += MAX_IDS_PER_COMMAND) {
      const part = ids.slice(start, start + MAX_IDS_PER_COMMAND)
      try {
        const { commandIds, invocations } = await this.runCommands.runCommand(
          {
            ...this.options,
            signal: step.stoppable ? this.options.signal : undefined,
            maxConcurrency: step.maxConcurrency ?? ALL,
            instanceIds: part,
            command: {
              lines: [step.line],
              comment: 'secrets-deploy-action: release step',
              leaves: step.leaves
            }
          },
          step.timeoutSeconds
        )
        this.commandIds.push(...commandIds)
        const byId = new Map(invocations.map(i => [i.InstanceId ?? '', i]))
        for (const id of part) waiting.get(id)?.(await this.outcome(id, byId.get(id)))
      } catch (error) {
        for (const id of part) waiting.get(id)?.(error as Error)
      }
    }
  }

  /** One instance's end: its full output when it failed (GetCommandInvocation), else the listing's. */
  private async outcome(instanceId: string, invocation?: CommandInvocation): Promise<Outcome> {
    const { describeInvocation, fullOutput, pluginOutput } = this.runCommands
    const { status, exitCode } = describeInvocation(instanceId, invocation)
    const output =
      invocation && status !== 'Success'
        ? await fullOutput(this.options.ssm, invocation)
        : pluginOutput(invocation)
    return { invocation, status, exitCode, stdout: output.stdout, stderr: output.stderr }
  }
}
