import { setMaxListeners } from 'node:events'
import * as core from '@actions/core'
import type { AwsClients } from '../aws.js'
import { StoppedError, throwIfStopped } from '../cancel.js'
import { ActionError, failureMessage } from '../errors.js'
import { OUTPUTS } from '../export.js'
import { fanOut } from '../fan-out.js'
import {
  allowedCount,
  beyondMaxErrors,
  concurrencyCount,
  parseRate,
  printInstanceGroup,
  warnWithinMaxErrors,
  type InstanceOutput,
  type InstanceResult
} from '../fleet.js'
import type { ActionInputs } from '../inputs.js'
import type { DeployedInstance } from '../instance.js'
import { OutputTail } from '../lines.js'
import type { UntrustedSink } from '../log.js'
import { restartService } from '../restart.js'
import type { RunReport } from '../summary.js'
import { describeHostKeyMode, type HostKeyCheck } from './fingerprint.js'
import { RemoteStepError, TIMED_OUT } from './remote-shell.js'
import type { SshCredentials } from './validate.js'

/** Each instance's output is kept up to this many bytes (its last lines) until its group prints. */
const OUTPUT_BYTES = 64 * 1024

/**
 * What an instance's result is called: Run Command's words where they mean the same (Success,
 * Failed, TimedOut), and the fan-out's own for the rest.
 */
export const SSH_STATUS = {
  success: 'Success',
  /** A step ran and exited non-zero. */
  failed: 'Failed',
  /** A step was stopped at input "ssh-command-timeout". */
  timedOut: 'TimedOut',
  /** No command ran: no address, the host key refused, login refused, unreachable. */
  notConnected: 'NotConnected',
  /** Never started: more failed than max-errors allows, or the step was cancelled first. */
  notStarted: 'NotStarted',
  /** The step was cancelled while it ran: the connection was closed, the remote fate is unknown. */
  unknown: 'Unknown'
} as const

interface Outcome {
  result: InstanceResult
  /** Why it did not succeed, in the action's words (remote text already quoted). */
  message?: string
}

/**
 * restart: ssh with several instances. Every instance gets its own connection (one at a time
 * each) and its own host key check, at most max-concurrency of them at once; once more than
 * max-errors have failed, no further instance starts. Each instance's output is collected while
 * it runs and printed as one log group when it ends, so that concurrent connections never mix
 * their lines; the summary gets the same table as restart: ssm.
 */
export async function restartFleetOverSsh(
  inputs: ActionInputs,
  credentials: SshCredentials,
  instances: DeployedInstance[],
  clients: AwsClients,
  deps: { sleep: (ms: number) => Promise<void>; signal?: AbortSignal },
  report: RunReport
): Promise<void> {
  const { maxConcurrency, maxErrors } = inputs.ssm
  const total = instances.length
  const concurrency = concurrencyCount(parseRate(maxConcurrency), total)
  const allowed = allowedCount(parseRate(maxErrors), total)
  // Every running instance listens for the step's cancellation (its connection, its command, its
  // waits): expected, not a leak, so no warning for more than Node's default of ten.
  if (deps.signal) setMaxListeners(10 + concurrency * 4, deps.signal)
  const hostKeysFor = await hostKeyMode(inputs, instances, clients, deps.sleep)
  core.info(
    `Restarting "${inputs.service}" on ${total} instances over SSH, ${concurrency} at a time ` +
      `(max-concurrency ${maxConcurrency}, max-errors ${maxErrors}).`
  )
  const outcomes = await fanOut<DeployedInstance, Outcome>(
    instances,
    {
      concurrency,
      maxErrors: allowed,
      failed: outcome => outcome.result.status !== SSH_STATUS.success,
      signal: deps.signal
    },
    instance => restartInstance(instance, inputs, credentials, hostKeysFor, deps)
  )
  const results = instances.map(
    (instance, i): InstanceResult =>
      outcomes[i]?.result ?? { instanceId: instance.instanceId, status: SSH_STATUS.notStarted }
  )
  report.fleet = { unit: inputs.service, commandIds: [], via: 'ssh', results }
  throwIfStopped(deps.signal)

  const failed = results.filter(r => r.status !== SSH_STATUS.success)
  if (failed.length > allowed) {
    const culprit = outcomes.find(o => o?.message !== undefined)
    const skipped = failed.some(r => r.status === SSH_STATUS.notStarted)
    throw new ActionError(
      beyondMaxErrors(inputs.service, failed, total, maxErrors, allowed) +
        (skipped
          ? `The ${SSH_STATUS.notStarted} ones were not restarted: no instance starts once max-errors is exceeded. `
          : '') +
        `Each instance's log group has its output.` +
        (culprit ? `\n${culprit.result.instanceId}: ${culprit.message}` : '')
    )
  }
  if (failed.length > 0) {
    warnWithinMaxErrors(failed, total, maxErrors)
    return
  }
  core.setOutput(OUTPUTS.restarted, 'true')
  core.info(`Restarted "${inputs.service}" on ${total} instances over SSH.`)
}

/** One instance: its host key check, the restart, its log group; never rejects. */
async function restartInstance(
  instance: DeployedInstance,
  inputs: ActionInputs,
  credentials: SshCredentials,
  hostKeysFor: (instanceId: string) => Promise<HostKeyCheck>,
  deps: { sleep: (ms: number) => Promise<void>; signal?: AbortSignal }
): Promise<Outcome> {
  const { instanceId, address } = instance
  const started = Date.now()
  const output = new CollectedOutput()
  let outcome: Outcome
  try {
    if (address === '') {
      throw new ActionError(
        `Instance ${instanceId} has no ${inputs.addressType} address (input "address-type"), so it cannot be reached over SSH.`
      )
    }
    await restartService({
      host: address,
      port: inputs.ssh.port,
      credentials,
      hostKeys: await hostKeysFor(instanceId),
      service: inputs.service,
      healthCommand: inputs.ssh.healthCommand,
      connectTimeoutMs: inputs.ssh.connectTimeoutSeconds * 1000,
      commandTimeoutMs: inputs.ssh.commandTimeoutSeconds * 1000,
      sleep: deps.sleep,
      signal: deps.signal,
      log: {
        info: output,
        warning: message => core.warning(`${instanceId}: ${message}`)
      }
    })
    outcome = {
      result: {
        instanceId,
        status: SSH_STATUS.success,
        exitCode: 0,
        durationMs: Date.now() - started
      }
    }
  } catch (error) {
    const message = failureMessage(error)
    const status =
      error instanceof StoppedError
        ? SSH_STATUS.unknown
        : error instanceof RemoteStepError
          ? error.exitCode === TIMED_OUT
            ? SSH_STATUS.timedOut
            : SSH_STATUS.failed
          : SSH_STATUS.notConnected
    const exitCode = error instanceof RemoteStepError ? error.exitCode : undefined
    outcome = {
      result: { instanceId, status, exitCode, durationMs: Date.now() - started },
      message:
        error instanceof StoppedError
          ? 'the connection was closed when the step was cancelled: whether the restart ran there is unknown.'
          : message
    }
    // The action's own words, which quote what the instance printed: still untrusted text.
    for (const line of (outcome.message ?? '').split('\n')) output.line(line)
  }
  printInstanceGroup(
    outcome.result,
    output.collected(),
    undefined,
    address ? `${address}:${inputs.ssh.port}` : undefined
  )
  return outcome
}

/**
 * The host key check of each instance: the pinned fingerprints (any of them, for every
 * instance), none (opted in), or each instance's own console output. The mode goes to the log
 * once.
 */
async function hostKeyMode(
  inputs: ActionInputs,
  instances: DeployedInstance[],
  clients: AwsClients,
  sleep: (ms: number) => Promise<void>
): Promise<(instanceId: string) => Promise<HostKeyCheck>> {
  const { hostFingerprints, insecureSkipHostKeyCheck, connectTimeoutSeconds } = inputs.ssh
  if (hostFingerprints.length > 0) {
    const pinned: HostKeyCheck = { kind: 'pinned', fingerprints: hostFingerprints }
    core.info(`${describeHostKeyMode(pinned)}, for each of the ${instances.length} instances`)
    return () => Promise.resolve(pinned)
  }
  if (insecureSkipHostKeyCheck) {
    core.info(describeHostKeyMode({ kind: 'any' }))
    core.warning(
      `Not verifying the SSH host keys of the ${instances.length} instances (ssh-insecure-skip-host-key-check: true): ` +
        'whoever answers at their addresses gets the restart. Pin them with input "ssh-host-fingerprint" instead.'
    )
    return () => Promise.resolve({ kind: 'any' })
  }
  // Loaded here: with it comes the EC2 client, most of the bundle's size.
  const { hostKeysFromConsole } = await import('../host-keys.js')
  const ec2 = await clients.ec2()
  core.info(
    'host key: from the console output of each instance (input "ssh-host-fingerprint" is empty)'
  )
  return async instanceId => ({
    kind: 'console',
    instanceId,
    keys: await hostKeysFromConsole(ec2, instanceId, connectTimeoutSeconds * 1000, sleep)
  })
}

/**
 * An instance's remote output while it runs: its last lines within a budget, printed in its log
 * group when it ends (runSteps hands it lines already split and cut to the log's line limit).
 */
class CollectedOutput implements UntrustedSink {
  private readonly tail = new OutputTail(OUTPUT_BYTES)

  line(text: string): void {
    this.tail.add(text)
  }

  around<T>(stream: () => Promise<T>): Promise<T> {
    return stream()
  }

  collected(): InstanceOutput {
    const { dropped } = this.tail
    return {
      stdout: this.tail.all().join('\n'),
      stderr: '',
      cut:
        dropped > 0
          ? `its first ${dropped} lines were dropped: of each instance, the last ${OUTPUT_BYTES / 1024} KiB of output are kept`
          : undefined
    }
  }
}
