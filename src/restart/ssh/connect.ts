import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { Client, ConnectConfig } from 'ssh2'
import { createBackoff } from '../../lib/backoff.js'
import { StoppedError, stopRequest, throwIfStopped } from '../../lib/cancel.js'
import { ActionError } from '../../lib/errors.js'
import { quoteUntrusted } from '../../lib/log.js'
import { formatSeconds } from '../../lib/text.js'
import {
  hostKeyAccepted,
  hostKeyAlgorithms,
  sshFingerprint,
  type HostKeyCheck
} from './host-keys.js'
import { loadSsh2 } from './library.js'
import type { SshCredentials } from './validate.js'

export interface ConnectOptions {
  host: string
  port: number
  credentials: SshCredentials
  hostKeys: HostKeyCheck
  /** Total budget for connecting, including retries while the instance boots. */
  timeoutMs: number
  sleep: (ms: number) => Promise<void>
  /** Errors of the connection after it is up (they end it; the command in flight then fails). */
  warn: (message: string) => void
  /** The step's cancellation: a handshake under way is cut off, and a StoppedError thrown. */
  signal?: AbortSignal
  /** A connection to host:port opened earlier, for the first attempt. */
  earlySocket?: EarlySocket
  /** Opens the stream to host:port another way than TCP: a channel through the bastion (jump.ts). */
  through?: (host: string, port: number) => Promise<Duplex>
  /** Which hop this is, when the target is reached through a bastion: the messages name it. */
  hop?: Hop
}

/** The two hops of a connection through a bastion (input "ssh-jump"). */
export type Hop = 'bastion' | 'target'

/**
 * A TCP connection opened as soon as the address is known, before the SSH library is loaded and
 * the key parsed: the server accepts it and starts its side (sshd forks and loads its keys) in
 * the meantime, over a real network a whole round trip. It sends nothing; the first attempt to
 * log in takes it over if it is still open, else connects anew.
 */
export class EarlySocket {
  readonly where: string
  private readonly socket: net.Socket
  private failed = false
  private taken = false
  private readonly fail = () => (this.failed = true)

  constructor(host: string, port: number) {
    this.where = `${host}:${port}`
    this.socket = net.connect({ host, port, noDelay: true })
    // Until an attempt takes it over, an error only means that attempt connects anew, and the
    // socket must not keep a run that fails before the restart from ending.
    this.socket.unref()
    this.socket.on('error', this.fail).on('close', this.fail)
  }

  /** The socket for an attempt at `where`, once, if still usable; else undefined (and closed). */
  take(where: string): net.Socket | undefined {
    if (this.taken) return undefined
    this.taken = true
    this.socket.off('error', this.fail).off('close', this.fail)
    if (this.failed || where !== this.where || this.socket.destroyed) {
      // An error still on its way must find a listener, or it would end the process.
      this.socket.on('error', () => undefined).destroy()
      return undefined
    }
    return this.socket.ref()
  }

  /** Closes it unless an attempt took it over (then it belongs to that connection). */
  discard(): void {
    if (!this.taken) this.take('')
  }
}

/** A logged-in SSH connection. */
export interface SshConnection {
  client: Client
  /** `host:port`, as messages name the connection. */
  where: string
  /** The fingerprint of the host key the server presented. */
  hostFingerprint: string
  /** Ends the connection; a server that does not close its side is cut off after a second. */
  close(): void
}

const FIRST_RETRY_DELAY_MS = 250
const MAX_RETRY_DELAY_MS = 5_000
// A handshake that takes longer than this is stuck: better to start a fresh attempt.
const MAX_ATTEMPT_MS = 20_000

// Errors that mean "not reachable yet": an instance that is booting refuses or drops connections.
const RETRYABLE_LEVELS = new Set(['client-socket', 'client-timeout', 'client-dns'])
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN'
])

interface Ssh2Error {
  message?: string
  level?: string
  code?: string | number
}

/** What the host key check saw during one attempt. */
interface Seen {
  fingerprint?: string
  refused?: boolean
}

/** Connects and logs in, retrying while the instance boots; throws an ActionError otherwise. */
export async function connectWithRetries(options: ConnectOptions): Promise<SshConnection> {
  const { Client } = await loadSsh2()
  const where = `${options.host}:${options.port}`
  const backoff = createBackoff({
    totalMs: options.timeoutMs,
    initialDelayMs: FIRST_RETRY_DELAY_MS,
    maxDelayMs: MAX_RETRY_DELAY_MS,
    sleep: options.sleep
  })
  for (let attempt = 1; ; attempt++) {
    throwIfStopped(options.signal)
    const seen: Seen = {}
    const client = new Client()
    try {
      await connectOnce(client, options, seen, Math.min(backoff.remainingMs(), MAX_ATTEMPT_MS))
    } catch (error) {
      close(client)
      throwIfStopped(options.signal)
      if (seen.refused) {
        throw hostKeyMismatch(where, seen.fingerprint ?? '', options.hostKeys, options.hop)
      }
      const final = finalConnectError(error, options, where)
      if (final) throw final
      if (!(await backoff.wait()) || backoff.remainingMs() <= 0) {
        throw connectTimedOut(options, where, attempt, error)
      }
      continue
    }
    // An unheard 'error' would crash the process; a later one fails the command in flight.
    client.on('error', (error: Error) =>
      options.warn(`SSH connection to ${where}: ${quoteUntrusted(error.message)}`)
    )
    return {
      client,
      where,
      hostFingerprint: seen.fingerprint ?? '',
      close: () => close(client)
    }
  }
}

async function connectOnce(
  client: Client,
  options: ConnectOptions,
  seen: Seen,
  readyTimeoutMs: number
): Promise<void> {
  // Nagle's algorithm would hold each small handshake packet until the peer's delayed ACK
  // (~40 ms a round trip); ssh2 leaves it on, so the socket is made here, with it off for life.
  const sock = options.through
    ? await options.through(options.host, options.port)
    : (options.earlySocket?.take(`${options.host}:${options.port}`) ??
      net.connect({ host: options.host, port: options.port, noDelay: true }))
  const config = connectConfig(options, sock, seen, readyTimeoutMs)
  return new Promise<void>((resolve, reject) => {
    // `on`, not `once`: ssh2 may report a second error while the attempt is torn down.
    const fail = (error: unknown) => {
      options.signal?.removeEventListener('abort', stop)
      client.removeListener('ready', ready)
      reject(error)
    }
    const ready = () => {
      options.signal?.removeEventListener('abort', stop)
      client.removeListener('error', fail)
      client.removeListener('close', closedEarly)
      resolve()
    }
    const closedEarly = () =>
      fail(Object.assign(new Error('Connection closed'), { level: 'client-socket' }))
    const { signal } = options
    const stop = () => {
      client.destroy()
      fail(new StoppedError(stopRequest(signal as AbortSignal)))
    }
    signal?.addEventListener('abort', stop, { once: true })
    client.once('ready', ready)
    client.on('error', fail)
    client.once('close', closedEarly)
    try {
      client.connect(config)
    } catch (error) {
      sock.destroy()
      fail(error)
    }
  })
}

/** ssh2's settings for one attempt: the key alone, and the host key check during key exchange. */
function connectConfig(
  options: ConnectOptions,
  sock: Duplex,
  seen: Seen,
  readyTimeoutMs: number
): ConnectConfig {
  const { credentials, hostKeys } = options
  const algorithms = hostKeyAlgorithms(hostKeys)
  return {
    sock,
    host: options.host,
    port: options.port,
    username: credentials.username,
    privateKey: credentials.privateKey,
    passphrase: credentials.passphrase,
    readyTimeout: Math.max(1, readyTimeoutMs),
    // The key is the only way in: skipping ssh2's opening "none" attempt saves a round trip.
    authHandler: ['publickey'],
    ...(algorithms ? { algorithms: { serverHostKey: algorithms } } : {}),
    // Runs during key exchange, before the key is offered to the server.
    hostVerifier: (hostKey: Buffer) => {
      seen.fingerprint = sshFingerprint(hostKey)
      seen.refused = !hostKeyAccepted(hostKeys, hostKey)
      return !seen.refused
    }
  }
}

/** Ends the connection and makes sure its socket cannot keep the process alive. */
function close(client: Client): void {
  // Errors while closing a dying connection change nothing.
  client.on('error', () => undefined)
  client.end()
  // end() waits for the server to close its side; a hung server would keep the socket open.
  const forceClose = setTimeout(() => client.destroy(), 1_000)
  forceClose.unref()
  client.once('close', () => clearTimeout(forceClose))
}

/** The ActionError for a failure that retrying cannot fix, or undefined when worth retrying. */
function finalConnectError(
  error: unknown,
  options: ConnectOptions,
  where: string
): ActionError | undefined {
  // Already said in the action's words: the bastion's own failure, or its refusal of a channel.
  if (error instanceof ActionError) return error
  const { username } = options.credentials
  const err = (error ?? {}) as Ssh2Error
  if (err.level === 'client-authentication' && options.hop === 'bastion') {
    return new ActionError(
      `The bastion refused the key: SSH login as "${username}" on ${where} (input "ssh-jump") was ` +
        'refused. Check input "ssh-jump-private-key" (when empty, the key of input ' +
        '"ssh-private-key" is offered) and the login user (input "ssh-jump-user", or the user in ' +
        'input "ssh-jump").'
    )
  }
  if (err.level === 'client-authentication') {
    return new ActionError(
      `SSH login as "${username}" on ${where} was refused: the server did not accept the key ` +
        `from input "ssh-private-key". Check that it is the private key of the instance's key pair ` +
        `and that "${username}" is the instance's login user (ec2-user on Amazon Linux, ` +
        `ubuntu on Ubuntu).`
    )
  }
  if (
    (err.level && RETRYABLE_LEVELS.has(err.level)) ||
    (typeof err.code === 'string' && RETRYABLE_CODES.has(err.code))
  ) {
    return undefined
  }
  const { hostKeys } = options
  if (hostKeys.kind === 'console' && /no matching host key/i.test(err.message ?? '')) {
    const types = [...new Set(hostKeys.keys.map(key => key.type))].join(', ')
    return new ActionError(
      `The SSH server at ${where} offered no host key of a type that cloud-init listed in the ` +
        `console output of ${hostKeys.instanceId} (${types}); the connection was closed before ` +
        'logging in. Something else may answer at that address. Confirm the fingerprint on the ' +
        'instance ("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub") and pin it with input ' +
        '"ssh-host-fingerprint".'
    )
  }
  // The server's own words (a DISCONNECT message) are whatever it chose to send.
  const said = quoteUntrusted(err.message ?? String(error))
  if (typeof err.code === 'number') {
    return new ActionError(`The SSH server at ${where} closed the connection: ${said}`)
  }
  return new ActionError(`SSH connection to ${where} failed: ${said}`)
}

function hostKeyMismatch(
  where: string,
  fingerprint: string,
  check: HostKeyCheck,
  hop: Hop | undefined
): ActionError {
  if (hop === 'bastion') {
    const against =
      check.kind === 'console'
        ? `no key of its type that cloud-init printed to the console output of ${check.instanceId}`
        : 'none in input "ssh-jump-host-fingerprint"'
    return new ActionError(
      `The bastion's host key did not match: ${where} (input "ssh-jump") presented fingerprint ` +
        `${fingerprint}, which matches ${against}; the connection was closed before logging in, ` +
        'and nothing was sent to the target. Confirm the fingerprint on the bastion ' +
        '("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub") and pin it with input ' +
        '"ssh-jump-host-fingerprint".'
    )
  }
  const opening = hop === 'target' ? "The target's host key did not match: the" : 'The'
  if (check.kind === 'console') {
    return new ActionError(
      `${opening} host key of ${where} has fingerprint ${fingerprint}, which matches no key of its type ` +
        `that cloud-init printed to the console output of ${check.instanceId}; the connection was ` +
        'closed before logging in. Something else may answer at that address. Confirm the ' +
        'fingerprint on the instance ("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub") and pin ' +
        'it with input "ssh-host-fingerprint".'
    )
  }
  return new ActionError(
    `${opening} host key of ${where} has fingerprint ${fingerprint}, which matches none in input ` +
      '"ssh-host-fingerprint"; the connection was closed before logging in. If the instance was ' +
      'replaced or re-keyed, confirm the new fingerprint on the instance ("ssh-keygen -lf ' +
      '/etc/ssh/ssh_host_ed25519_key.pub") and update input "ssh-host-fingerprint".'
  )
}

function connectTimedOut(
  options: ConnectOptions,
  where: string,
  attempts: number,
  lastError: unknown
): ActionError {
  const last = quoteUntrusted((lastError as Ssh2Error | undefined)?.message ?? String(lastError))
  const via = options.hop === 'target' ? ' through the bastion' : ''
  const from = options.hop === 'target' ? 'the bastion' : 'the runner'
  return new ActionError(
    `Could not connect to ${where} over SSH${via} within ${formatSeconds(options.timeoutMs)} ` +
      `(${attempts} attempt${attempts === 1 ? '' : 's'}; last error: ${last}). Check that the ` +
      `instance is running, that the address is right and that its security group allows TCP port ` +
      `${options.port} from ${from}; a slow boot needs a longer input "ssh-connect-timeout".`
  )
}
