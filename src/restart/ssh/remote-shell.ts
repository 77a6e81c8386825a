import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { ClientChannel } from 'ssh2'
import { StoppedError, stopRequest } from '../../lib/cancel.js'
import { ActionError } from '../../lib/errors.js'
import {
  quoteUntrusted,
  UntrustedOutput,
  type LogWriter,
  type UntrustedSink
} from '../../lib/log.js'
import { LineSplitter, MAX_LINE_BYTES, OutputTail } from '../../lib/lines.js'
import { formatSeconds } from '../../lib/text.js'
import type { SshConnection } from './connect.js'
import { FailureLogCollector, MAX_READ_BYTES, type FailureLogs } from '../failure-logs.js'
import type { RestartScript } from '../script.js'

/** One command of a remote script, with the words its failure messages use. */
export interface RemoteStep {
  /** The command; built from validated parts only, each quoted as one word (restartScript). */
  command: string
  /** Subject of "did not finish", e.g. `Restarting service "fastapi" on host:22`. */
  doing: string
  /** Opens the message when the step fails, e.g. `Restarting service "fastapi" on host:22 failed`. */
  failed: string
  /** Names the command in "<program> exited with code N". */
  program: string
  /** What to do about a failure. */
  hint: string
  /** Quote stdout too: `systemctl is-active` prints the unit's state there. */
  includeStdout?: boolean
  /** This step's own limit, instead of the one runSteps is given; and the input that sets it. */
  limit?: { ms: number; input: string }
  /** How the log shows the command, when the command itself is a long script. */
  shown?: string
  /**
   * Once this step starts, the step's cancellation no longer closes the channel: what it began
   * (a release's switch and restart) finishes, and so do the steps after it.
   */
  unstoppable?: boolean
  /** The restart or the check: when it fails, the unit's status and journal are worth reading. */
  aboutTheUnit?: boolean
}

/** coreutils' timeout exits with this when it stopped the command. */
export const TIMED_OUT = 124

/**
 * A step that ran and failed: its exit code (TIMED_OUT when stopped at the limit), when known, and
 * its place among the steps.
 */
export class RemoteStepError extends ActionError {
  /** What the instance said about the unit afterwards (input "failure-logs"). */
  failureLogs?: FailureLogs

  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly step?: number
  ) {
    super(message)
    this.name = 'RemoteStepError'
  }
}
// The remote `timeout` stops a step at the user's limit and reports it; this backstop, a little
// later, covers a host that does not answer at all.
const BACKSTOP_MS = 5_000
// Room left for the splitter's "[... N more bytes of this line cut]" within the log's line limit.
const SPLIT_LINE_BYTES = MAX_LINE_BYTES - 64
const LINES_IN_MESSAGE = 20
const BYTES_PER_QUOTED_LINE = 1024
const TAIL_BYTES = 64 * 1024

/** `timeout <seconds>` for a step limit given in milliseconds; the user's own number. */
export function timeoutPrefix(timeoutMs: number): string {
  return `timeout ${Number((timeoutMs / 1000).toFixed(3))}`
}

interface StepOutcome {
  code: number | null
  signal: string | null
  stdout: OutputTail
  stderr: OutputTail
}

/**
 * Runs `steps` in one channel, one after the other, each stopped after `timeoutMs`, until one
 * fails; their output streams to the log as untrusted text. One channel saves a round trip per
 * step; a marker line with a random token between the steps (on stdout with the step's exit code,
 * and on stderr) still tells which step failed, with its code and its own output. `write` is the
 * log (wrapped here in the runner's stop-commands) or a sink of its own (a fleet's collector);
 * when `signal` aborts, the channel is closed and a StoppedError thrown: the remote fate is unknown.
 */
export async function runSteps(
  connection: SshConnection,
  steps: RemoteStep[],
  timeoutMs: number,
  write?: LogWriter | UntrustedSink,
  signal?: AbortSignal,
  input?: Readable
): Promise<void> {
  const output = typeof write === 'object' ? write : new UntrustedOutput(write)
  const outcomes: StepOutcome[] = steps.map(() => ({
    code: null,
    signal: null,
    stdout: new OutputTail(TAIL_BYTES),
    stderr: new OutputTail(TAIL_BYTES)
  }))
  await output.around(() =>
    runInOneChannel(connection, steps, outcomes, { timeoutMs, output, signal, input })
  )
  throwFirstFailure(steps, outcomes, timeoutMs)
}

/**
 * The steps as one script: each under `limit` (the remote `timeout`), then a marker line with its
 * exit code on stdout and one on stderr; the first that fails ends the script with its code.
 */
function stepScript(steps: RemoteStep[], marker: string, timeoutMs: number): string {
  return steps
    .map(
      (step, index) =>
        `${timeoutPrefix(step.limit?.ms ?? timeoutMs)} ${step.command}; s=$?; printf '\\n${marker} ${index} %d\\n' "$s"; ` +
        `printf '\\n${marker} ${index}\\n' >&2; [ "$s" -eq 0 ] || exit "$s"`
    )
    .join('; ')
}

/**
 * Runs the steps' script in one channel, filling in each step's outcome as its marker arrives;
 * each step gets its own backstop timer, and a stop closes the channel (StoppedError).
 */
async function runInOneChannel(
  connection: SshConnection,
  steps: RemoteStep[],
  outcomes: StepOutcome[],
  {
    timeoutMs,
    output,
    signal,
    input
  }: { timeoutMs: number; output: UntrustedSink; signal?: AbortSignal; input?: Readable }
): Promise<void> {
  const marker = `sda-step-${randomBytes(12).toString('hex')}`
  const msOf = (index: number) => steps[index].limit?.ms ?? timeoutMs
  const limit = (index: number) => timeoutPrefix(msOf(index))
  const { where } = connection
  let current = 0
  let channel: ClientChannel | undefined
  let timedOut = false
  const backstop = backstopTimer(() => {
    timedOut = true
    closeChannel(channel)
  })
  output.line(`${where}$ ${limit(0)} ${steps[0].shown ?? steps[0].command}`)
  const stepEnded = (index: number, code: number) => {
    outcomes[index].code = code
    current = index + 1
    if (code === 0 && current < steps.length) {
      output.line(`${where}$ ${limit(current)} ${steps[current].shown ?? steps[current].command}`)
      backstop.restart(msOf(current) + BACKSTOP_MS)
    }
  }
  const gate = stopGate(signal, () => !steps[current]?.unstoppable)
  const ended = await untilAborted(
    gate.signal,
    exec(connection, stepScript(steps, marker, timeoutMs), {
      stdout: markedLines(marker, output, stepEnded, (line, step) =>
        outcomes[step]?.stdout.add(line)
      ),
      stderr: markedLines(marker, output, undefined, (line, step) =>
        outcomes[step]?.stderr.add(line)
      ),
      onChannel: opened => {
        channel = opened
        backstop.restart(msOf(0) + BACKSTOP_MS)
        if (input) pipeInput(input, opened)
      }
    })
  ).finally(() => {
    backstop.clear()
    gate.release()
  })
  if (current >= steps.length) return
  if (ended === undefined) {
    // The step was cancelled: the command may or may not have run.
    closeChannel(channel)
    throw new StoppedError(stopRequest(signal as AbortSignal))
  }
  recordUnfinished(steps[current], outcomes[current], timedOut ? 'timed out' : ended)
}

/** The step's cancellation, passed on only while `stoppable()` says the step running now is. */
function stopGate(
  signal: AbortSignal | undefined,
  stoppable: () => boolean
): { signal?: AbortSignal; release(): void } {
  if (!signal) return { release: () => undefined }
  const gate = new AbortController()
  const stop = () => {
    if (stoppable()) gate.abort()
  }
  if (signal.aborted) stop()
  signal.addEventListener('abort', stop, { once: true })
  return { signal: gate.signal, release: () => signal.removeEventListener('abort', stop) }
}

/** The outcome of the step the script ended in: its exit, or that it timed out or never started. */
function recordUnfinished(
  step: RemoteStep,
  outcome: StepOutcome,
  ended: 'timed out' | Exclude<Awaited<ReturnType<typeof exec>>, undefined>
): void {
  if (ended === 'timed out') {
    outcome.code = TIMED_OUT
  } else if (ended.error) {
    throw new ActionError(`${step.doing} could not start: ${quoteUntrusted(ended.error.message)}`)
  } else {
    outcome.code = ended.code
    outcome.signal = ended.signal
  }
}

/** A timer for the step running now: each step starts it anew, the end of the script clears it. */
function backstopTimer(fire: () => void): { restart(ms: number): void; clear(): void } {
  let timer: NodeJS.Timeout | undefined
  return {
    restart: ms => {
      clearTimeout(timer)
      timer = setTimeout(fire, ms)
    },
    clear: () => clearTimeout(timer)
  }
}

/** The first step that did not succeed, as a RemoteStepError with its code and last output. */
function throwFirstFailure(steps: RemoteStep[], outcomes: StepOutcome[], timeoutMs: number): void {
  steps.forEach((step, index) => {
    const outcome = outcomes[index]
    if (outcome.code === 0) return
    if (outcome.code === TIMED_OUT) {
      throw new RemoteStepError(
        `${step.doing} did not finish within ${formatSeconds(step.limit?.ms ?? timeoutMs)}, so it was stopped. ` +
          `${step.hint} If it only needs more time, raise input "${step.limit?.input ?? 'ssh-command-timeout'}".`,
        TIMED_OUT,
        index
      )
    }
    const ending =
      outcome.code !== null
        ? `exited with code ${outcome.code}`
        : outcome.signal !== null
          ? `was killed by signal ${quoteUntrusted(outcome.signal, 32)}`
          : 'ended without an exit status (was the connection lost?)'
    throw new RemoteStepError(
      `${step.failed}: ${step.program} ${ending}. ${step.hint}${quoteOutput(outcome, step)}`,
      outcome.code ?? undefined,
      index
    )
  })
}

/**
 * A line splitter for one stream of the script: marker lines end a step (and the blank line the
 * script prints before each, in case the step's output did not end with a newline); every other
 * line goes to the log and to the step's tail.
 */
function markedLines(
  marker: string,
  output: UntrustedSink,
  onMarker: ((index: number, code: number) => void) | undefined,
  keep: (line: string, step: number) => void
): LineSplitter {
  const pattern = new RegExp(`^${marker} (\\d+)(?: (\\d+))?$`)
  let heldBlank = false
  // This stream's own step: stdout and stderr arrive independently of each other.
  let step = 0
  const show = (line: string) => {
    output.line(line)
    keep(line, step)
  }
  return new LineSplitter(line => {
    const match = pattern.exec(line)
    if (match) {
      heldBlank = false
      step = Number(match[1]) + 1
      onMarker?.(Number(match[1]), Number(match[2] ?? 0))
      return
    }
    if (heldBlank) show('')
    heldBlank = line === ''
    if (!heldBlank) show(line)
  }, SPLIT_LINE_BYTES)
}

interface ExecEnd {
  code: number | null
  signal: string | null
  error?: Error
}

/** Runs `command` and resolves when its channel closes; never rejects. */
function exec(
  connection: SshConnection,
  command: string,
  handlers: { stdout: LineSplitter; stderr: LineSplitter; onChannel(channel: ClientChannel): void }
): Promise<ExecEnd> {
  return new Promise(resolve => {
    connection.client.exec(command, (error, channel) => {
      if (error) {
        resolve({ code: null, signal: null, error })
        return
      }
      handlers.onChannel(channel)
      const end: ExecEnd = { code: null, signal: null }
      channel.on('exit', (code: number | null, signal?: string) => {
        end.code = typeof code === 'number' ? code : null
        end.signal = signal ?? null
      })
      channel.on('data', (chunk: Buffer) => handlers.stdout.write(chunk))
      channel.stderr.on('data', (chunk: Buffer) => handlers.stderr.write(chunk))
      channel.on('close', () => {
        handlers.stdout.end()
        handlers.stderr.end()
        resolve(end)
      })
    })
  })
}

/**
 * After a failed step, on the same connection: the unit's status and journal (input
 * "failure-logs"), read until MAX_READ_BYTES at most (then the channel is closed), and never longer
 * than the collection's own time limits plus the backstop. Never rejects: what arrived is shown.
 */
export async function readFailureLogs(
  connection: SshConnection,
  logs: NonNullable<RestartScript['failureLogs']>,
  unit: string,
  signal?: AbortSignal
): Promise<FailureLogs> {
  const collector = new FailureLogCollector(unit, logs.marker)
  let channel: ClientChannel | undefined
  let cut: string | undefined
  const onLine = (line: string) => {
    if (cut) return
    collector.line(line)
    if (collector.readBytes <= MAX_READ_BYTES) return
    cut = `more than ${MAX_READ_BYTES / 1024 / 1024} MiB arrived, so the rest was not read`
    closeChannel(channel)
  }
  const backstop = backstopTimer(() => {
    cut ??= 'the instance did not finish answering, so the channel was closed'
    closeChannel(channel)
  })
  const ended = await untilAborted(
    signal,
    exec(connection, logs.command, {
      stdout: new LineSplitter(onLine, SPLIT_LINE_BYTES),
      stderr: new LineSplitter(onLine, SPLIT_LINE_BYTES),
      onChannel: opened => {
        channel = opened
        // The collection's two commands have 20 s each (failure-logs.ts).
        backstop.restart(60_000 + BACKSTOP_MS)
      }
    })
  ).finally(backstop.clear)
  if (ended === undefined) {
    closeChannel(channel)
    cut ??= 'the step was cancelled'
  } else if (ended.error) {
    cut ??= `the command could not start: ${quoteUntrusted(ended.error.message)}`
  }
  return collector.collected(cut)
}

/**
 * Streams `input` into the channel's standard input with backpressure (the SSH window), never held
 * whole; a channel that closes early (the remote side stopped reading) ends the stream.
 */
function pipeInput(input: Readable, channel: ClientChannel): void {
  input.on('error', () => closeChannel(channel))
  channel.on('close', () => input.destroy())
  input.pipe(channel)
}

/** `work`, or undefined as soon as `signal` aborts (without waiting for `work`). */
function untilAborted<T>(
  signal: AbortSignal | undefined,
  work: Promise<T>
): Promise<T | undefined> {
  if (!signal) return work
  if (signal.aborted) return Promise.resolve(undefined)
  return new Promise<T | undefined>(resolve => {
    const onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    void work.then(value => {
      signal.removeEventListener('abort', onAbort)
      resolve(value)
    })
  })
}

/**
 * Closes a command's channel; it must not throw on a dying link. Without a terminal sshd does not
 * stop the remote process: the remote `timeout` does that.
 */
function closeChannel(channel: ClientChannel | undefined): void {
  try {
    channel?.close()
  } catch {
    // The connection is closed right after; nothing more to do.
  }
}

/** The step's last lines, each made safe to quote: the message reaches the log and the summary. */
function quoteOutput(outcome: StepOutcome, step: RemoteStep): string {
  const quoted = (tail: OutputTail) =>
    tail
      .lastLines(LINES_IN_MESSAGE)
      .split('\n')
      .map(line => quoteUntrusted(line, BYTES_PER_QUOTED_LINE))
      .join('\n')
  const parts: string[] = []
  if (step.includeStdout && outcome.stdout.lastLines(1) !== '') {
    parts.push(`Remote stdout:\n${quoted(outcome.stdout)}`)
  }
  if (outcome.stderr.lastLines(1) !== '') {
    parts.push(`Remote stderr (last lines):\n${quoted(outcome.stderr)}`)
  }
  return parts.map(part => `\n${part}`).join('')
}
