import { LineSplitter, OutputTail } from '../lib/lines.js'
import { UntrustedOutput, type Logger, type LogWriter, type UntrustedSink } from '../lib/log.js'
import type { Rate } from './rate.js'
import { formatSeconds } from '../lib/text.js'
import type { InstanceFailureLogs } from './failure-logs.js'

// What a fleet restart shows, whichever way it runs (SSM Run Command or SSH fan-out): one
// collapsible log group per instance, the warning for failures within max-errors and the head of
// the message for failures beyond it.

/** One instance's result: a row of the summary table, the title of its log group. */
export interface InstanceResult {
  instanceId: string
  /** One word: Run Command's status (Success, Failed, ...), or the SSH fan-out's own. */
  status: string
  exitCode?: number
  durationMs?: number
  /** With a release: the release the instance runs now. */
  release?: string
  /** Behind a target group (input "target-group-arn"): how long draining took, or why not. */
  drained?: string
  /** Behind a target group: how long after registering back it was healthy, or "kept out". */
  healthyAfter?: string
}

/** What the restart phase tells the job summary: ids, names and results, never a value. */
export interface RestartReport {
  /** One host over SSH. */
  restart?: { host: string; unit: string; result: string }
  /** restart: ssm, or ssh with several instances: one row per instance. */
  fleet?: {
    unit: string
    /** SSM Run Command's ids; empty over SSH. */
    commandIds: string[]
    via?: 'ssh'
    results: InstanceResult[]
  }
  /** The failed instances' unit status and journal (input "failure-logs"), for the summary. */
  failureLogs?: InstanceFailureLogs[]
  /** Behind target groups: the instances the run left out of them (deregistered). */
  outOfService?: { groupArns: string[]; instanceIds: string[] }
}

/** What an instance printed, and why it is incomplete when it is. */
export interface InstanceOutput {
  stdout: string
  stderr: string
  /** Why the text is incomplete, when it is. */
  cut?: string
}

/** Prints one instance's collapsible log group: its result as the title, its output inside. */
export function printInstanceGroup(
  log: Logger,
  result: InstanceResult,
  output: InstanceOutput,
  write?: LogWriter,
  where?: string
): void {
  const exit = result.exitCode === undefined ? 'no exit code' : `exit code ${result.exitCode}`
  const took = result.durationMs === undefined ? '' : `, ${formatSeconds(result.durationMs)}`
  const name = where ? `${result.instanceId} (${where})` : result.instanceId
  log.startGroup(`${name}: ${result.status}, ${exit}${took}`)
  printOutput(log, output, write)
  log.endGroup()
}

/** The instance's output, wrapped so that no workflow command in it is obeyed; masked by the runner. */
function printOutput(log: Logger, output: InstanceOutput, write?: LogWriter): void {
  const untrusted = new UntrustedOutput(write)
  untrusted.open()
  try {
    for (const [name, text] of [
      ['stdout', output.stdout],
      ['stderr', output.stderr]
    ] as const) {
      if (text.trim() === '') continue
      if (output.stderr !== '') untrusted.line(`--- ${name} ---`)
      const splitter = new LineSplitter(line => untrusted.line(line))
      splitter.write(text)
      splitter.end()
    }
    if (output.stdout.trim() === '' && output.stderr.trim() === '') untrusted.line('(no output)')
  } finally {
    untrusted.close()
  }
  if (output.cut) log.info(`[Output cut: ${output.cut}.]`)
}

/** "i-1 Failed, i-2 TimedOut", at most 50 named. */
export function describeFailed(failed: InstanceResult[]): string {
  const shown = failed.slice(0, 50).map(r => `${r.instanceId} ${r.status}`)
  return failed.length > shown.length
    ? `${shown.join(', ')} and ${failed.length - shown.length} more`
    : shown.join(', ')
}

/** Failures within max-errors: the step passes, and says which did not restart. */
export function warnWithinMaxErrors(
  log: Logger,
  failed: InstanceResult[],
  total: number,
  maxErrors: Rate
): void {
  log.warning(
    `${failed.length} of ${total} instances did not restart (${describeFailed(failed)}); ` +
      `within max-errors ${maxErrors.text}, so the step passes, with restarted false.`
  )
}

/** The opening of the message when more instances failed than max-errors allows. */
export function beyondMaxErrors(
  service: string,
  failed: InstanceResult[],
  total: number,
  maxErrors: Rate,
  allowed: number
): string {
  return (
    `Restarting "${service}" did not succeed on ${failed.length} of ${total} instances, ` +
    `more than max-errors ${maxErrors.text} allows (${allowed}): ${describeFailed(failed)}. `
  )
}

/** Each instance's remote output is kept up to this many bytes (its last lines) until its group prints. */
const COLLECTED_BYTES = 64 * 1024

/**
 * An instance's remote output while it runs, when several run at once: its last lines within a
 * budget, printed in its log group when it ends, so that concurrent instances never mix their
 * lines (the SSH layer hands it lines already split and cut to the log's line limit).
 */
export class CollectedOutput implements UntrustedSink {
  private readonly tail = new OutputTail(COLLECTED_BYTES)

  line(text: string): void {
    this.tail.add(text)
  }

  around<T>(stream: () => Promise<T>): Promise<T> {
    return stream()
  }

  collected(): InstanceOutput {
    const { dropped } = this.tail
    return {
      stdout: this.tail.all().join('\n'),
      stderr: '',
      cut:
        dropped > 0
          ? `its first ${dropped} lines were dropped: of each instance, the last ${COLLECTED_BYTES / 1024} KiB of output are kept`
          : undefined
    }
  }
}
