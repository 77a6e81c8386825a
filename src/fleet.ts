import * as core from '@actions/core'
import { LineSplitter } from './lines.js'
import { UntrustedOutput, type LogWriter } from './log.js'

// What a fleet restart shows, whichever way it runs (SSM Run Command or SSH fan-out): the rate
// control in SSM's own syntax, one collapsible log group per instance, the warning for failures
// within max-errors and the head of the message for failures beyond it.

/** A rate in SSM's syntax: a count of instances, or a percentage of them. */
export interface Rate {
  value: number
  percent: boolean
}

export function parseRate(text: string): Rate {
  return { value: Number(text.replace('%', '')), percent: text.endsWith('%') }
}

/** How many of `total` instances a rate allows (SSM rounds a percentage down). */
export function allowedCount(rate: Rate, total: number): number {
  return rate.percent ? Math.floor((rate.value * total) / 100) : rate.value
}

/**
 * How many of `total` instances run at once under a max-concurrency: at least one (SSM runs a
 * percentage smaller than one instance on one at a time), at most all.
 */
export function concurrencyCount(rate: Rate, total: number): number {
  return Math.max(1, Math.min(total, allowedCount(rate, total)))
}

/** One instance's result: a row of the summary table, the title of its log group. */
export interface InstanceResult {
  instanceId: string
  /** One word: Run Command's status (Success, Failed, ...), or the SSH fan-out's own. */
  status: string
  exitCode?: number
  durationMs?: number
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
  result: InstanceResult,
  output: InstanceOutput,
  write?: LogWriter,
  where?: string
): void {
  const exit = result.exitCode === undefined ? 'no exit code' : `exit code ${result.exitCode}`
  const took = result.durationMs === undefined ? '' : `, ${formatDuration(result.durationMs)}`
  const name = where ? `${result.instanceId} (${where})` : result.instanceId
  core.startGroup(`${name}: ${result.status}, ${exit}${took}`)
  printOutput(output, write)
  core.endGroup()
}

/** The instance's output, wrapped so that no workflow command in it is obeyed; masked by the runner. */
function printOutput(output: InstanceOutput, write?: LogWriter): void {
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
  if (output.cut) core.info(`[Output cut: ${output.cut}.]`)
}

/** "i-1 Failed, i-2 TimedOut", at most 50 named. */
export function describeFailed(failed: InstanceResult[]): string {
  const shown = failed.slice(0, 50).map(r => `${r.instanceId} ${r.status}`)
  return failed.length > shown.length
    ? `${shown.join(', ')} and ${failed.length - shown.length} more`
    : shown.join(', ')
}

export function formatDuration(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}

/** Failures within max-errors: the step passes, and says which did not restart. */
export function warnWithinMaxErrors(
  failed: InstanceResult[],
  total: number,
  maxErrors: string
): void {
  core.warning(
    `${failed.length} of ${total} instances did not restart (${describeFailed(failed)}); ` +
      `within max-errors ${maxErrors}, so the step passes, with restarted false.`
  )
}

/** The opening of the message when more instances failed than max-errors allows. */
export function beyondMaxErrors(
  service: string,
  failed: InstanceResult[],
  total: number,
  maxErrors: string,
  allowed: number
): string {
  return (
    `Restarting "${service}" did not succeed on ${failed.length} of ${total} instances, ` +
    `more than max-errors ${maxErrors} allows (${allowed}): ${describeFailed(failed)}. `
  )
}
