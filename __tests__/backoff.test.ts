import { createBackoff } from '../src/lib/backoff.js'

describe('createBackoff', () => {
  const run = async (random: () => number, totalMs = 60_000) => {
    const slept: number[] = []
    const backoff = createBackoff({
      totalMs,
      initialDelayMs: 1000,
      maxDelayMs: 8000,
      random,
      sleep: async ms => void slept.push(ms)
    })
    while (await backoff.wait()) {
      /* waits until the budget is spent */
    }
    return slept
  }

  it('doubles the step up to the cap, and spends exactly the budget', async () => {
    const slept = await run(() => 1, 30_000)
    expect(slept).toEqual([1000, 2000, 4000, 8000, 8000, 7000])
  })

  it('jitters within the upper half of each step', async () => {
    expect((await run(() => 0, 7_500)).slice(0, 3)).toEqual([500, 1000, 2000])
    expect((await run(() => 0.5, 10_000)).slice(0, 3)).toEqual([750, 1500, 3000])
  })

  it('counts slept time even when the clock does not move, so a stand-in sleep still ends', async () => {
    expect((await run(Math.random, 20_000)).reduce((a, b) => a + b, 0)).toBe(20_000)
  })
})
