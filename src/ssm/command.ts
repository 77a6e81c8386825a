import { quote } from 'shell-quote'
import { checkServiceName } from '../ssh/validate.js'

/** SSM's limit of instance ids in one SendCommand. */
export const MAX_IDS_PER_COMMAND = 50

/**
 * The lines AWS-RunShellScript runs as root on every instance: the restart of the unit, then its
 * check. Built from the validated unit name and the workflow's own health command, each quoted as
 * one word, never from text out of a secret.
 */
export function restartScript(service: string, healthCommand: string): string[] {
  checkServiceName(service)
  const restart = quote(['systemctl', 'restart', '--', service])
  const check = healthCommand
    ? quote(['sh', '-c', healthCommand])
    : quote(['systemctl', 'is-active', '--', service])
  // One line: AWS-RunShellScript goes on after a failed line, and the check must not run then.
  return [`${restart} && ${check}`]
}

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
 * A fleet larger than one SendCommand allows goes out as several commands at once. A percentage
 * means the same in each; a count of concurrent instances is shared out by the batches' sizes, so
 * that together they never run more than asked (at least one each). Errors are counted over the
 * whole fleet by the action, so each batch gets the whole allowance and the action cancels the
 * rest when the fleet exceeds it.
 */
export function batchRates(
  maxConcurrency: string,
  maxErrors: string,
  batchSize: number,
  total: number
): { maxConcurrency: string; maxErrors: string } {
  const concurrency = parseRate(maxConcurrency)
  if (concurrency.percent || batchSize === total) return { maxConcurrency, maxErrors }
  const share = Math.max(1, Math.floor((concurrency.value * batchSize) / total))
  return { maxConcurrency: String(share), maxErrors }
}
