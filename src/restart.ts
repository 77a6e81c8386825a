import * as core from '@actions/core'
import { createHash } from 'node:crypto'
import { StringDecoder } from 'node:string_decoder'
import type { NodeSSH } from 'node-ssh'
import { createBackoff } from './backoff.js'
import { ActionError } from './errors.js'
import { printUntrusted } from './log.js'

export interface SshTarget {
  host: string
  port: number
  username: string
  privateKey: string
  passphrase?: string
}

export type HostKeyCheck = { kind: 'pinned'; fingerprints: string[] } | { kind: 'any' }

export interface RestartOptions {
  target: SshTarget
  /** 'pinned': `SHA256:...` fingerprints as `ssh-keygen -lf` prints them. */
  hostKeys: HostKeyCheck
  /** The systemd unit to restart. */
  service: string
  /** Replaces the `systemctl is-active` check when non-empty; the workflow author's own command. */
  healthCommand?: string
  /** Total budget for connecting, including retries while the instance boots. */
  connectTimeoutMs: number
  /** Budget of each remote command. */
  commandTimeoutMs: number
  sleep?: (ms: number) => Promise<void>
  log?: RestartLog
}

export interface RestartLog {
  info(line: string): void
  warning(message: string): void
}

export interface RestartResult {
  /** The fingerprint of the host key the server presented. */
  hostFingerprint: string
}

// systemd's own limit and alphabet for unit names (systemd.unit(5)); `@` for template instances.
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/
const UNIT_NAME_MAX = 255
// useradd's default NAME_REGEX (with upper case refused) and its length limit.
const USER_NAME = /^[a-z_][a-z0-9_-]*\$?$/
const USER_NAME_MAX = 32

const FIRST_RETRY_DELAY_MS = 250
const MAX_RETRY_DELAY_MS = 5_000
// A handshake that takes longer than this is stuck: better to start a fresh attempt.
const MAX_ATTEMPT_MS = 20_000
const STDERR_LINES_IN_MESSAGE = 20

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

/** Throws unless `service` is a systemd unit name: it ends up on a remote command line. */
export function checkServiceName(service: string): void {
  if (service.length > UNIT_NAME_MAX || !UNIT_NAME.test(service) || service.startsWith('-')) {
    throw new ActionError(
      `Input "service" must be a systemd unit name such as "fastapi" or "fastapi.service" (letters, ` +
        `digits and ":_.@-\\", at most ${UNIT_NAME_MAX} characters, not starting with "-"), ` +
        `not ${JSON.stringify(service)}.`
    )
  }
}

/**
 * Throws unless `user` is a Linux user name. The message does not repeat the value: it may come
 * from the deployment secret.
 */
export function checkUserName(user: string, source: string): void {
  if (user.length <= USER_NAME_MAX && USER_NAME.test(user)) return
  const problem = user === '' ? 'is empty' : 'is not a valid Linux user name'
  throw new ActionError(
    `${capitalize(source)} ${problem}: give the instance's login user, such as "ec2-user" or ` +
      `"ubuntu" (lower-case letters, digits, "_" and "-", starting with a letter or "_", at most ` +
      `${USER_NAME_MAX} characters).`
  )
}

/** The fingerprint of a raw SSH host key, exactly as `ssh-keygen -lf` prints it. */
export function sshFingerprint(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`
}

/**
 * Checks what the restart will need, the private key included (ssh2 parses it, as it will to
 * connect); the pipeline calls it before deploying, so that a mistake fails the run before anything
 * changes.
 */
export async function checkRestartTarget(
  service: string,
  target: Pick<SshTarget, 'username' | 'privateKey' | 'passphrase'>,
  userSource: string
): Promise<void> {
  checkServiceName(service)
  if (target.privateKey.trim() === '') {
    throw new ActionError(
      'Input "ssh-private-key" is empty: give the private key of the instance\'s key pair, e.g. ' +
        '${{ secrets.EC2_SSH_KEY }}, or set restart: none.'
    )
  }
  // ssh2 is CommonJS: plain Node gives its exports as `default` only, a bundle also by name.
  const ssh2 = await import('ssh2')
  const { utils } = ssh2.default ?? ssh2
  const parsed = utils.parseKey(target.privateKey, target.passphrase || undefined)
  if (parsed instanceof Error) throw privateKeyError(parsed.message, Boolean(target.passphrase))
  if (!(Array.isArray(parsed) ? parsed : [parsed]).every(key => key.isPrivateKey())) {
    throw privateKeyError('does not contain a (valid) private key', Boolean(target.passphrase))
  }
  checkUserName(target.username, userSource)
}

/**
 * Connects to the instance (retrying while it boots), restarts the unit with `sudo -n systemctl
 * restart`, then checks it with `systemctl is-active` or the health command.
 */
export async function restartService(options: RestartOptions): Promise<RestartResult> {
  const { target, service } = options
  await checkRestartTarget(service, target, 'the SSH user')
  if (options.hostKeys.kind === 'pinned' && options.hostKeys.fingerprints.length === 0) {
    throw new ActionError(
      'Input "ssh-host-fingerprint" lists no fingerprint to pin the host key to.'
    )
  }
  const log = options.log ?? {
    info: printUntrusted,
    warning: message => core.warning(message)
  }
  const sleep = options.sleep ?? (ms => new Promise<void>(resolve => setTimeout(resolve, ms)))

  const { ssh, hostFingerprint } = await connectWithRetries(options, sleep, log)
  try {
    const where = describeTarget(target)
    const remote = new RemoteShell(ssh, where, options.commandTimeoutMs, log)
    const unit = singleQuote(service)
    // Closing the channel does not stop a command sshd started without a terminal: coreutils'
    // timeout does, a little after the action has given up. It runs outside sudo, so a sudoers
    // rule that allows only "systemctl restart <unit>" still matches.
    const limit = `timeout ${Math.ceil(options.commandTimeoutMs / 1000) + 2}`
    const inspect = `"systemctl status ${service}" and "journalctl -u ${service}" on the instance`
    await remote.run(`${limit} sudo -n systemctl restart -- ${unit}`, {
      doing: `Restarting service "${service}" on ${where}`,
      failed: `Restarting service "${service}" on ${where} failed`,
      program: 'sudo -n systemctl restart',
      hint: `Check ${inspect}; user "${target.username}" needs passwordless sudo for systemctl.`
    })
    if (options.healthCommand) {
      await remote.run(`${limit} sh -c ${singleQuote(options.healthCommand)}`, {
        doing: `The health command on ${where}`,
        failed: `The health check of service "${service}" on ${where} failed after the restart`,
        program: 'the health command (input "health-command")',
        hint: `Check ${inspect}, and the health command itself.`
      })
    } else {
      await remote.run(`${limit} systemctl is-active -- ${unit}`, {
        doing: `Checking that service "${service}" on ${where} is active`,
        failed: `Service "${service}" on ${where} is not active after the restart`,
        program: 'systemctl is-active',
        hint: `See ${inspect}.`,
        includeStdout: true
      })
    }
    return { hostFingerprint }
  } finally {
    disconnect(ssh)
  }
}

function describeTarget(target: SshTarget): string {
  return `${target.host}:${target.port}`
}

interface Connection {
  ssh: NodeSSH
  hostFingerprint: string
}

async function connectWithRetries(
  options: RestartOptions,
  sleep: (ms: number) => Promise<void>,
  log: RestartLog
): Promise<Connection> {
  const { NodeSSH } = await import('node-ssh')
  const { target, hostKeys, connectTimeoutMs } = options
  const where = describeTarget(target)
  const backoff = createBackoff({
    totalMs: connectTimeoutMs,
    initialDelayMs: FIRST_RETRY_DELAY_MS,
    maxDelayMs: MAX_RETRY_DELAY_MS,
    sleep
  })
  for (let attempt = 1; ; attempt++) {
    const ssh = new NodeSSH()
    const seen: { fingerprint?: string; refused?: boolean } = {}
    try {
      await ssh.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        passphrase: target.passphrase || undefined,
        readyTimeout: Math.max(1, Math.min(backoff.remainingMs(), MAX_ATTEMPT_MS)),
        // Runs during key exchange, before the key is offered to the server.
        hostVerifier: (hostKey: Buffer) => {
          seen.fingerprint = sshFingerprint(hostKey)
          seen.refused = !hostKeyAccepted(hostKeys, seen.fingerprint)
          return !seen.refused
        }
      })
    } catch (error) {
      disconnect(ssh)
      if (seen.refused) throw hostKeyMismatch(where, seen.fingerprint ?? '')
      const final = finalConnectError(error, options)
      if (final) throw final
      if (!(await backoff.wait()) || backoff.remainingMs() <= 0) {
        throw connectTimedOut(options, attempt, error)
      }
      continue
    }
    // node-ssh stops listening for errors once connected; an unheard 'error' would crash the process.
    ssh.connection?.on('error', (error: Error) =>
      log.warning(`SSH connection to ${where}: ${error.message}`)
    )
    return { ssh, hostFingerprint: seen.fingerprint ?? '' }
  }
}

function hostKeyAccepted(hostKeys: HostKeyCheck, fingerprint: string): boolean {
  if (hostKeys.kind === 'any') return true
  return hostKeys.fingerprints.some(pinned => pinned.trim().replace(/=+$/, '') === fingerprint)
}

interface Ssh2Error {
  message?: string
  level?: string
  code?: string
}

/** The ActionError for a failure that retrying cannot fix, or undefined when worth retrying. */
function finalConnectError(error: unknown, options: RestartOptions): ActionError | undefined {
  const { target } = options
  const where = describeTarget(target)
  const err = (error ?? {}) as Ssh2Error
  const message = err.message ?? String(error)
  if (err.level === 'client-authentication') {
    return new ActionError(
      `SSH login as "${target.username}" on ${where} was refused: the server did not accept the key ` +
        `from input "ssh-private-key". Check that it is the private key of the instance's key pair ` +
        `and that "${target.username}" is the instance's login user (ec2-user on Amazon Linux, ` +
        `ubuntu on Ubuntu).`
    )
  }
  if (err.level === undefined && /privateKey|passphrase/i.test(message)) {
    return privateKeyError(message, Boolean(target.passphrase))
  }
  if (
    (err.level && RETRYABLE_LEVELS.has(err.level)) ||
    (err.code && RETRYABLE_CODES.has(err.code))
  ) {
    return undefined
  }
  return new ActionError(`SSH connection to ${where} failed: ${message}`)
}

/** ssh2's parser messages are mapped to advice: some of them quote bytes of the key. */
function privateKeyError(parserMessage: string, passphraseGiven: boolean): ActionError {
  const start = 'Input "ssh-private-key" could not be used as an SSH private key'
  if (/no passphrase given/i.test(parserMessage)) {
    return new ActionError(
      `${start}: the key is encrypted. Give its passphrase in input "ssh-passphrase".`
    )
  }
  if (
    /bad passphrase/i.test(parserMessage) ||
    (passphraseGiven && /decrypt/i.test(parserMessage))
  ) {
    return new ActionError(`${start}: it could not be decrypted. Check input "ssh-passphrase".`)
  }
  if (/does not contain a \(valid\) private key/.test(parserMessage)) {
    return new ActionError(`${start}: it holds a public key. Give the private key instead.`)
  }
  return new ActionError(
    `${start}: it is not in a format ssh2 reads (OpenSSH, PEM or PuTTY). Paste the whole key file, ` +
      'including its BEGIN and END lines; if the key is encrypted, also set input "ssh-passphrase".'
  )
}

function hostKeyMismatch(where: string, fingerprint: string): ActionError {
  return new ActionError(
    `The host key of ${where} has fingerprint ${fingerprint}, which matches none in input ` +
      '"ssh-host-fingerprint"; the connection was closed before logging in. If the instance was ' +
      'replaced or re-keyed, confirm the new fingerprint on the instance ("ssh-keygen -lf ' +
      '/etc/ssh/ssh_host_ed25519_key.pub") and update input "ssh-host-fingerprint".'
  )
}

function connectTimedOut(
  options: RestartOptions,
  attempts: number,
  lastError: unknown
): ActionError {
  const { port } = options.target
  const seconds = formatSeconds(options.connectTimeoutMs)
  const last = (lastError as Ssh2Error | undefined)?.message ?? String(lastError)
  return new ActionError(
    `Could not connect to ${describeTarget(options.target)} over SSH within ${seconds} ` +
      `(${attempts} attempt${attempts === 1 ? '' : 's'}; last error: ${last}). Check that the ` +
      `instance is running, that the address is right and that its security group allows TCP port ` +
      `${port} from the runner; a slow boot needs a longer input "ssh-connect-timeout".`
  )
}

/** Ends the connection and makes sure its socket cannot keep the process alive. */
function disconnect(ssh: NodeSSH): void {
  const connection = ssh.connection
  ssh.dispose()
  if (!connection) return
  // end() waits for the server to close its side; a hung server would keep the socket open.
  const forceClose = setTimeout(() => connection.destroy(), 1_000)
  forceClose.unref()
  connection.once('close', () => clearTimeout(forceClose))
}

/** What a remote command is for, in the words its failure messages use. */
interface CommandPurpose {
  /** Subject of "did not finish", e.g. `Restarting service "fastapi" on host:22`. */
  doing: string
  /** Opens the message when the command fails, e.g. `Restarting service "fastapi" on host:22 failed`. */
  failed: string
  /** Names the command in "<program> exited with code N". */
  program: string
  /** What to do about a failure. */
  hint: string
  /** Quote stdout too: `systemctl is-active` prints the unit's state there. */
  includeStdout?: boolean
}

interface CommandOutcome {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/** The one method of ssh2's ClientChannel used to stop a command that runs too long. */
interface ClosableChannel {
  close(): void
}

class CommandTimeout extends Error {}

/** Runs commands on a connected host, streaming their output to the log as it arrives. */
class RemoteShell {
  constructor(
    private readonly ssh: NodeSSH,
    private readonly where: string,
    private readonly timeoutMs: number,
    private readonly log: RestartLog
  ) {}

  /** Runs `command`; throws an ActionError unless it exits 0 within the timeout. */
  async run(command: string, purpose: CommandPurpose): Promise<void> {
    this.log.info(`${this.where}$ ${command}`)
    let outcome: CommandOutcome
    try {
      outcome = await this.execWithTimeout(command)
    } catch (error) {
      if (error instanceof CommandTimeout) {
        throw new ActionError(
          `${purpose.doing} did not finish within ${formatSeconds(this.timeoutMs)}, so it was ` +
            `stopped. ${purpose.hint} If it only needs more time, raise input "ssh-command-timeout".`
        )
      }
      const message = error instanceof Error ? error.message : String(error)
      throw new ActionError(`${purpose.doing} could not start: ${message}`)
    }
    if (outcome.code === 0) return
    const ending =
      outcome.code !== null
        ? `exited with code ${outcome.code}`
        : outcome.signal !== null
          ? `was killed by signal ${outcome.signal}`
          : 'ended without an exit status (was the connection lost?)'
    throw new ActionError(
      `${purpose.failed}: ${purpose.program} ${ending}. ${purpose.hint}${quoteOutput(outcome, purpose)}`
    )
  }

  private async execWithTimeout(command: string): Promise<CommandOutcome> {
    let channel: ClosableChannel | undefined
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new CommandTimeout())
        closeChannel(channel)
      }, this.timeoutMs)
    })
    const stdout = new LineLogger(this.log)
    const stderr = new LineLogger(this.log)
    try {
      return await Promise.race([
        this.ssh.execCommand(command, {
          onChannel: (opened: ClosableChannel) => (channel = opened),
          onStdout: chunk => stdout.write(chunk),
          onStderr: chunk => stderr.write(chunk)
        }),
        timedOut
      ])
    } finally {
      clearTimeout(timer)
      stdout.flush()
      stderr.flush()
    }
  }
}

/**
 * Closes a command's channel; it must not throw on a dying link. A signal request would be better,
 * but ssh2 only sends one on a channel still open for writing, and node-ssh ends it at once. Without
 * a terminal sshd does not stop the remote process either: it runs on, detached from the session.
 */
function closeChannel(channel: ClosableChannel | undefined): void {
  try {
    channel?.close()
  } catch {
    // The connection is disposed right after; nothing more to do.
  }
}

/** Splits a byte stream into lines for the log, keeping multi-byte characters whole. */
class LineLogger {
  private readonly decoder = new StringDecoder('utf8')
  private pending = ''

  constructor(private readonly log: RestartLog) {}

  write(chunk: Buffer): void {
    const lines = (this.pending + this.decoder.write(chunk)).split(/\r?\n/)
    this.pending = lines.pop() ?? ''
    for (const line of lines) this.log.info(line)
  }

  flush(): void {
    const rest = this.pending + this.decoder.end()
    this.pending = ''
    if (rest !== '') this.log.info(rest)
  }
}

function quoteOutput(outcome: CommandOutcome, purpose: CommandPurpose): string {
  const parts: string[] = []
  if (purpose.includeStdout && outcome.stdout.trim() !== '') {
    parts.push(`Remote stdout:\n${lastLines(outcome.stdout)}`)
  }
  if (outcome.stderr.trim() !== '') {
    parts.push(`Remote stderr (last lines):\n${lastLines(outcome.stderr)}`)
  }
  return parts.map(part => `\n${part}`).join('')
}

function lastLines(text: string): string {
  return text.trim().split(/\r?\n/).slice(-STDERR_LINES_IN_MESSAGE).join('\n')
}

/** Single-quotes a value for a POSIX shell command line. */
function singleQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
