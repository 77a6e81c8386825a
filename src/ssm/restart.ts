import * as core from '@actions/core'
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  paginateDescribeInstanceInformation,
  paginateListCommandInvocations,
  type CommandInvocation,
  type SSMClient
} from '@aws-sdk/client-ssm'
import { createBackoff, type Backoff } from '../backoff.js'
import { ActionError, describeAwsError } from '../errors.js'
import { chunks } from '../instance.js'
import {
  allowedCount,
  beyondMaxErrors,
  parseRate,
  printInstanceGroup,
  warnWithinMaxErrors,
  type InstanceOutput,
  type InstanceResult
} from '../fleet.js'
import { LineSplitter, OutputTail } from '../lines.js'
import { quoteUntrusted, type LogWriter } from '../log.js'
import { MAX_IDS_PER_COMMAND, batchRates, restartScript } from './command.js'

export type { InstanceResult } from '../fleet.js'

export interface SsmRestartOptions {
  ssm: SSMClient
  /** Sorted instance ids. */
  instanceIds: string[]
  service: string
  healthCommand: string
  maxConcurrency: string
  maxErrors: string
  timeoutSeconds: number
  sleep: (ms: number) => Promise<void>
  /** The step's cancellation: the running commands are cancelled (CancelCommand). */
  signal?: AbortSignal
  /** Where the log goes (tests replace it); the action's own commands go through @actions/core. */
  write?: LogWriter
}

export interface SsmRestartResult {
  commandIds: string[]
  results: InstanceResult[]
  /** Instances that did not succeed, in id order. */
  failed: InstanceResult[]
  /** Set when more failed than max-errors allows: the run fails with it. */
  failure?: string
}

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

const AGENT_NEEDS =
  'it needs the SSM agent installed and running, an instance profile with the policy ' +
  'AmazonSSMManagedInstanceCore, and a route to the SSM endpoints (ssm, ssmmessages, ec2messages: ' +
  'a NAT or internet gateway, or VPC endpoints)'

/**
 * Restarts the service on every instance with one Run Command (one per 50 instances), waits for
 * every invocation with paginated polls, and reports each instance. Failures within max-errors
 * come back in `failed`; beyond it, also in `failure`.
 */
export async function restartWithRunCommand(options: SsmRestartOptions): Promise<SsmRestartResult> {
  const { instanceIds, signal } = options
  const commands = restartScript(options.service, options.healthCommand)
  const budget = createBackoff({
    totalMs: options.timeoutSeconds * 1000,
    initialDelayMs: 1000,
    maxDelayMs: 10_000,
    sleep: abortableSleep(options.sleep, signal)
  })
  await waitForAgents(options, budget)

  const remainingSeconds = Math.max(30, Math.ceil(budget.remainingMs() / 1000))
  const commandIds: string[] = []
  const batches = chunks(instanceIds, MAX_IDS_PER_COMMAND)
  try {
    for (const batch of batches) {
      throwIfAborted(signal)
      commandIds.push(
        await send(options, batch, commands, remainingSeconds, batches.length > 1 ? batch : null)
      )
    }
  } catch (error) {
    const why = signal?.aborted ? 'the step was cancelled' : 'a later command could not be sent'
    await cancel(options.ssm, commandIds, why)
    throw error
  }
  core.info(
    `Sent ${DOCUMENT} to ${instanceIds.length} instance${instanceIds.length > 1 ? 's' : ''} ` +
      `(command ${commandIds.join(', ')}; max-concurrency ${options.maxConcurrency}, max-errors ${options.maxErrors}).`
  )

  const invocations = await waitForInvocations(options, commandIds, remainingSeconds * 1000)
  const results = await reportInstances(options, invocations)
  const failed = results.filter(r => r.status !== 'Success')
  const allowed = allowedCount(parseRate(options.maxErrors), instanceIds.length)
  const result: SsmRestartResult = { commandIds, results, failed }
  if (failed.length > allowed) {
    result.failure = await failureMessage(options, invocations, failed, allowed)
  } else if (failed.length > 0) {
    warnWithinMaxErrors(failed, instanceIds.length, options.maxErrors)
  }
  return result
}

/** Sends one command; `batch` says which instances it is for when there are several. */
async function send(
  options: SsmRestartOptions,
  instanceIds: string[],
  commands: string[],
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
        Comment: `secrets-deploy-action: restart ${options.service}`,
        Parameters: { commands, executionTimeout: [String(timeoutSeconds)] },
        TimeoutSeconds: timeoutSeconds,
        MaxConcurrency: rates.maxConcurrency,
        MaxErrors: rates.maxErrors
      }),
      { abortSignal: options.signal }
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
    throwIfAborted(options.signal)
    const whom = batch ? `${batch.length} instances from ${batch[0]}` : describeIds(instanceIds)
    throw describeAwsError(error, {
      action: 'ssm:SendCommand',
      subject: `${DOCUMENT} for ${whom}`,
      resource: SEND_RESOURCE
    })
  }
}

/** Waits until every instance's agent is Online; a fresh instance's registers after boot. */
async function waitForAgents(options: SsmRestartOptions, budget: Backoff): Promise<void> {
  let notOnline: Map<string, string>
  do {
    throwIfAborted(options.signal)
    notOnline = new Map(options.instanceIds.map(id => [id, 'not registered']))
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
        throwIfAborted(options.signal)
        throw describeAwsError(error, {
          action: 'ssm:DescribeInstanceInformation',
          subject: describeIds(batch),
          resource: '*'
        })
      }
    }
    if (notOnline.size === 0) return
    core.info(
      `Waiting for the SSM agent of ${notOnline.size} instance${notOnline.size > 1 ? 's' : ''} to be Online ` +
        `(${[...notOnline]
          .slice(0, 5)
          .map(([id, seen]) => `${id}: ${seen}`)
          .join(', ')}${notOnline.size > 5 ? ', ...' : ''}).`
    )
  } while (await budget.wait())
  throwIfAborted(options.signal)
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

/**
 * Polls every command's invocations (ListCommandInvocations with Details, every page: the cost
 * grows with pages, not instances) until all are final; commands already final are not asked again.
 */
async function waitForInvocations(
  options: SsmRestartOptions,
  commandIds: string[],
  commandTimeoutMs: number
): Promise<CommandInvocation[]> {
  const { signal } = options
  const backoff = createBackoff({
    totalMs: commandTimeoutMs + REPORTING_GRACE_MS,
    initialDelayMs: 500,
    maxDelayMs: 10_000,
    sleep: abortableSleep(options.sleep, signal)
  })
  const expected = new Map(
    chunks(options.instanceIds, MAX_IDS_PER_COMMAND).map((batch, i) => [
      commandIds[i],
      batch.length
    ])
  )
  // Each command's invocations as last listed; a command whose invocations are all final is done.
  const latest = new Map<string, CommandInvocation[]>()
  const final = new Set<string>()
  const cancelled = new Set<string>()
  let lastCount = ''
  try {
    do {
      for (const commandId of commandIds) {
        if (final.has(commandId)) continue
        const invocations = await listInvocations(options, commandId)
        latest.set(commandId, invocations)
        const done = invocations.filter(i => !RUNNING.has(i.Status ?? ''))
        if (
          invocations.length >= (expected.get(commandId) ?? 0) &&
          done.length === invocations.length
        )
          final.add(commandId)
      }
      const all = [...latest.values()].flat()
      if (final.size === commandIds.length) return all
      const finished = all.filter(i => !RUNNING.has(i.Status ?? ''))
      const failures = finished.filter(i => i.Status !== 'Success').length
      const allowed = allowedCount(parseRate(options.maxErrors), options.instanceIds.length)
      if (commandIds.length > 1 && failures > allowed) {
        // SSM stops each command at its own MaxErrors; across several commands, the action does
        // the same: what runs finishes, what has not started is cancelled.
        for (const [commandId, invocations] of latest) {
          const pending = invocations
            .filter(i => i.Status === 'Pending' && !cancelled.has(`${commandId}/${i.InstanceId}`))
            .map(i => i.InstanceId ?? '')
          if (pending.length === 0) continue
          for (const id of pending) cancelled.add(`${commandId}/${id}`)
          await cancel(
            options.ssm,
            [commandId],
            'more instances failed than max-errors allows',
            pending
          )
        }
      }
      const count = `${finished.length} of ${options.instanceIds.length} instances finished`
      if (count !== lastCount) core.info(`${count}; waiting.`)
      lastCount = count
    } while (await backoff.wait())
  } catch (error) {
    if (signal?.aborted) {
      const running = commandIds.filter(id => !final.has(id))
      await cancel(options.ssm, running, 'the step was cancelled')
      throw new ActionError(
        `The step was cancelled while the restart ran: sent CancelCommand for command ${running.join(', ')}. ` +
          'Instances that had already restarted stay restarted.'
      )
    }
    throw error
  }
  await cancel(
    options.ssm,
    commandIds.filter(id => !final.has(id)),
    'the action stopped waiting'
  )
  throw new ActionError(
    `Run Command ${commandIds.join(', ')} did not finish within ${options.timeoutSeconds} s (input "ssm-timeout"); ` +
      'the action cancelled it. Raise "ssm-timeout", or check the instances with "aws ssm list-command-invocations".'
  )
}

async function listInvocations(
  options: SsmRestartOptions,
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
    throwIfAborted(options.signal)
    // SSM is eventually consistent: a command just sent may not be listed yet; the next poll asks again.
    if ((error as { name?: string }).name === 'InvalidCommandId') return []
    throw describeAwsError(error, {
      action: 'ssm:ListCommandInvocations',
      subject: `command ${commandId}`,
      resource: '*'
    })
  }
  return invocations
}

async function cancel(
  ssm: SSMClient,
  commandIds: string[],
  why: string,
  instanceIds?: string[]
): Promise<void> {
  for (const commandId of commandIds) {
    try {
      await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: instanceIds }))
      const which = instanceIds ? ` for the ${instanceIds.length} instances it had not started` : ''
      core.warning(`Cancelled Run Command ${commandId}${which}: ${why}.`)
    } catch (error) {
      const message = describeAwsError(error, {
        action: 'ssm:CancelCommand',
        subject: `command ${commandId}`,
        resource: '*'
      }).message
      core.warning(`Could not cancel Run Command ${commandId} (${why}): ${quoteUntrusted(message)}`)
    }
  }
}

/** One collapsible log group per instance, and the results in instance id order. */
async function reportInstances(
  options: SsmRestartOptions,
  invocations: CommandInvocation[]
): Promise<InstanceResult[]> {
  const byId = new Map(invocations.map(i => [i.InstanceId ?? '', i]))
  const fetchAll = options.instanceIds.length <= FULL_OUTPUT_UP_TO
  const results: InstanceResult[] = []
  let fetched = 0
  for (const instanceId of options.instanceIds) {
    const invocation = byId.get(instanceId)
    const result = describeInvocation(instanceId, invocation)
    results.push(result)
    const worthFetching = (fetchAll || result.status !== 'Success') && fetched < MAX_FULL_OUTPUTS
    if (invocation && worthFetching) fetched++
    const output =
      invocation && worthFetching
        ? await fullOutput(options.ssm, invocation)
        : pluginOutput(invocation)
    printInstanceGroup(result, output, options.write)
  }
  return results
}

function describeInvocation(
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
function pluginOutput(invocation: CommandInvocation | undefined): InstanceOutput {
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
async function fullOutput(ssm: SSMClient, invocation: CommandInvocation): Promise<InstanceOutput> {
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

async function failureMessage(
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
  const text = stderr ? stderr.stderr || stderr.stdout : ''
  const splitter = new LineSplitter(line => tail.add(line))
  splitter.write(text)
  splitter.end()
  const lines = tail
    .lastLines(STDERR_LINES_IN_MESSAGE)
    .split('\n')
    .filter(line => line !== '')
    .map(line => `  ${quoteUntrusted(line, 500)}`)
  const inspect = `"systemctl status ${options.service}" and "journalctl -u ${options.service}" on the instance`
  return (
    beyondMaxErrors(
      options.service,
      failed,
      options.instanceIds.length,
      options.maxErrors,
      allowed
    ) +
    (failed.some(r => r.status === 'Cancelled')
      ? 'The cancelled ones were not restarted: SSM stops once max-errors is exceeded. '
      : '') +
    `Run Command ${quoteUntrusted(first?.CommandId ?? '', 80)}; check ${inspect}.` +
    (lines.length > 0 ? `\nLast output of ${culprit.instanceId}:\n${lines.join('\n')}` : '')
  )
}

function describeIds(ids: string[]): string {
  return ids.length === 1 ? `instance ${ids[0]}` : `instances ${ids[0]} to ${ids[ids.length - 1]}`
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new ActionError(
      'The step was cancelled before the restart was sent; nothing was restarted.'
    )
}

/** A sleep that ends early, with an error, when the step is cancelled. */
function abortableSleep(
  sleep: (ms: number) => Promise<void>,
  signal: AbortSignal | undefined
): (ms: number) => Promise<void> {
  if (!signal) return sleep
  return ms =>
    new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new ActionError('The step was cancelled.'))
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort, { once: true })
      sleep(ms).then(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }, reject)
    })
}
