import { quote } from 'shell-quote'
import { parseRate } from '../fleet.js'
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

// Rates are shared with the SSH fan-out.
export { allowedCount, parseRate, type Rate } from '../fleet.js'

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
