import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { HOST_NAME } from '../../lib/addresses.js'
import { ActionError } from '../../lib/errors.js'
import { quoteUntrusted, type Logger } from '../../lib/log.js'
import { connectWithRetries, type EarlySocket, type SshConnection } from './connect.js'
import type { RestartDeps } from '../transport.js'
import type { HostKeyCheck } from './host-keys.js'
import type { SshCredentials } from './validate.js'

// The bastion (input "ssh-jump"): one SSH connection to it, and for each target a direct-tcpip
// channel through it (RFC 4254, 7.2), as OpenSSH's ProxyJump does. The target's SSH session runs
// inside that channel, end to end: the bastion relays bytes it cannot read, and the target's host
// key is checked exactly as without a bastion.

/** Input "ssh-jump" as given: `[user@]host[:port]`, or an instance id whose address is looked up. */
export type JumpSpec =
  | { kind: 'address'; user?: string; host: string; port: number }
  | { kind: 'instance'; user?: string; instanceId: string; port: number }

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/
// `user@`, then `[v6]`, or a host without colons, then `:port`; each part checked after.
const SPEC = /^(?:([^@]*)@)?(?:\[([^\]]*)\]|([^:@[\]]*))(?::(\d{1,5}))?$/

/** Parses input "ssh-jump"; the user, when given, is checked by the caller (checkUserName). */
export function parseJumpSpec(value: string, defaultPort: number): JumpSpec {
  const match = SPEC.exec(value)
  const [, user, v6, name, portText] = match ?? []
  const host = v6 ?? name ?? ''
  const port = portText === undefined ? defaultPort : Number(portText)
  const hostOk = v6 !== undefined ? isIP(v6) === 6 : isIP(host) === 4 || HOST_NAME.test(host)
  if (!match || !hostOk || port < 1 || port > 65535) {
    throw new ActionError(
      `Input "ssh-jump" is ${JSON.stringify(quoteUntrusted(value, 300))}, which is not a bastion: ` +
        'give user@host[:port] (an IPv6 address in brackets: user@[2001:db8::1]:22), host[:port], ' +
        'or the instance id (i-...) of the bastion.'
    )
  }
  if (INSTANCE_ID.test(host)) return { kind: 'instance', user, instanceId: host, port }
  return { kind: 'address', user, host, port }
}

/** Where the bastion is and how its host key is checked: known when it is first connected to. */
export interface JumpEndpoint {
  host: string
  port: number
  hostKeys: HostKeyCheck
}

export interface JumpOptions {
  credentials: SshCredentials
  /** Looks the bastion up (an instance id: its address and console host keys) once, when needed. */
  endpoint: (sleep: (ms: number) => Promise<void>) => Promise<JumpEndpoint>
  connectTimeoutMs: number
  log: Logger
  /** A connection to the bastion opened as soon as its address was known. */
  earlySocket?: EarlySocket
}

// RFC 4254, 5.1: the reason codes of SSH_MSG_CHANNEL_OPEN_FAILURE, in its words.
const ADMINISTRATIVELY_PROHIBITED = 1
const OPEN_FAILURE_REASONS: Record<number, string> = {
  1: 'administratively prohibited',
  2: 'connect failed',
  3: 'unknown channel type',
  4: 'resource shortage'
}

/**
 * The bastion of a run: one connection, opened for the first target and reused by the others
 * (each target's channel is its own; max-concurrency bounds how many are open at once). A failure
 * to reach or log in to the bastion fails every target with the same message; a connection that
 * drops is opened anew for the next channel.
 */
export class JumpHost {
  private connection: Promise<SshConnection> | undefined

  constructor(private readonly options: JumpOptions) {}

  /** A stream to host:port through the bastion; an ActionError names the hop that failed. */
  async channelTo(
    host: string,
    port: number,
    deps: Pick<RestartDeps, 'sleep' | 'signal'>
  ): Promise<Duplex> {
    const connection = await (this.connection ??= this.connect(deps))
    const target = `${host}:${port}`
    return new Promise((resolve, reject) => {
      // The originator is this end of the channel as OpenSSH's ssh -W names it: nothing listens.
      connection.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
        if (!error) return resolve(channel)
        reject(channelRefused(error, target, connection.where))
      })
    })
  }

  /** Ends the connection to the bastion, if one was opened. */
  close(): void {
    this.options.earlySocket?.discard()
    void this.connection?.then(
      connection => connection.close(),
      () => undefined
    )
    this.connection = undefined
  }

  private async connect(deps: Pick<RestartDeps, 'sleep' | 'signal'>): Promise<SshConnection> {
    const { options } = this
    const endpoint = await options.endpoint(deps.sleep)
    const connection = await connectWithRetries({
      host: endpoint.host,
      port: endpoint.port,
      credentials: options.credentials,
      hostKeys: endpoint.hostKeys,
      timeoutMs: options.connectTimeoutMs,
      sleep: deps.sleep,
      warn: message => options.log.warning(`The bastion: ${message}`),
      signal: deps.signal,
      earlySocket: options.earlySocket,
      hop: 'bastion'
    })
    options.log.info(
      `Connected to the bastion ${connection.where} (host key ${connection.hostFingerprint}).`
    )
    // The next channel opens a new connection rather than fail on a closed one.
    const pending = this.connection
    connection.client.once('close', () => {
      if (this.connection === pending) this.connection = undefined
    })
    return connection
  }
}

/**
 * The bastion's refusal of a channel (ssh2's error: "(SSH) Channel open failure: <description>",
 * with the reason code as `reason`). Forwarding switched off (AllowTcpForwarding no) is final;
 * anything else (the target refused or is not up yet) is worth retrying while the target boots.
 */
export function channelRefused(
  error: Error & { reason?: unknown },
  target: string,
  bastion: string
): Error {
  const description = error.message.replace(/^\(SSH\) Channel open failure: ?/, '')
  const reason = typeof error.reason === 'number' ? OPEN_FAILURE_REASONS[error.reason] : undefined
  const said = [reason, description && quoteUntrusted(description, 200)].filter(Boolean).join(': ')
  const answer = said ? ` (${said})` : ''
  if (error.reason === ADMINISTRATIVELY_PROHIBITED) {
    return new ActionError(
      `The bastion could not open a channel to ${target} (AllowTcpForwarding?): ${bastion} ` +
        `refused it${answer}. Allow TCP forwarding for the login user on the bastion ` +
        '(AllowTcpForwarding yes or local in its sshd_config), or reach the instance another way ' +
        '(restart: ssm).'
    )
  }
  return Object.assign(
    new Error(`the bastion could not open a channel to ${target}: ${bastion} refused it${answer}`),
    { level: 'client-socket' }
  )
}
