import type { Logger } from './log.js'
import { ActionError } from './errors.js'

/**
 * Why a run stops early: the runner cancelled the step (it sends SIGINT, then SIGTERM about 7.5 s
 * later, then kills the action's process alone), or a time limit of the action's own ran out.
 */
export type StopCause =
  | { kind: 'signal'; signal: 'SIGINT' | 'SIGTERM' }
  | { kind: 'timeout'; input: string; seconds: number }

/** The reason an AbortSignal of this module is aborted with. */
export class StopRequest {
  constructor(readonly cause: StopCause) {}

  /** SIGTERM means the runner is about to kill the action: no time for a gentle stop. */
  get urgent(): boolean {
    return this.cause.kind === 'signal' && this.cause.signal === 'SIGTERM'
  }

  toString(): string {
    return this.cause.kind === 'signal'
      ? `cancelled (${this.cause.signal})`
      : `stopped after ${this.cause.seconds} s (input "${this.cause.input}")`
  }
}

/** The cause a signal was aborted with; a plain abort counts as a cancellation. */
export function stopRequest(signal: AbortSignal): StopRequest {
  return signal.reason instanceof StopRequest
    ? signal.reason
    : new StopRequest({ kind: 'signal', signal: 'SIGINT' })
}

/**
 * Thrown where work stops because its signal was aborted. The phase and what it leaves behind are
 * filled in by whoever knows them best: the work itself (the write-back knows whether it undid
 * its version), else the pipeline's current phase.
 */
export class StoppedError extends ActionError {
  constructor(
    readonly request: StopRequest,
    readonly state?: string
  ) {
    super(`The run was ${request.toString()}${state ? `: ${state}` : ''}.`)
    this.name = 'StoppedError'
  }
}

/** Throws a StoppedError when `signal` is aborted: a safe point to stop at. */
export function throwIfStopped(signal: AbortSignal | undefined, state?: string): void {
  if (signal?.aborted) throw new StoppedError(stopRequest(signal), state)
}

/**
 * `error`, or when it is a StoppedError that does not say what the work left, the same stop saying
 * `state`: for work that knows it better than the waits and connections it was stopped in.
 */
export function withStopState(error: unknown, state: string): unknown {
  return error instanceof StoppedError && error.state === undefined
    ? new StoppedError(error.request, state)
    : error
}

/**
 * An AbortSignal aborted on the first SIGINT or SIGTERM. The handlers stay installed for the rest
 * of the run: Node's default (exit at once) would leave the CDK CLI running and a write-back half
 * done. A later signal is only logged; the stop already under way fits the runner's grace period.
 */
export function abortOnSignals(log: Logger, proc: NodeJS.Process = process): AbortSignal {
  const controller = new AbortController()
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    log.info(
      controller.signal.aborted
        ? `Received ${signal} again: still stopping.`
        : `Received ${signal}: stopping at the next safe point.`
    )
    if (!controller.signal.aborted) controller.abort(new StopRequest({ kind: 'signal', signal }))
  }
  proc.on('SIGINT', () => onSignal('SIGINT'))
  proc.on('SIGTERM', () => onSignal('SIGTERM'))
  return controller.signal
}

/**
 * A signal that aborts when `parent` does, or after `seconds` (none: never), naming `input` as the
 * limit that ran out. `dispose` clears the timer.
 */
export function withTimeout(
  parent: AbortSignal,
  seconds: number | undefined,
  input: string
): { signal: AbortSignal; dispose: () => void } {
  if (!seconds) return { signal: parent, dispose: () => undefined }
  const controller = new AbortController()
  const follow = () => controller.abort(parent.reason)
  if (parent.aborted) follow()
  else parent.addEventListener('abort', follow, { once: true })
  const timer = setTimeout(
    () => controller.abort(new StopRequest({ kind: 'timeout', input, seconds })),
    seconds * 1000
  )
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer)
      parent.removeEventListener('abort', follow)
    }
  }
}

/** `sleep` that ends early with a StoppedError when `signal` aborts: waits are safe points. */
export function stoppableSleep(
  sleep: (ms: number) => Promise<void>,
  signal: AbortSignal
): (ms: number) => Promise<void> {
  return ms => {
    throwIfStopped(signal)
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new StoppedError(stopRequest(signal)))
      signal.addEventListener('abort', onAbort, { once: true })
      sleep(ms).then(
        () => {
          signal.removeEventListener('abort', onAbort)
          if (signal.aborted) onAbort()
          else resolve()
        },
        error => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        }
      )
    })
  }
}

/**
 * What stopping during a phase leaves: said once for the whole phase, or made from what the
 * stopped work said it left (StoppedError's `state`, undefined when it said nothing), so that the
 * message keeps both what the run did before the phase and what the phase had done.
 */
export type PhaseLeaves = string | ((state: string | undefined) => string)

/**
 * Which phase runs, and what stopping during it leaves behind: the message of a stopped run says
 * both ("... during cdk deploy of stack X: the stack may be mid-update; nothing was written back").
 */
export class PhaseTracker {
  private phase: string | undefined = 'reading the secrets'
  private leaves: PhaseLeaves = 'nothing was deployed, written or restarted'

  constructor(private readonly signal: AbortSignal) {}

  /**
   * Enters the next phase, or throws a StoppedError if the run was stopped before it started (what
   * the phase leaves behind is then true as well: it describes the state the phase starts from).
   */
  enter(phase: string, leaves: PhaseLeaves): void {
    this.phase = phase
    this.leaves = leaves
    throwIfStopped(this.signal)
  }

  /**
   * Throws a StoppedError if the run was stopped after its last phase began: the runner shows the
   * step as cancelled, so the log says what the run got done.
   */
  finish(leaves: string): void {
    this.phase = undefined
    this.leaves = leaves
    throwIfStopped(this.signal)
  }

  /** The message for a run that stopped: the cause, the phase, and what it left. */
  describe(error: StoppedError): string {
    const where = this.phase ? `during ${this.phase}` : 'after every phase had finished'
    const leaves =
      typeof this.leaves === 'function' ? this.leaves(error.state) : (error.state ?? this.leaves)
    return `The run was ${error.request.toString()} ${where}: ${leaves}.`
  }
}
