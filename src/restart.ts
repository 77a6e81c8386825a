import * as core from '@actions/core'
import type { AwsClients } from './aws.js'
import type { ActionInputs } from './inputs.js'
import { OUTPUTS } from './export.js'
import type { LogWriter, UntrustedSink } from './log.js'
import { connectWithRetries, type EarlySocket } from './ssh/connect.js'
import { describeHostKeyMode, type HostKeyCheck } from './ssh/fingerprint.js'
import { runSteps, singleQuote, type RemoteStep } from './ssh/remote-shell.js'
import { checkServiceName, type SshCredentials } from './ssh/validate.js'
import type { RunReport } from './summary.js'

export interface RestartOptions {
  host: string
  port: number
  /** Checked once, before deploying (checkSshNames, checkSshKey). */
  credentials: SshCredentials
  hostKeys: HostKeyCheck
  /** The systemd unit to restart. */
  service: string
  /** Replaces the `systemctl is-active` check when non-empty; the workflow author's own command. */
  healthCommand?: string
  /** Total budget for connecting, including retries while the instance boots. */
  connectTimeoutMs: number
  /** Budget of each remote command. */
  commandTimeoutMs: number
  sleep: (ms: number) => Promise<void>
  /** The step's cancellation: the connection is closed and a StoppedError thrown. */
  signal?: AbortSignal
  log?: RestartLog
  /** A connection to host:port the pipeline opened as soon as it knew the address. */
  earlySocket?: EarlySocket
}

export interface RestartLog {
  /**
   * Writes one raw log line; remote output reaches it wrapped in the runner's stop-commands. Or a
   * sink of its own, which gets the remote lines alone (a fleet collects each instance's).
   */
  info?: LogWriter | UntrustedSink
  warning(message: string): void
}

export interface RestartResult {
  /** The fingerprint of the host key the server presented. */
  hostFingerprint: string
}

/** Where the restart goes: the deployed instance, or the address the secret already holds. */
export interface RestartHost {
  instanceId?: string
  address: string
  /** A connection to the address opened as soon as it was known (port: input "ssh-port"). */
  earlySocket?: EarlySocket
}

/**
 * Connects to the instance (retrying while it boots), restarts the unit with `sudo -n systemctl
 * restart`, then checks it with `systemctl is-active` or the health command: both in one channel.
 */
export async function restartService(options: RestartOptions): Promise<RestartResult> {
  const { service, credentials } = options
  checkServiceName(service)
  const warning = options.log?.warning ?? ((message: string) => core.warning(message))
  const connection = await connectWithRetries({
    host: options.host,
    port: options.port,
    credentials,
    hostKeys: options.hostKeys,
    timeoutMs: options.connectTimeoutMs,
    sleep: options.sleep,
    warn: warning,
    signal: options.signal,
    earlySocket: options.earlySocket
  })
  try {
    const { where } = connection
    const unit = singleQuote(service)
    const inspect = `"systemctl status ${service}" and "journalctl -u ${service}" on the instance`
    // Closing the channel does not stop a command sshd started without a terminal: coreutils'
    // timeout does. It runs outside sudo, so a sudoers rule that allows only "systemctl restart
    // <unit>" still matches.
    const restart: RemoteStep = {
      command: `sudo -n systemctl restart -- ${unit}`,
      doing: `Restarting service "${service}" on ${where}`,
      failed: `Restarting service "${service}" on ${where} failed`,
      program: 'sudo -n systemctl restart',
      hint: `Check ${inspect}; user "${credentials.username}" needs passwordless sudo for systemctl.`
    }
    const check: RemoteStep = options.healthCommand
      ? {
          command: `sh -c ${singleQuote(options.healthCommand)}`,
          doing: `The health command on ${where}`,
          failed: `The health check of service "${service}" on ${where} failed after the restart`,
          program: 'the health command (input "health-command")',
          hint: `Check ${inspect}, and the health command itself.`
        }
      : {
          command: `systemctl is-active -- ${unit}`,
          doing: `Checking that service "${service}" on ${where} is active`,
          failed: `Service "${service}" on ${where} is not active after the restart`,
          program: 'systemctl is-active',
          hint: `See ${inspect}.`,
          includeStdout: true
        }
    await runSteps(
      connection,
      [restart, check],
      options.commandTimeoutMs,
      options.log?.info,
      options.signal
    )
    return { hostFingerprint: connection.hostFingerprint }
  } finally {
    connection.close()
  }
}

/** The pipeline's restart phase over SSH: the host key check, the restart, the report. */
export async function restartOverSsh(
  inputs: ActionInputs,
  credentials: SshCredentials,
  target: RestartHost,
  clients: AwsClients,
  deps: { sleep: (ms: number) => Promise<void>; signal?: AbortSignal },
  report: RunReport
): Promise<void> {
  const { sleep, signal } = deps
  const hostKeys = await hostKeyCheck(inputs, target, clients, sleep)
  const where = `${target.address}:${inputs.ssh.port}`
  report.restart = { host: where, unit: inputs.service, result: 'failed' }
  const { hostFingerprint } = await restartService({
    host: target.address,
    port: inputs.ssh.port,
    credentials,
    hostKeys,
    service: inputs.service,
    healthCommand: inputs.ssh.healthCommand,
    connectTimeoutMs: inputs.ssh.connectTimeoutSeconds * 1000,
    commandTimeoutMs: inputs.ssh.commandTimeoutSeconds * 1000,
    sleep,
    signal,
    earlySocket: target.earlySocket
  })
  const check = inputs.ssh.healthCommand ? 'health command passed' : 'active'
  report.restart.result = `restarted, ${check} (host key ${hostFingerprint})`
  core.setOutput(OUTPUTS.restarted, 'true')
  core.info(`Restarted "${inputs.service}" on ${where}.`)
}

/**
 * Pinned fingerprints, else the ones cloud-init printed to the instance's console, else (opted
 * in) any; the mode in force goes to the log first, so that an empty input is not silent.
 */
async function hostKeyCheck(
  inputs: ActionInputs,
  target: RestartHost,
  clients: AwsClients,
  sleep: (ms: number) => Promise<void>
): Promise<HostKeyCheck> {
  const { hostFingerprints, insecureSkipHostKeyCheck, connectTimeoutSeconds } = inputs.ssh
  if (hostFingerprints.length > 0) {
    const pinned: HostKeyCheck = { kind: 'pinned', fingerprints: hostFingerprints }
    core.info(describeHostKeyMode(pinned))
    return pinned
  }
  if (insecureSkipHostKeyCheck) {
    core.info(describeHostKeyMode({ kind: 'any' }))
    core.warning(
      `Not verifying the SSH host key of ${target.address} (ssh-insecure-skip-host-key-check: true): whoever answers ` +
        'at that address gets the restart. Pin it with input "ssh-host-fingerprint" instead.'
    )
    return { kind: 'any' }
  }
  // Loaded here: with it comes the EC2 client, most of the bundle's size.
  const { hostKeysFromConsole, instanceByAddress } = await import('./host-keys.js')
  const ec2 = await clients.ec2()
  const instanceId =
    target.instanceId ?? (await instanceByAddress(ec2, target.address, inputs.addressType))
  core.info(
    `${describeHostKeyMode({ kind: 'console', instanceId, keys: [] })} (input "ssh-host-fingerprint" is empty)`
  )
  const keys = await hostKeysFromConsole(ec2, instanceId, connectTimeoutSeconds * 1000, sleep)
  return { kind: 'console', instanceId, keys }
}
