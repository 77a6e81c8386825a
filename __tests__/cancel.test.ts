// The one way to stop: StoppedError, what it says the work left, and the message of a stopped run.
import {
  PhaseTracker,
  StoppedError,
  StopRequest,
  stoppableSleep,
  throwIfStopped,
  withStopState
} from '../src/lib/cancel.js'
import { ActionError } from '../src/lib/errors.js'

const sigint = new StopRequest({ kind: 'signal', signal: 'SIGINT' })

function stopped(): AbortSignal {
  const controller = new AbortController()
  controller.abort(sigint)
  return controller.signal
}

describe('withStopState', () => {
  it('gives a stop that said nothing the state of the work that knows it', () => {
    const error = withStopState(new StoppedError(sigint), 'nothing was sent')

    expect(error).toBeInstanceOf(StoppedError)
    expect((error as StoppedError).state).toBe('nothing was sent')
    expect((error as StoppedError).message).toBe(
      'The run was cancelled (SIGINT): nothing was sent.'
    )
  })

  it('keeps the state a deeper part already said, and passes other errors on as they are', () => {
    const said = new StoppedError(sigint, 'sent CancelCommand for command c-1')
    const failed = new ActionError('denied')

    expect(withStopState(said, 'nothing was sent')).toBe(said)
    expect(withStopState(failed, 'nothing was sent')).toBe(failed)
  })
})

describe('PhaseTracker', () => {
  it('says what the phase leaves, built from what the stopped work said', () => {
    const phases = new PhaseTracker(new AbortController().signal)
    phases.enter('the SSM restart', state => `the secret was not changed; ${state ?? 'nothing'}`)

    expect(phases.describe(new StoppedError(sigint, 'sent CancelCommand for command c-1'))).toBe(
      'The run was cancelled (SIGINT) during the SSM restart: the secret was not changed; ' +
        'sent CancelCommand for command c-1.'
    )
    expect(phases.describe(new StoppedError(sigint))).toBe(
      'The run was cancelled (SIGINT) during the SSM restart: the secret was not changed; nothing.'
    )
  })

  it("lets the work's own state replace a phase's fixed one", () => {
    const phases = new PhaseTracker(new AbortController().signal)
    phases.enter('the write-back of the address', 'nothing was written back')

    expect(phases.describe(new StoppedError(sigint, 'its version was given up'))).toBe(
      'The run was cancelled (SIGINT) during the write-back of the address: its version was given up.'
    )
    expect(phases.describe(new StoppedError(sigint))).toBe(
      'The run was cancelled (SIGINT) during the write-back of the address: nothing was written back.'
    )
  })

  it('refuses to enter a phase once stopped, with what the phase starts from', () => {
    const phases = new PhaseTracker(stopped())

    let caught: unknown
    try {
      phases.enter('the SSH restart', state => `written; ${state ?? 'nothing was restarted'}`)
    } catch (error) {
      caught = error
    }

    expect(caught).toBeInstanceOf(StoppedError)
    expect(phases.describe(caught as StoppedError)).toBe(
      'The run was cancelled (SIGINT) during the SSH restart: written; nothing was restarted.'
    )
  })
})

describe('stopping points', () => {
  it('throwIfStopped throws only once stopped, with the state given', () => {
    expect(() => throwIfStopped(new AbortController().signal, 'x')).not.toThrow()
    expect(() => throwIfStopped(stopped(), 'nothing was sent')).toThrow(
      new StoppedError(sigint, 'nothing was sent')
    )
  })

  it('stoppableSleep ends a wait at the stop, with a StoppedError', async () => {
    const controller = new AbortController()
    const sleep = stoppableSleep(() => new Promise<void>(() => undefined), controller.signal)

    const waiting = sleep(60_000)
    controller.abort(sigint)

    await expect(waiting).rejects.toBeInstanceOf(StoppedError)
  })
})
