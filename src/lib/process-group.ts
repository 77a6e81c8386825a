import { spawn } from 'node:child_process'
import { LineSplitter } from './lines.js'
import { stopRequest } from './cancel.js'

export interface ProcessGroupOptions {
  command: string
  args: string[]
  cwd: string
  env: Record<string, string>
  /** Each line of stdout and stderr, split by LineSplitter (bounded, linear). */
  onLine: (line: string) => void
  /** Aborting it stops the whole group: SIGINT, then SIGTERM, then SIGKILL (see STOP_DELAYS). */
  signal?: AbortSignal
}

export interface ProcessGroupResult {
  /** The exit code, or null when the process was ended by a signal. */
  exitCode: number | null
  exitSignal: NodeJS.Signals | null
  /** Whether the group was stopped because `signal` aborted. */
  stopped: boolean
}

/**
 * How long a stopped group gets after each signal. A person pressing Ctrl-C sends SIGINT, and the
 * CDK CLI stops cleanly on it; a group that ignores it gets SIGTERM, then SIGKILL. All of it fits
 * in the 7.5 s the runner gives between its SIGINT and its SIGTERM to the action. After the
 * runner's SIGTERM (the first signal the action saw, or a second one) the runner kills the action
 * about 2.5 s later, so SIGTERM goes first and SIGKILL follows soon.
 */
export const STOP_DELAYS = {
  gentle: { SIGINT: 0, SIGTERM: 4000, SIGKILL: 6000 },
  urgent: { SIGTERM: 0, SIGKILL: 1500 }
} as const

/** Time left for the pipes to drain once no process of the group is left. */
const DRAIN_MS = 1000
const POLL_MS = 50

/**
 * Runs a program in a process group of its own (no shell), so that it and everything it starts
 * can be signalled together: the runner signals only the action's own process when a step is
 * cancelled, and would leave the CDK CLI and the app it runs going on unseen. Resolves once no
 * process of the group is left; rejects only when the program cannot be started.
 */
export async function runProcessGroup(options: ProcessGroupOptions): Promise<ProcessGroupResult> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  // Later errors (a failed kill) are seen through the group checks below, not as a crash.
  child.on('error', () => undefined)
  const pgid = child.pid as number
  const out = new LineSplitter(options.onLine)
  const err = new LineSplitter(options.onLine)
  child.stdout.on('data', (chunk: Buffer) => out.write(chunk))
  child.stderr.on('data', (chunk: Buffer) => err.write(chunk))
  const drained = Promise.all([
    new Promise(resolve => child.stdout.once('close', resolve)),
    new Promise(resolve => child.stderr.once('close', resolve))
  ])
  const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolve =>
    child.once('exit', (code, signal) => resolve([code, signal]))
  )

  const stopper = new GroupStopper(pgid, signal => child.kill(signal))
  const stop = () =>
    stopper.stop(
      stopRequest(options.signal as AbortSignal).urgent ? STOP_DELAYS.urgent : STOP_DELAYS.gentle
    )
  if (options.signal?.aborted) stop()
  else options.signal?.addEventListener('abort', stop, { once: true })

  try {
    const [exitCode, exitSignal] = await exited
    // A stop asked for after the program ended did not stop it.
    const stopped = stopper.stopping
    // The program is gone; what it started may not be. Nothing of the group outlives the step.
    if (groupAlive(pgid)) stopper.stop({ SIGTERM: 0, SIGKILL: STOP_DELAYS.urgent.SIGKILL })
    while (groupAlive(pgid) && !stopper.killSent) await delay(POLL_MS)
    // After SIGKILL, what still answers is a zombie waiting for its reaper: dead already.
    if (stopper.killSent) await delay(POLL_MS)
    await Promise.race([drained, delay(DRAIN_MS, { unref: true })])
    out.end()
    err.end()
    return { exitCode, exitSignal, stopped }
  } finally {
    stopper.dispose()
    options.signal?.removeEventListener('abort', stop)
    child.stdout.destroy()
    child.stderr.destroy()
  }
}

/** Sends a group its stop signals on a schedule, once: the first stop asked for is the one. */
class GroupStopper {
  stopping = false
  killSent = false
  private readonly timers: NodeJS.Timeout[] = []

  constructor(
    private readonly pgid: number,
    private readonly fallback: (signal: NodeJS.Signals) => void
  ) {}

  stop(delays: Partial<Record<NodeJS.Signals, number>>): void {
    if (this.stopping) return
    this.stopping = true
    for (const [signal, ms] of Object.entries(delays) as [NodeJS.Signals, number][]) {
      if (ms === 0) this.send(signal)
      else this.timers.push(setTimeout(() => this.send(signal), ms))
    }
  }

  dispose(): void {
    for (const timer of this.timers.splice(0)) clearTimeout(timer)
  }

  private send(signal: NodeJS.Signals): void {
    if (signal === 'SIGKILL') this.killSent = true
    signalGroup(this.pgid, signal, () => this.fallback(signal))
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals, fallback: () => void): void {
  try {
    // A negative pid signals the whole process group (POSIX); Windows has no process groups.
    if (process.platform === 'win32') fallback()
    else process.kill(-pgid, signal)
  } catch {
    // ESRCH: the group is already empty.
  }
}

function groupAlive(pgid: number): boolean {
  if (process.platform === 'win32') return false
  try {
    process.kill(-pgid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A timer that does not keep the process alive when `unref` (a deadline nobody may need). */
function delay(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, ms)
    if (options.unref) timer.unref()
  })
}
