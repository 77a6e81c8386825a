import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2'
import * as core from '@actions/core'
import { createBackoff } from './backoff.js'
import { ActionError, describeAwsError } from './errors.js'
import type { AddressType } from './inputs.js'
import { quoteUntrusted } from './log.js'

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/

export interface DeployedInstance {
  instanceId: string
  address: string
}

const describeCall = (subject: string) => ({
  action: 'ec2:DescribeInstances',
  subject,
  resource: '*'
})

/**
 * The instance the stack deployed: the output named by `instance-id-output`, else the one output
 * that holds an instance id, else the one running instance CloudFormation tagged with the stack.
 */
export async function findInstanceId(
  ec2: EC2Client,
  stack: string,
  stackOutputs: Record<string, string>,
  instanceIdOutput: string
): Promise<string> {
  if (instanceIdOutput !== '') {
    const value = stackOutputs[instanceIdOutput]
    if (value === undefined) {
      throw new ActionError(
        `Stack "${stack}" has no output "${instanceIdOutput}" (input "instance-id-output"); its outputs are ${listOrNone(Object.keys(stackOutputs))}.`
      )
    }
    if (!INSTANCE_ID.test(value)) {
      throw new ActionError(
        `Output "${instanceIdOutput}" of stack "${stack}" is "${quoteUntrusted(value, 200)}", not an instance id (i-...).`
      )
    }
    return value
  }
  const candidates = Object.entries(stackOutputs).filter(([, value]) => INSTANCE_ID.test(value))
  if (candidates.length === 1) return candidates[0][1]
  if (candidates.length > 1) {
    throw new ActionError(
      `Stack "${stack}" has several outputs that hold instance ids (${listOrNone(candidates.map(([key]) => key))}): ` +
        'name the one to use with input "instance-id-output".'
    )
  }
  let instances: Instance[]
  try {
    const response = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag:aws:cloudformation:stack-name', Values: [stack] },
          { Name: 'instance-state-name', Values: ['running'] }
        ]
      })
    )
    instances = (response.Reservations ?? []).flatMap(r => r.Instances ?? [])
  } catch (error) {
    throw describeAwsError(error, describeCall(`the instances of stack "${stack}"`))
  }
  const ids = instances.map(instance => instance.InstanceId ?? '').filter(id => id !== '')
  if (ids.length === 1) return ids[0]
  if (ids.length === 0) {
    throw new ActionError(
      `Found no instance for stack "${stack}": it has no output holding an instance id and no running instance is ` +
        'tagged aws:cloudformation:stack-name with its name. Add a CfnOutput of instance.instanceId and name it in "instance-id-output".'
    )
  }
  throw new ActionError(
    `Stack "${stack}" has ${ids.length} running instances (${ids.join(', ')}): name the one to restart with a stack ` +
      'output and input "instance-id-output".'
  )
}

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped'])

/** Waits until the instance is running and has the address asked for, within the time budget. */
export async function waitForAddress(
  ec2: EC2Client,
  instanceId: string,
  addressType: AddressType,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>
): Promise<DeployedInstance> {
  const backoff = createBackoff({ totalMs: timeoutMs, initialDelayMs: 2000, sleep })
  let lastSeen = 'not found'
  do {
    const instance = await describeInstance(ec2, instanceId)
    if (instance) {
      const state = instance.State?.Name ?? 'unknown'
      if (GONE.has(state)) {
        throw new ActionError(
          `Instance ${instanceId} is ${state}, so it cannot be reached; check the stack's events in CloudFormation.`
        )
      }
      const address =
        addressType === 'public' ? instance.PublicIpAddress : instance.PrivateIpAddress
      if (state === 'running' && address) return { instanceId, address }
      lastSeen = state === 'running' ? `running without a ${addressType} address` : state
    }
    core.info(`Instance ${instanceId} is ${lastSeen}; waiting.`)
  } while (await backoff.wait())
  const hint =
    lastSeen === `running without a public address`
      ? ' Give it a public IP (a public subnet with auto-assign, or an Elastic IP), or set address-type: private.'
      : ''
  throw new ActionError(
    `Instance ${instanceId} was still ${lastSeen} after ${Math.round(timeoutMs / 1000)} s (input "instance-timeout").${hint}`
  )
}

/** The instance, or undefined while EC2 does not know the id yet (it is eventually consistent). */
async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
  try {
    const response = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
    return response.Reservations?.[0]?.Instances?.[0]
  } catch (error) {
    if ((error as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined
    throw describeAwsError(error, describeCall(`instance ${instanceId}`))
  }
}

/** Output names come from the CDK app: quoted as untrusted text, and only the first few. */
function listOrNone(names: string[]): string {
  if (names.length === 0) return 'none'
  const shown = names.slice(0, 20).map(name => `"${quoteUntrusted(name, 200)}"`)
  return names.length > shown.length
    ? `${shown.join(', ')} and ${names.length - shown.length} more`
    : shown.join(', ')
}
