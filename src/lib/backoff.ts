/**
 * Waiting with jittered exponential backoff inside a time budget: for an instance that is still
 * booting (EC2 state, console output, SSH port), never for errors that will not go away.
 */
export interface BackoffOptions {
  /** The whole budget, including the time the attempts themselves take. */
  totalMs: number
  initialDelayMs?: number
  maxDelayMs?: number
  sleep: (ms: number) => Promise<void>
  random?: () => number
}

export interface Backoff {
  /** Budget left; the larger of wall-clock and slept time counts, so a fake sleep still ends. */
  remainingMs(): number
  /** Sleeps before the next attempt; false when the budget is spent and it is time to give up. */
  wait(): Promise<boolean>
}

export function createBackoff(options: BackoffOptions): Backoff {
  const { totalMs, sleep, random = Math.random } = options
  const initial = options.initialDelayMs ?? 1000
  const max = options.maxDelayMs ?? 15000
  const started = Date.now()
  let slept = 0
  let attempt = 0
  const remainingMs = () => totalMs - Math.max(Date.now() - started, slept)
  return {
    remainingMs,
    async wait() {
      const left = remainingMs()
      if (left <= 0) return false
      const ceiling = Math.min(max, initial * 2 ** attempt++)
      // "Equal jitter": at least half the step, so that many waiters spread out but never spin.
      const delay = Math.min(left, Math.round(ceiling / 2 + (random() * ceiling) / 2))
      await sleep(delay)
      slept += delay
      return true
    }
  }
}
