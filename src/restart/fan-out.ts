/**
 * Runs work on many items with SSM Run Command's rate control, for fan-outs the action runs
 * itself (SSH): at most `concurrency` at a time, started in the items' order; once more than
 * `maxErrors` have failed, or `signal` aborts, no further item starts, and those running finish.
 */
export interface FanOutOptions<R> {
  /** At most this many items run at once (at least 1). */
  concurrency: number
  /** Failures allowed; one more stops further starts (SSM's MaxErrors). */
  maxErrors: number
  /** Whether an item's result counts as a failure. */
  failed: (result: R) => boolean
  signal?: AbortSignal
}

/** Per item, in the items' order: its result, or undefined when it was never started. */
export type FanOutResults<R> = (R | undefined)[]

/**
 * `work` must not reject: it turns its own failures into results. If it does reject, no further
 * item starts and the rejection is passed on once the running items have settled.
 */
export async function fanOut<T, R>(
  items: readonly T[],
  options: FanOutOptions<R>,
  work: (item: T, index: number) => Promise<R>
): Promise<FanOutResults<R>> {
  const results: FanOutResults<R> = items.map(() => undefined)
  const limit = Math.max(1, Math.floor(options.concurrency))
  let next = 0
  let failures = 0
  let broken: { error: unknown } | undefined
  const mayStart = () =>
    next < items.length && failures <= options.maxErrors && !broken && !options.signal?.aborted

  // Each lane takes the next item when its last one ends; `limit` lanes run side by side.
  const lane = async (): Promise<void> => {
    while (mayStart()) {
      const index = next++
      try {
        const result = await work(items[index], index)
        results[index] = result
        if (options.failed(result)) failures++
      } catch (error) {
        broken ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  if (broken) throw broken.error
  return results
}
