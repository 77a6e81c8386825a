import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  paginateDescribeInstanceInformation,
  paginateListCommandInvocations,
  type CommandInvocation,
  type SSMClient
} from '@aws-sdk/client-ssm'
import { createBackoff, type Backoff } from '../../lib/backoff.js'
import {
  StoppedError,
  stoppableSleep,
  stopRequest,
  throwIfStopped,
  withStopState
} from '../../lib/cancel.js'
import { ActionError } from '../../lib/errors.js'
import { awsErrorName, describeAwsError } from '../../aws/errors.js'
import { chunks } from '../../lib/chunks.js'
import {
  beyondMaxErrors,
  printInstanceGroup,
  type InstanceOutput,
  type InstanceResult
} from '../report.js'
import { LineSplitter, OutputTail } from '../../lib/lines.js'
import { quoteUntrusted, type Logger, type LogWriter } from '../../lib/log.js'
import { allowedCount, type Rate } from '../rate.js'
import type { RestartScript } from '../script.js'
import type { FleetRestart } from '../transport.js'
import {
  collectFromText,
  printFailureLogs,
  type FailureLogs,
  type InstanceFailureLogs
} from '../failure-logs.js'
import { MAX_IDS_PER_COMMAND, batchRates } from './command.js'

export type { InstanceResult } from '../report.js'

/** What Run Command runs on every instance of one command, and how its Comment names it. */
export interface CommandSpec {
  lines: readonly string[]
  comment: string
  /** What a stop leaves on the instances that ran it; a restart's: they stay restarted. */
  leaves?: string
}

/** One Run Command over a set of instances, whatever it runs. */
export interface RunCommandOptions {
  ssm: SSMClient
  /** Sorted instance ids. */
  instanceIds: string[]
  command: CommandSpec
  maxConcurrency: Rate
  maxErrors: Rate
  timeoutSeconds: number
  sleep: (ms: number) => Promise<void>
  /**
   * The step's cancellation: the commands sent are cancelled (CancelCommand), and the
   * StoppedError says what was sent.
   */
  signal?: AbortSignal
  /** The program's logger: the action's messages and each instance's log group. */
  log: Logger
  /** Where an instance's raw output lines go (tests replace it). */
  write?: LogWriter
}

export interface SsmRestartOptions extends Omit<RunCommandOptions, 'command'> {
  /** The restart and its check, built once in the plan (restartScript). */
  script: RestartScript
}

export type SsmRestartResult = FleetRestart

const DOCUMENT = 'AWS-RunShellScript'
const COMMAND_ID = /^[A-Za-z0-9-]{36}$/
const SEND_RESOURCE = `arn:aws:ssm:*:*:document/${DOCUMENT} and arn:aws:ec2:*:*:instance/*`
/** Pending states; everything else is final. */
const RUNNING = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling'])
/** Details that say more than the status they come with. */
const TELLING_DETAILS = new Set([
  'Undeliverable',
  'Terminated',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
  'InvalidPlatform',
  'AccessDenied'
])
/** With this many instances or fewer, everyone's full output is fetched; above, only failures'. */
const FULL_OUTPUT_UP_TO = 5
/** At most this many full outputs are fetched, so that a fleet-wide failure costs a bounded number of requests. */
const MAX_FULL_OUTPUTS = 20
/** GetCommandInvocation keeps this many characters of each stream. */
const SSM_OUTPUT_LIMIT = 24_000
/** ListCommandInvocations keeps this many characters of a plugin's output. */
const PLUGIN_OUTPUT_LIMIT = 2_500
const TRUNCATED = '---Output truncated---'
const STDERR_LINES_IN_MESSAGE = 20
const INSTANCE_INFO_PAGE = 50
/** The instance ids one DescribeInstanceInformation filter takes. */
const IDS_PER_FILTER = 50
/** After the command's own timeout, SSM needs a moment to report the time-outs. */
const REPORTING_GRACE_MS = 60_000
/** What a stop before the first SendCommand leaves. */
const NOTHING_SENT = 'nothing was sent'
const STAY_RESTARTED = 'instances that had already restarted stay restarted'

const AGENT_NEEDS =
  'it needs the SSM agent installed and running, an instance profile with the policy ' +
  'AmazonSSMManagedInstanceCore, and a route to the SSM endpoints (ssm, ssmmessages, ec2messages: ' +
  'a NAT or internet gateway, or VPC endpoints)'

/**
 * Restarts the service on every instance with one Run Command (one per 50 instances), waits for
 * every invocation with paginated polls, and reports each instance. Failures within max-errors
 * come back in `failed`; beyond it, also in `failure`.
 */
export async function restartWithRunCommand(
  restartOptions: SsmRestartOptions
): Promise<SsmRestartResult> {
  const { script, ...rest } = restartOptions
  const options: RunCommandOptions & { script: RestartScript } = {
    ...rest,
    script,
    command: {
      lines: script.runCommandLines,
      comment: `secrets-deploy-action: restart ${script.unit}`
    }
  }
  const { instanceIds } = options
  const remainingSeconds = await waitForOnlineAgents(options)
  const { commandIds, invocations } = await runCommand(options, remainingSeconds)
  const { results, failureLogs } = await reportInstances(options, invocations)
  const failed = results.filter(r => r.status !== 'Success')
  const allowed = allowedCount(options.maxErrors, instanceIds.length)
  const result: SsmRestartResult = { commandIds, results, failed, failureLogs }
  if (failed.length > allowed) {
    result.failure = await fleetFailure(options, invocations, failed, allowed)
  }
  return result
}

/**
 * Waits until every instance's agent is Online, within ssm-timeout; resolves to the seconds left
 * of it for the command (at least 30). A stop here says that nothing was sent.
 */
export async function waitForOnlineAgents(
  options: Omit<RunCommandOptions, 'command'>
): Promise<number> {
  const { signal } = options
  const budget = createBackoff({
    totalMs: options.timeoutSeconds * 1000,
    initialDelayMs: 1000,
    maxDelayMs: 10_000,
    sleep: signal ? stoppableSleep(options.sleep, signal) : options.sleep
  })
  try {
    await waitForAgents(options, budget)
  } catch (error) {
    throw withStopState(error, NOTHING_SENT)
  }
  return Math.max(30, Math.ceil(budget.remainingMs() / 1000))
}

/**
 * Sends the command (one per 50 instances) and waits for every invocation to be final, within
 * `timeoutSeconds` (each invocation's executionTimeout too); a stop cancels what runs.
 */
export async function runCommand(
  options: RunCommandOptions,
  timeoutSeconds: number
): Promise<{ commandIds: string[]; invocations: CommandInvocation[] }> {
  const { instanceIds } = options
  const commandIds = await sendCommands(options, timeoutSeconds)
  options.log.info(
    `Sent ${DOCUMENT} to ${instanceIds.length} instance${instanceIds.length > 1 ? 's' : ''} ` +
      `(command ${commandIds.join(', ')}; max-concurrency ${options.maxConcurrency.text}, max-errors ${options.maxErrors.text}).`
  )
  const invocations = await waitForInvocations(options, commandIds, timeoutSeconds * 1000)
  return { commandIds, invocations }
}

/**
 * Sends one command per 50 instances. A stop or a failure before the last is sent cancels those
 * already sent. SendCommand itself is not cut off by a stop: a command the endpoint took must be
 * known, to be cancelled.
 */
async function sendCommands(options: RunCommandOptions, timeoutSeconds: number): Promise<string[]> {
  const { signal } = options
  const batches = chunks(options.instanceIds, MAX_IDS_PER_COMMAND)
  const commandIds: string[] = []
  for (const batch of batches) {
    if (signal?.aborted) {
      const cancelled = await cancel(options, commandIds, 'the step was cancelled')
      throw new StoppedError(stopRequest(signal), sentState(options, commandIds, cancelled))
    }
    try {
      commandIds.push(await send(options, batch, timeoutSeconds, batches.length > 1 ? batch : null))
    } catch (error) {
      await cancel(options, commandIds, 'a later command could not be sent')
      throw error
    }
  }
  return commandIds
}

/** What a stop between two SendCommands leaves: the batches sent, and cancelled. */
function sentState(options: RunCommandOptions, sent: string[], cancelled: string[]): string {
  if (sent.length === 0) return NOTHING_SENT
  const total = options.instanceIds.length
  const reached = Math.min(total, sent.length * MAX_IDS_PER_COMMAND)
  return (
    `sent command ${sent.join(', ')} to ${reached} of the ${total} instances; ` +
    `${cancelledState(sent, cancelled)}; nothing was sent to the other ${total - reached}; ${options.command.leaves ?? STAY_RESTARTED}`
  )
}

/** Which of the commands still running were cancelled, and which could not be. */
function cancelledState(running: string[], cancelled: string[]): string {
  if (running.length === 0) return 'every command had finished, so none was cancelled'
  const refused = running.filter(id => !cancelled.includes(id))
  return [
    cancelled.length > 0 ? `sent CancelCommand for command ${cancelled.join(', ')}` : '',
    refused.length > 0
      ? `could not cancel command ${refused.join(', ')} (see the warning): its instances may still restart`
      : ''
  ]
    .filter(part => part !== '')
    .join('; ')
}

/** Sends one command; `batch` says which instances it is for when there are several. */
async function send(
  options: RunCommandOptions,
  instanceIds: string[],
  timeoutSeconds: number,
  batch: string[] | null
): Promise<string> {
  const rates = batchRates(
    options.maxConcurrency,
    options.maxErrors,
    instanceIds.length,
    options.instanceIds.length
  )
  try {
    const response = await options.ssm.send(
      new SendCommandCommand({
        DocumentName: DOCUMENT,
        InstanceIds: instanceIds,
        Comment: options.command.comment,
        Parameters: {
          commands: [...options.command.lines],
          executionTimeout: [String(timeoutSeconds)]
        },
        TimeoutSeconds: timeoutSeconds,
        MaxConcurrency: rates.maxConcurrency,
        MaxErrors: rates.maxErrors
      })
    )
    const commandId = response.Command?.CommandId
    if (!commandId) throw new ActionError('ssm:SendCommand answered without a command id.')
    // SSM documents a command id as 36 characters (a UUID); it is printed in log lines as it is.
    if (!COMMAND_ID.test(commandId)) {
      throw new ActionError(
        `ssm:SendCommand answered with the command id ${JSON.stringify(quoteUntrusted(commandId, 100))}, which is not one.`
      )
    }
    return commandId
  } catch (error) {
    const whom = batch ? `${batch.length} instances from ${batch[0]}` : nameInstances(instanceIds)
    throw describeAwsError(error, {
      action: 'ssm:SendCommand',
      subject: `${DOCUMENT} for ${whom}`,
      resource: SEND_RESOURCE
    })
  }
}

/** Waits until every instance's agent is Online; a fresh instance's registers after boot. */
async function waitForAgents(
  options: Omit<RunCommandOptions, 'command'>,
  budget: Backoff
): Promise<void> {
  let notOnline: Map<string, string>
  do {
    throwIfStopped(options.signal)
    notOnline = await agentsNotOnline(options)
    if (notOnline.size === 0) return
    options.log.info(
      `Waiting for the SSM agent of ${notOnline.size} instance${notOnline.size > 1 ? 's' : ''} to be Online ` +
        `(${[...notOnline]
          .slice(0, 5)
          .map(([id, seen]) => `${id}: ${seen}`)
          .join(', ')}${notOnline.size > 5 ? ', ...' : ''}).`
    )
  } while (await budget.wait())
  throwIfStopped(options.signal)
  const listed = [...notOnline].slice(0, 20).map(([id, seen]) => `${id} (${seen})`)
  const more = notOnline.size > listed.length ? ` and ${notOnline.size - listed.length} more` : ''
  const subject =
    notOnline.size === 1
      ? `Instance ${listed[0]} is not an Online managed instance`
      : `Instances ${listed.join(', ')}${more} are not Online managed instances`
  throw new ActionError(
    `${subject} in SSM after ${options.timeoutSeconds} s (input "ssm-timeout"): ${AGENT_NEEDS}. ` +
      'Nothing was sent to any instance.'
  )
}

/** The instances whose agent is not Online, with what SSM says of each. */
async function agentsNotOnline(
  options: Omit<RunCommandOptions, 'command'>
): Promise<Map<string, string>> {
  const notOnline = new Map(options.instanceIds.map(id => [id, 'not registered']))
  for (const batch of chunks(options.instanceIds, IDS_PER_FILTER)) {
    try {
      const pages = paginateDescribeInstanceInformation(
        { client: options.ssm, pageSize: INSTANCE_INFO_PAGE },
        { Filters: [{ Key: 'InstanceIds', Values: batch }] }
      )
      for await (const page of pages) {
        for (const info of page.InstanceInformationList ?? []) {
          const id = info.InstanceId ?? ''
          if (!notOnline.has(id)) continue
          if (info.PingStatus === 'Online') notOnline.delete(id)
          else notOnline.set(id, `agent ${quoteUntrusted(info.PingStatus ?? 'unknown', 40)}`)
        }
      }
    } catch (error) {
      throwIfStopped(options.signal)
      throw describeAwsError(error, {
        action: 'ssm:DescribeInstanceInformation',
        subject: nameInstances(batch),
        resource: '*'
      })
    }
  }
  return notOnline
}

/** Each command's invocations as last listed; a command whose invocations are all final is done. */
interface Polled {
  latest: Map<string, CommandInvocation[]>
  final: Set<string>
  /** `commandId/instanceId` of the pending invocations cancelled beyond max-errors. */
  cancelled: Set<string>
}

/**
 * Polls every command's invocations (ListCommandInvocations with Details, every page: the cost
 * grows with pages, not instances) until all are final; commands already final are not asked
 * again. A stop cancels the commands still running, and says so.
 */
async function waitForInvocations(
  options: RunCommandOptions,
  commandIds: string[],
  commandTimeoutMs: number
): Promise<CommandInvocation[]> {
  const { signal } = options
  const backoff = createBackoff({
    totalMs: commandTimeoutMs + REPORTING_GRACE_MS,
    initialDelayMs: 500,
    maxDelayMs: 10_000,
    sleep: signal ? stoppableSleep(options.sleep, signal) : options.sleep
  })
  const polled: Polled = { latest: new Map(), final: new Set(), cancelled: new Set() }
  let lastCount = ''
  try {
    do {
      await pollOnce(options, commandIds, polled)
      const all = [...polled.latest.values()].flat()
      if (polled.final.size === commandIds.length) return all
      await cancelBeyondMaxErrors(options, commandIds, polled)
      const finished = all.filter(i => !RUNNING.has(i.Status ?? '')).length
      const count = `${finished} of ${options.instanceIds.length} instances finished`
      if (count !== lastCount) options.log.info(`${count}; waiting.`)
      lastCount = count
    } while (await backoff.wait())
  } catch (error) {
    if (!signal?.aborted) throw error
    const running = commandIds.filter(id => !polled.final.has(id))
    const cancelled = await cancel(options, running, 'the step was cancelled')
    throw new StoppedError(
      stopRequest(signal),
      `${cancelledState(running, cancelled)}; ${options.command.leaves ?? STAY_RESTARTED}`
    )
  }
  await cancel(
    options,
    commandIds.filter(id => !polled.final.has(id)),
    'the action stopped waiting'
  )
  throw new ActionError(
    `Run Command ${commandIds.join(', ')} did not finish within ${options.timeoutSeconds} s (input "ssm-timeout"); ` +
      'the action cancelled it. Raise "ssm-timeout", or check the instances with "aws ssm list-command-invocations".'
  )
}

/** One round: lists each command not yet final, page by page. */
async function pollOnce(
  options: RunCommandOptions,
  commandIds: string[],
  polled: Polled
): Promise<void> {
  const batches = chunks(options.instanceIds, MAX_IDS_PER_COMMAND)
  for (const [i, commandId] of commandIds.entries()) {
    if (polled.final.has(commandId)) continue
    const invocations = await listInvocations(options, commandId)
    polled.latest.set(commandId, invocations)
    const done = invocations.filter(invocation => !RUNNING.has(invocation.Status ?? ''))
    if (invocations.length >= batches[i].length && done.length === invocations.length)
      polled.final.add(commandId)
  }
}

/**
 * SSM stops each command at its own MaxErrors; across several commands, the action does the
 * same: what runs finishes, what has not started is cancelled.
 */
async function cancelBeyondMaxErrors(
  options: RunCommandOptions,
  commandIds: string[],
  polled: Polled
): Promise<void> {
  if (commandIds.length < 2) return
  const all = [...polled.latest.values()].flat()
  const failures = all.filter(i => !RUNNING.has(i.Status ?? '') && i.Status !== 'Success').length
  if (failures <= allowedCount(options.maxErrors, options.instanceIds.length)) return
  for (const [commandId, invocations] of polled.latest) {
    const pending = invocations
      .filter(i => i.Status === 'Pending' && !polled.cancelled.has(`${commandId}/${i.InstanceId}`))
      .map(i => i.InstanceId ?? '')
    if (pending.length === 0) continue
    for (const id of pending) polled.cancelled.add(`${commandId}/${id}`)
    await cancel(options, [commandId], 'more instances failed than max-errors allows', pending)
  }
}

async function listInvocations(
  options: RunCommandOptions,
  commandId: string
): Promise<CommandInvocation[]> {
  const invocations: CommandInvocation[] = []
  try {
    const pages = paginateListCommandInvocations(
      { client: options.ssm, pageSize: MAX_IDS_PER_COMMAND },
      { CommandId: commandId, Details: true }
    )
    for await (const page of pages) invocations.push(...(page.CommandInvocations ?? []))
  } catch (error) {
    throwIfStopped(options.signal)
    // SSM is eventually consistent: a command just sent may not be listed yet; the next poll asks again.
    if (awsErrorName(error) === 'InvalidCommandId') return []
    throw describeAwsError(error, {
      action: 'ssm:ListCommandInvocations',
      subject: `command ${commandId}`,
      resource: '*'
    })
  }
  return invocations
}

/** Cancels each command (only `instanceIds` of it, when given); resolves to those it cancelled. */
async function cancel(
  { ssm, log }: Pick<RunCommandOptions, 'ssm' | 'log'>,
  commandIds: string[],
  why: string,
  instanceIds?: string[]
): Promise<string[]> {
  const cancelled: string[] = []
  for (const commandId of commandIds) {
    try {
      await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: instanceIds }))
      cancelled.push(commandId)
      const which = instanceIds ? ` for the ${instanceIds.length} instances it had not started` : ''
      log.warning(`Cancelled Run Command ${commandId}${which}: ${why}.`)
    } catch (error) {
      const message = describeAwsError(error, {
        action: 'ssm:CancelCommand',
        subject: `command ${commandId}`,
        resource: '*'
      }).message
      log.warning(`Could not cancel Run Command ${commandId} (${why}): ${quoteUntrusted(message)}`)
    }
  }
  return cancelled
}

/**
 * One collapsible log group per instance (and one of its unit's status and journal when it failed,
 * input "failure-logs"), and the results in instance id order.
 */
async function reportInstances(
  options: RunCommandOptions & { script: RestartScript },
  invocations: CommandInvocation[]
): Promise<{ results: InstanceResult[]; failureLogs: InstanceFailureLogs[] }> {
  const byId = new Map(invocations.map(i => [i.InstanceId ?? '', i]))
  const fetchAll = options.instanceIds.length <= FULL_OUTPUT_UP_TO
  const results: InstanceResult[] = []
  const failureLogs: InstanceFailureLogs[] = []
  let fetched = 0
  for (const instanceId of options.instanceIds) {
    const invocation = byId.get(instanceId)
    const result = describeInvocation(instanceId, invocation)
    results.push(result)
    const worthFetching = (fetchAll || result.status !== 'Success') && fetched < MAX_FULL_OUTPUTS
    if (invocation && worthFetching) fetched++
    const fetchedOutput =
      invocation && worthFetching
        ? await fullOutput(options.ssm, invocation)
        : pluginOutput(invocation)
    const { output, logs } = splitFailureLogs(fetchedOutput, options.script)
    printInstanceGroup(options.log, result, output, options.write)
    if (logs) {
      printFailureLogs(options.log, instanceId, logs, options.write)
      failureLogs.push({ where: instanceId, logs })
    }
  }
  return { results, failureLogs }
}

/** The instance's own output, and apart from it what the failure-logs part of the command said. */
function splitFailureLogs(
  output: InstanceOutput,
  script: RestartScript
): { output: InstanceOutput; logs?: FailureLogs } {
  if (!script.failureLogs) return { output }
  const { before, logs } = collectFromText(output.stdout, script.unit, script.failureLogs.marker)
  if (!logs) return { output }
  return {
    output: { ...output, stdout: before },
    logs: output.cut ? { ...logs, cut: output.cut } : logs
  }
}

export function describeInvocation(
  instanceId: string,
  invocation: CommandInvocation | undefined
): InstanceResult {
  if (!invocation) return { instanceId, status: 'Missing' }
  const plugin = invocation.CommandPlugins?.[0]
  const detail = invocation.StatusDetails ?? ''
  const status = TELLING_DETAILS.has(detail) ? detail : (invocation.Status ?? 'unknown')
  const started = plugin?.ResponseStartDateTime?.getTime()
  const finished = plugin?.ResponseFinishDateTime?.getTime()
  const exitCode = plugin?.ResponseCode
  return {
    instanceId,
    status: quoteUntrusted(status, 40),
    exitCode: exitCode === undefined || exitCode < 0 ? undefined : exitCode,
    durationMs: started && finished && finished >= started ? finished - started : undefined
  }
}

/** What ListCommandInvocations already holds: SSM keeps its first 2,500 characters. */
export function pluginOutput(invocation: CommandInvocation | undefined): InstanceOutput {
  const text = invocation?.CommandPlugins?.[0]?.Output ?? ''
  const cut = text.includes(TRUNCATED) || text.length >= PLUGIN_OUTPUT_LIMIT
  return {
    stdout: text.replace(TRUNCATED, '').trimEnd(),
    stderr: '',
    cut: cut
      ? `SSM kept only the first ${PLUGIN_OUTPUT_LIMIT} characters of this instance's output in the command listing`
      : undefined
  }
}

/** Both streams from GetCommandInvocation, which keeps 24,000 characters of each. */
export async function fullOutput(
  ssm: SSMClient,
  invocation: CommandInvocation
): Promise<InstanceOutput> {
  try {
    const response = await ssm.send(
      new GetCommandInvocationCommand({
        CommandId: invocation.CommandId,
        InstanceId: invocation.InstanceId
      })
    )
    const stdout = response.StandardOutputContent ?? ''
    const stderr = response.StandardErrorContent ?? ''
    const cut = [stdout, stderr].some(text => text.length >= SSM_OUTPUT_LIMIT)
    return {
      stdout,
      stderr,
      cut: cut
        ? `SSM keeps only the first ${SSM_OUTPUT_LIMIT} characters of each stream; send the output to S3 or CloudWatch Logs to keep all of it`
        : undefined
    }
  } catch (error) {
    // The short output is still worth showing; the missing permission is worth saying.
    const reason = describeAwsError(error, {
      action: 'ssm:GetCommandInvocation',
      subject: `the output of ${invocation.InstanceId}`,
      resource: '*'
    }).message
    const short = pluginOutput(invocation)
    return { ...short, cut: `the full output could not be read: ${quoteUntrusted(reason)}` }
  }
}

/** Why the run fails beyond max-errors: the failed instances, and the first one's last output. */
async function fleetFailure(
  options: SsmRestartOptions,
  invocations: CommandInvocation[],
  failed: InstanceResult[],
  allowed: number
): Promise<string> {
  // The first that ran and failed says why; one cancelled before it ran has nothing to say.
  const culprit = failed.find(r => r.status !== 'Cancelled') ?? failed[0]
  const first = invocations.find(i => i.InstanceId === culprit.instanceId)
  const stderr = first ? await fullOutput(options.ssm, first) : undefined
  const tail = new OutputTail()
  const text = stderr ? stderr.stderr || splitFailureLogs(stderr, options.script).output.stdout : ''
  const splitter = new LineSplitter(line => tail.add(line))
  splitter.write(text)
  splitter.end()
  const lines = tail
    .lastLines(STDERR_LINES_IN_MESSAGE)
    .split('\n')
    .filter(line => line !== '')
    .map(line => `  ${quoteUntrusted(line, 500)}`)
  const { unit } = options.script
  const inspect = `"systemctl status ${unit}" and "journalctl -u ${unit}" on the instance`
  return (
    beyondMaxErrors(unit, failed, options.instanceIds.length, options.maxErrors, allowed) +
    (failed.some(r => r.status === 'Cancelled')
      ? 'The cancelled ones were not restarted: SSM stops once max-errors is exceeded. '
      : '') +
    `Run Command ${quoteUntrusted(first?.CommandId ?? '', 80)}; check ${inspect}.` +
    (lines.length > 0 ? `\nLast output of ${culprit.instanceId}:\n${lines.join('\n')}` : '')
  )
}

/** "instance i-1", or "instances i-1 to i-9" (sorted ids). */
function nameInstances(ids: string[]): string {
  return ids.length === 1 ? `instance ${ids[0]}` : `instances ${ids[0]} to ${ids[ids.length - 1]}`
}
