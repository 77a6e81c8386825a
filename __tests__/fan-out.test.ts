import { fanOut } from '../src/restart/fan-out.js'
import { allowedCount, concurrencyCount, parseRate } from '../src/restart/rate.js'

/** Work whose items end only when the test says so, recording what runs when. */
function controlledWork() {
  const running = new Set<number>()
  const started: number[] = []
  const finish = new Map<number, (failed: boolean) => void>()
  let maxRunning = 0
  const work = (item: number) =>
    new Promise<{ item: number; failed: boolean }>(resolve => {
      running.add(item)
      started.push(item)
      maxRunning = Math.max(maxRunning, running.size)
      finish.set(item, failed => {
        running.delete(item)
        resolve({ item, failed })
      })
    })
  /** Ends a running item; then lets the fan-out start the next. */
  const end = async (item: number, failed = false) => {
    const resolve = finish.get(item)
    if (!resolve) throw new Error(`item ${item} is not running`)
    resolve(failed)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  return { work, end, running, started, maxRunning: () => maxRunning }
}

const items = (n: number) => Array.from({ length: n }, (_, i) => i)
const failed = (r: { failed: boolean }) => r.failed
const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

describe('fanOut', () => {
  it('never runs more than the concurrency at once, and starts items in order as others end', async () => {
    const c = controlledWork()
    const done = fanOut(items(7), { concurrency: 3, maxErrors: 0, failed }, c.work)
    await settle()
    expect([...c.running]).toEqual([0, 1, 2])
    await c.end(1)
    expect([...c.running].sort()).toEqual([0, 2, 3])
    for (const item of [0, 2, 3, 4, 5, 6]) {
      while (!c.running.has(item)) await settle()
      await c.end(item)
    }
    const results = await done
    expect(results.map(r => r?.item)).toEqual(items(7))
    expect(c.maxRunning()).toBe(3)
    expect(c.started).toEqual(items(7))
  })

  it('starts no further item once failures exceed max-errors; those running finish', async () => {
    const c = controlledWork()
    const done = fanOut(items(6), { concurrency: 2, maxErrors: 1, failed }, c.work)
    await settle()
    await c.end(0, true) // 1 failure: within max-errors 1, item 2 starts
    expect([...c.running].sort()).toEqual([1, 2])
    await c.end(2, true) // 2 failures: more than allowed, nothing else starts
    expect([...c.running]).toEqual([1])
    await c.end(1)
    const results = await done
    expect(results.map(r => r?.failed)).toEqual([
      true,
      false,
      true,
      undefined,
      undefined,
      undefined
    ])
    expect(c.started).toEqual([0, 1, 2])
  })

  it('with max-errors 0, the first failure stops the rest (concurrency 1)', async () => {
    const c = controlledWork()
    const done = fanOut(items(3), { concurrency: 1, maxErrors: 0, failed }, c.work)
    await settle()
    await c.end(0, true)
    expect(await done).toEqual([{ item: 0, failed: true }, undefined, undefined])
  })

  it('starts nothing more once the signal aborts, and waits for those running', async () => {
    const c = controlledWork()
    const controller = new AbortController()
    const done = fanOut(
      items(4),
      { concurrency: 2, maxErrors: 9, failed, signal: controller.signal },
      c.work
    )
    await settle()
    controller.abort()
    await c.end(0)
    expect([...c.running]).toEqual([1])
    await c.end(1)
    expect((await done).map(r => r?.item)).toEqual([0, 1, undefined, undefined])
  })

  it('passes on a rejection of the work once the running items have settled', async () => {
    let release = () => {}
    const slow = new Promise<void>(resolve => (release = resolve))
    let slowEnded = false
    const done = fanOut(items(5), { concurrency: 2, maxErrors: 9, failed: () => false }, item =>
      item === 0
        ? Promise.reject(new Error('bug'))
        : slow.then(() => {
            slowEnded = true
            return item
          })
    )
    const outcome = done.catch((error: Error) => ({ error: error.message, slowEnded }))
    await settle()
    release()
    expect(await outcome).toEqual({ error: 'bug', slowEnded: true })
  })

  it('handles an empty list', async () => {
    await expect(
      fanOut([], { concurrency: 3, maxErrors: 0, failed }, () => Promise.reject(new Error('never')))
    ).resolves.toEqual([])
  })
})

describe("rates, in SSM Run Command's semantics", () => {
  it.each([
    ['100%', 50, 50],
    ['25%', 3, 1],
    ['25%', 8, 2],
    ['10%', 5, 1], // less than one instance: one at a time
    ['5', 3, 3], // no more than there are
    ['1', 50, 1]
  ])('max-concurrency %s of %i instances runs %i at once', (rate, total, expected) => {
    expect(concurrencyCount(parseRate(rate), total)).toBe(expected)
  })

  it.each([
    ['0', 3, 0],
    ['1', 3, 1],
    ['34%', 3, 1], // rounded down
    ['33%', 3, 0],
    ['50%', 5, 2],
    ['100%', 3, 3]
  ])('max-errors %s of %i instances allows %i failures', (rate, total, expected) => {
    expect(allowedCount(parseRate(rate), total)).toBe(expected)
  })
})
