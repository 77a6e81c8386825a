import { StoppedError } from '../../lib/cancel.js'
import { ActionError, failureMessage } from '../../lib/errors.js'
import type { AddressType } from '../../ec2/instances.js'
import { withPrefix, type Logger, type LogWriter, type UntrustedSink } from '../../lib/log.js'
import type { RestartScript } from '../script.js'
import type { HostKeyPolicy, InstanceTransport, RestartTarget } from '../transport.js'
import { connectWithRetries, type EarlySocket } from './connect.js'
import type { HostKeyCheck } from './host-keys.js'
import type { JumpHost } from './jump.js'
import {
  readFailureLogs,
  RemoteStepError,
  runSteps,
  TIMED_OUT,
  type RemoteStep
} from './remote-shell.js'
import type { SshCredentials } from './validate.js'
import type { FailureLogs } from '../failure-logs.js'

// The SSH transport of the restart engine: one instance per connection, restarted and checked in
// one channel; the engine (restart/engine.ts) runs the fan-out and the report.

export interface RestartOptions {
  host: string
  port: number
  /** Checked once, before deploying (checkSshNames, checkSshKey). */
  credentials: SshCredentials
  hostKeys: HostKeyCheck
  /** The restart and its check, built once in the plan (restartScript). */
  script: RestartScript
  /** Total budget for connecting, including retries while the instance boots. */
  connectTimeoutMs: number
  /** Budget of each remote command. */
  commandTimeoutMs: number
  sleep: (ms: number) => Promise<void>
  /** The step's cancellation: the connection is closed and a StoppedError thrown. */
  signal?: AbortSignal
  /** The program's logger: warnings about the connection (a retry, a host key mode). */
  log: Logger
  /**
   * Where the remote output goes: one raw log line at a time, wrapped in the runner's
   * stop-commands (the default writes to stdout), or a sink of its own, which gets the remote
   * lines alone (a fleet collects each instance's).
   */
  output?: LogWriter | UntrustedSink
  /** A connection to host:port the pipeline opened as soon as it knew the address. */
  earlySocket?: EarlySocket
  /** The bastion the connection goes through (input "ssh-jump"). */
  jump?: JumpHost
}

export interface RestartResult {
  /** The fingerprint of the host key the server presented. */
  hostFingerprint: string
}

/**
 * Connects to the instance (retrying while it boots), restarts the unit with `sudo -n systemctl
 * restart`, then checks it with `systemctl is-active` or the health command: both in one channel.
 */
export async function restartService(options: RestartOptions): Promise<RestartResult> {
  const { credentials } = options
  const connection = await connectWithRetries({
    host: options.host,
    port: options.port,
    credentials,
    hostKeys: options.hostKeys,
    timeoutMs: options.connectTimeoutMs,
    sleep: options.sleep,
    warn: message => options.log.warning(message),
    signal: options.signal,
    earlySocket: options.earlySocket,
    ...(options.jump && {
      through: (host: string, port: number) =>
        (options.jump as JumpHost).channelTo(host, port, options),
      hop: 'target' as const
    })
  })
  try {
    const steps = remoteSteps(options.script, connection.where, credentials.username)
    try {
      await runSteps(connection, steps, options.commandTimeoutMs, options.output, options.signal)
    } catch (error) {
      const logs = options.script.failureLogs
      if (error instanceof RemoteStepError && logs)
        error.failureLogs = await readFailureLogs(
          connection,
          logs,
          options.script.unit,
          options.signal
        )
      throw error
    }
    return { hostFingerprint: connection.hostFingerprint }
  } finally {
    connection.close()
  }
}

/** The script's two steps, with the words their failure messages use (a release reuses them). */
export function remoteSteps(script: RestartScript, where: string, username: string): RemoteStep[] {
  const { unit, sshSteps } = script
  const inspect = `"systemctl status ${unit}" and "journalctl -u ${unit}" on the instance`
  // Closing the channel does not stop a command sshd started without a terminal: coreutils'
  // timeout does. It runs outside sudo, so a sudoers rule that allows only "systemctl restart
  // <unit>" still matches.
  const restart: RemoteStep = {
    command: sshSteps.restart,
    doing: `Restarting service "${unit}" on ${where}`,
    failed: `Restarting service "${unit}" on ${where} failed`,
    program: 'sudo -n systemctl restart',
    hint: `Check ${inspect}; user "${username}" needs passwordless sudo for systemctl.`
  }
  const retried = script.checkSeconds === undefined ? undefined : retriedLimit(script.checkSeconds)
  const check: RemoteStep = script.healthUrl
    ? {
        command: sshSteps.check,
        shown: 'curl the health-url until it answers 2xx (input "health-timeout")',
        doing: `The health check (input "health-url") on ${where}`,
        failed: `The health check of service "${unit}" on ${where} failed after the restart`,
        program: 'the check of input "health-url"',
        hint: `Check ${inspect}, and that the service answers at input "health-url" on the instance itself.`,
        limit: retried
      }
    : script.healthCommand
      ? {
          command: sshSteps.check,
          doing: `The health command on ${where}`,
          failed: `The health check of service "${unit}" on ${where} failed after the restart`,
          program: 'the health command (input "health-command")',
          hint: `Check ${inspect}, and the health command itself.`,
          limit: retried
        }
      : {
          command: sshSteps.check,
          doing: `Checking that service "${unit}" on ${where} is active`,
          failed: `Service "${unit}" on ${where} is not active after the restart`,
          program: 'systemctl is-active',
          hint: `See ${inspect}.`,
          includeStdout: true
        }
  return [restart, check]
}

/** A retried check may take its whole budget, and its last probe a little more. */
function retriedLimit(checkSeconds: number): RemoteStep['limit'] {
  return { ms: (checkSeconds + 15) * 1000, input: 'health-timeout' }
}

/** What the SSH transport uses of the inputs: the login reaches no other part of the restart. */
export interface SshTransportSettings {
  credentials: SshCredentials
  port: number
  connectTimeoutMs: number
  commandTimeoutMs: number
  /** Input "address-type", for the message about a target without an address. */
  addressType: AddressType
  /** The bastion every target is reached through (input "ssh-jump"), with how the log names it. */
  jump?: { host: JumpHost; label: string }
}

/**
 * What an instance's result is called: Run Command's words where they mean the same (Failed,
 * TimedOut), and the fan-out's own for the rest.
 */
const SSH_STATUS = {
  /** A step ran and exited non-zero. */
  failed: 'Failed',
  /** A step was stopped at input "ssh-command-timeout". */
  timedOut: 'TimedOut',
  /** No command ran: no address, the host key refused, login refused, unreachable. */
  notConnected: 'NotConnected',
  /** The step was cancelled while it ran: the connection was closed, the remote fate is unknown. */
  unknown: 'Unknown'
} as const

/** The restart over SSH, each target checked against its host key as `hostKeys` decides. */
export function sshTransport(
  settings: SshTransportSettings,
  hostKeys: HostKeyPolicy
): InstanceTransport {
  const where = (target: RestartTarget) =>
    target.address ? `${target.address}:${settings.port}` : undefined
  return {
    kind: 'instance',
    name: 'ssh',
    via: settings.jump ? `over SSH through the bastion ${settings.jump.label}` : 'over SSH',
    where,
    stopped: several =>
      several
        ? 'the connections to the instances were closed: whether the restart ran on those it had started is unknown (see the table), check the service'
        : 'the connection to the instance was closed: whether the restart ran there is unknown, check the service',
    failure: describeFailure,
    async prepare(targets, restart, deps) {
      const hostKeysFor = await hostKeys(targets, deps)
      return async target => {
        if (target.address === '') {
          throw new ActionError(
            `Instance ${target.instanceId} has no ${settings.addressType} address (input "address-type"), so it cannot be reached over SSH.`
          )
        }
        const check = await hostKeysFor(target)
        return {
          async run(output) {
            const { hostFingerprint } = await restartService({
              host: target.address,
              port: settings.port,
              credentials: settings.credentials,
              hostKeys: check,
              script: restart.script,
              connectTimeoutMs: settings.connectTimeoutMs,
              commandTimeoutMs: settings.commandTimeoutMs,
              sleep: deps.sleep,
              signal: deps.signal,
              // Of several at once, each warning names its instance.
              log: output ? withPrefix(deps.log, `${target.instanceId}: `) : deps.log,
              output,
              earlySocket: target.earlySocket,
              jump: settings.jump?.host
            })
            const passed = restart.script.healthCommand ? 'health command passed' : 'active'
            return `${passed} (host key ${hostFingerprint})`
          }
        }
      }
    }
  }
}

/** A failed instance's row: what stopped it, in the fan-out's words. */
function describeFailure(error: unknown): {
  status: string
  exitCode?: number
  message: string
  logs?: FailureLogs
} {
  if (error instanceof StoppedError) {
    return {
      status: SSH_STATUS.unknown,
      message:
        'the connection was closed when the step was cancelled: whether the restart ran there is unknown.'
    }
  }
  if (error instanceof RemoteStepError) {
    return {
      status: error.exitCode === TIMED_OUT ? SSH_STATUS.timedOut : SSH_STATUS.failed,
      exitCode: error.exitCode,
      message: failureMessage(error),
      logs: error.failureLogs
    }
  }
  return { status: SSH_STATUS.notConnected, message: failureMessage(error) }
}
