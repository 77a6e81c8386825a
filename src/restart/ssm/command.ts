import type { Rate } from '../rate.js'

/** SSM's limit of instance ids in one SendCommand. */
export const MAX_IDS_PER_COMMAND = 50

/**
 * A fleet larger than one SendCommand allows goes out as several commands at once. A percentage
 * means the same in each; a count of concurrent instances is shared out by the batches' sizes, so
 * that together they never run more than asked (at least one each). Errors are counted over the
 * whole fleet by the action, so each batch gets the whole allowance and the action cancels the
 * rest when the fleet exceeds it. The rates as SendCommand takes them.
 */
export function batchRates(
  maxConcurrency: Rate,
  maxErrors: Rate,
  batchSize: number,
  total: number
): { maxConcurrency: string; maxErrors: string } {
  if (maxConcurrency.percent || batchSize === total)
    return { maxConcurrency: maxConcurrency.text, maxErrors: maxErrors.text }
  const share = Math.max(1, Math.floor((maxConcurrency.value * batchSize) / total))
  return { maxConcurrency: String(share), maxErrors: maxErrors.text }
}
