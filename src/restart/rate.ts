// The rate control of a fleet restart, in SSM Run Command's own syntax (MaxConcurrency,
// MaxErrors), whichever way it runs: SSM takes it as written, the SSH fan-out counts with it.

import { ActionError } from '../lib/errors.js'

/** A count of instances, or a percentage of them; parsed once, from the input. */
export interface Rate {
  /** As the workflow wrote it: messages quote it, and SSM takes it so. */
  readonly text: string
  readonly value: number
  readonly percent: boolean
}

/** SSM's pattern for both rates, within its own limits (999 instances, 100%). */
const RATE = /^(\d{1,3})(%?)$/

/**
 * Parses a rate as input `name` gives it, at least `min` (max-concurrency needs one instance);
 * throws the input's message when it is not one.
 */
export function parseRate(text: string, name = 'rate', min = 0): Rate {
  const match = RATE.exec(text)
  const value = Number(match?.[1])
  const percent = match?.[2] === '%'
  if (!match || value < min || value > (percent ? 100 : 999)) {
    throw new ActionError(
      `Input "${name}" must be a number of instances (${min} to 999) or a percentage of them (${min}% to 100%), ` +
        `as SSM Run Command takes it, not "${text}".`
    )
  }
  return { text, value, percent }
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
