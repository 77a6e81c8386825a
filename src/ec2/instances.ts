import {
  paginateDescribeInstances,
  type EC2Client,
  type Filter,
  type Instance
} from '@aws-sdk/client-ec2'
import { isIP } from 'node:net'
import { createBackoff } from '../lib/backoff.js'
import { ActionError } from '../lib/errors.js'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import { chunks } from '../lib/chunks.js'
import { quoteUntrusted, type Logger } from '../lib/log.js'
import { INSTANCE_ID } from '../lib/aws-ids.js'

/** Which of an instance's addresses the action uses (input "address-type"). */
export type AddressType = 'public' | 'private'

export { INSTANCE_ID }

export interface DeployedInstance {
  instanceId: string
  /** Empty only for an instance named by input "targets" that has no address of address-type. */
  address: string
}

const describeCall = (subject: string) => ({
  action: 'ec2:DescribeInstances',
  subject,
  resource: '*'
})

/** DescribeInstances takes at most this many ids in one request; larger fleets go in batches. */
const IDS_PER_REQUEST = 100

/**
 * The instances the stack deployed, sorted: the ids in the output named by `instance-id-output`
 * (one, or several separated by commas), else every output that holds an instance id, else every
 * running instance CloudFormation tagged with the stack.
 */
export async function findInstanceIds(
  ec2: EC2Client,
  stack: string,
  stackOutputs: Record<string, string>,
  instanceIdOutput: string
): Promise<string[]> {
  if (instanceIdOutput !== '') {
    const value = stackOutputs[instanceIdOutput]
    if (value === undefined) {
      throw new ActionError(
        `Stack "${stack}" has no output "${instanceIdOutput}" (input "instance-id-output"); its outputs are ${listOrNone(Object.keys(stackOutputs))}.`
      )
    }
    const ids = value.split(',').map(id => id.trim())
    const bad = ids.find(id => !INSTANCE_ID.test(id))
    if (bad !== undefined) {
      throw new ActionError(
        `Output "${instanceIdOutput}" of stack "${stack}" is "${quoteUntrusted(value, 200)}", not an instance id ` +
          '(i-...) or a comma-separated list of them.'
      )
    }
    return sortedUnique(ids)
  }
  const fromOutputs = Object.values(stackOutputs).filter(value => INSTANCE_ID.test(value))
  if (fromOutputs.length > 0) return sortedUnique(fromOutputs)
  const tagged = await describeRunning(
    ec2,
    [{ Name: 'tag:aws:cloudformation:stack-name', Values: [stack] }],
    `the instances of stack "${stack}"`
  )
  if (tagged.length === 0) {
    throw new ActionError(
      `Found no instance for stack "${stack}": it has no output holding an instance id and no running instance is ` +
        'tagged aws:cloudformation:stack-name with its name. Add a CfnOutput of instance.instanceId and name it in "instance-id-output".'
    )
  }
  return sortedUnique(tagged.map(instance => instance.InstanceId ?? ''))
}

/**
 * The running instances input "targets" names: instance ids and `tag:Key=Value` filters, each
 * entry adding its instances. Sorted by id; the address is that of `addressType`, or empty.
 */
export async function resolveTargets(
  ec2: EC2Client,
  targets: readonly string[],
  addressType: AddressType
): Promise<DeployedInstance[]> {
  const ids: string[] = []
  const tags: { key: string; value: string }[] = []
  for (const target of targets) {
    const tag = /^tag:([^=]+)=(.*)$/.exec(target)
    if (tag) tags.push({ key: tag[1], value: tag[2] })
    else if (INSTANCE_ID.test(target)) ids.push(target)
    else {
      throw new ActionError(
        `Input "targets" has "${target}", which is neither an instance id (i-...) nor a tag filter ` +
          '(tag:Key=Value); give one per line or separated by commas.'
      )
    }
  }
  const found = new Map<string, Instance>()
  for (const batch of chunks(sortedUnique(ids), IDS_PER_REQUEST)) {
    for (const instance of await describeIds(ec2, batch)) {
      const id = instance.InstanceId ?? ''
      if (instance.State?.Name !== 'running') {
        const state = instance.State?.Name
          ? quoteUntrusted(instance.State.Name, 40)
          : 'in an unknown state'
        throw new ActionError(
          `Instance ${id} (input "targets") is ${state}, not running; start it or remove it from "targets".`
        )
      }
      found.set(id, instance)
    }
  }
  for (const { key, value } of tags) {
    const matches = await describeRunning(
      ec2,
      [{ Name: `tag:${key}`, Values: [value] }],
      `the instances tagged ${key}=${value} (input "targets")`
    )
    if (matches.length === 0) {
      throw new ActionError(
        `No running instance is tagged ${key}=${value} (input "targets"); check the tag's key and value.`
      )
    }
    for (const instance of matches) found.set(instance.InstanceId ?? '', instance)
  }
  return [...found.keys()].sort().map(instanceId => ({
    instanceId,
    address: addressOf(found.get(instanceId) as Instance, addressType) ?? ''
  }))
}

/** What a lookup by address is for, in its messages. */
export interface AddressLookup {
  /** Names the call when it is denied: "the instance at ...". */
  subject: string
  /** The message when no running instance, or more than one, has the address. */
  notOne: string
}

/**
 * The one running instance that has `address`: for a restart at the address the secret holds,
 * where that address is all that is known.
 */
export async function instanceAtAddress(
  ec2: EC2Client,
  address: string,
  addressType: AddressType,
  lookup: AddressLookup
): Promise<string> {
  const filter = addressType === 'public' ? 'ip-address' : 'private-ip-address'
  const found = await describeRunning(ec2, [{ Name: filter, Values: [address] }], lookup.subject)
  if (found.length !== 1) throw new ActionError(lookup.notOne)
  return found[0].InstanceId ?? ''
}

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped'])

/**
 * Waits until every instance is running and has the address asked for, within one time budget;
 * each round asks about all the instances still waited for at once, not one by one.
 */
export async function waitForAddresses(
  ec2: EC2Client,
  instanceIds: readonly string[],
  addressType: AddressType,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
  log: Logger
): Promise<DeployedInstance[]> {
  const backoff = createBackoff({ totalMs: timeoutMs, initialDelayMs: 2000, sleep })
  const ready = new Map<string, string>()
  const lastSeen = new Map<string, string>()
  let waiting = [...instanceIds]
  do {
    const known = new Map<string, Instance>()
    for (const batch of chunks(waiting, IDS_PER_REQUEST))
      for (const instance of await describeIds(ec2, batch, true))
        known.set(instance.InstanceId ?? '', instance)
    for (const instanceId of waiting) {
      const instance = known.get(instanceId)
      if (!instance) {
        lastSeen.set(instanceId, 'not found')
        continue
      }
      const state = quoteUntrusted(instance.State?.Name ?? 'unknown', 40)
      if (GONE.has(state)) {
        throw new ActionError(
          `Instance ${instanceId} is ${state}, so it cannot be reached; check the stack's events in CloudFormation.`
        )
      }
      const address = addressOf(instance, addressType)
      if (state === 'running' && address) ready.set(instanceId, address)
      else
        lastSeen.set(
          instanceId,
          state === 'running' ? `running without a ${addressType} address` : state
        )
    }
    waiting = waiting.filter(id => !ready.has(id))
    if (waiting.length === 0)
      return [...instanceIds].map(instanceId => ({
        instanceId,
        address: ready.get(instanceId) as string
      }))
    log.info(describeWaiting(waiting, lastSeen, instanceIds.length))
  } while (await backoff.wait())
  const first = waiting[0]
  const seen = lastSeen.get(first) ?? 'not found'
  const others = waiting.length > 1 ? ` (and ${waiting.length - 1} more instances)` : ''
  const hint =
    seen === 'running without a public address'
      ? ' Give it a public IP (a public subnet with auto-assign, or an Elastic IP), or set address-type: private.'
      : ''
  throw new ActionError(
    `Instance ${first}${others} was still ${seen} after ${Math.round(timeoutMs / 1000)} s (input "instance-timeout").${hint}`
  )
}

function describeWaiting(waiting: string[], lastSeen: Map<string, string>, total: number): string {
  if (total === 1) return `Instance ${waiting[0]} is ${lastSeen.get(waiting[0])}; waiting.`
  const shown = waiting.slice(0, 5).map(id => `${id} ${lastSeen.get(id)}`)
  const more = waiting.length > shown.length ? `, and ${waiting.length - shown.length} more` : ''
  return `${waiting.length} of ${total} instances not ready yet (${shown.join(', ')}${more}); waiting.`
}

function addressOf(instance: Instance, addressType: AddressType): string | undefined {
  return addressType === 'public' ? instance.PublicIpAddress : instance.PrivateIpAddress
}

/**
 * The instances with these ids. With `tolerateUnknown`, an id EC2 does not know yet (it is
 * eventually consistent after a launch) is left out instead of failing the call: a request naming
 * an unknown id fails whole, so the ids are then asked about one by one.
 */
async function describeIds(
  ec2: EC2Client,
  instanceIds: string[],
  tolerateUnknown = false
): Promise<Instance[]> {
  const subject =
    instanceIds.length === 1 ? `instance ${instanceIds[0]}` : `${instanceIds.length} instances`
  try {
    return await collect(ec2, { InstanceIds: instanceIds })
  } catch (error) {
    if (awsErrorName(error) !== 'InvalidInstanceID.NotFound')
      throw describeAwsError(error, describeCall(subject))
    if (instanceIds.length > 1) {
      const each = await Promise.all(instanceIds.map(id => describeIds(ec2, [id], true)))
      const found = each.flat()
      const missing = instanceIds.filter(id => !found.some(i => i.InstanceId === id))
      if (tolerateUnknown || missing.length === 0) return found
      throw unknownInstance(missing[0])
    }
    if (tolerateUnknown) return []
    throw unknownInstance(instanceIds[0])
  }
}

function unknownInstance(instanceId: string): ActionError {
  return new ActionError(
    `Instance ${instanceId} (input "targets") does not exist in this account and region; check the id and AWS_REGION.`
  )
}

async function describeRunning(ec2: EC2Client, filters: Filter[], subject: string) {
  try {
    return await collect(ec2, {
      Filters: [...filters, { Name: 'instance-state-name', Values: ['running'] }]
    })
  } catch (error) {
    throw describeAwsError(error, describeCall(subject))
  }
}

/** Every page of DescribeInstances, flattened, each instance checked (checkDescribed). */
async function collect(
  ec2: EC2Client,
  input: { InstanceIds?: string[]; Filters?: Filter[] }
): Promise<Instance[]> {
  const instances: Instance[] = []
  for await (const page of paginateDescribeInstances({ client: ec2 }, input))
    for (const reservation of page.Reservations ?? [])
      instances.push(...(reservation.Instances ?? []).map(checkDescribed))
  return instances
}

/**
 * An instance as DescribeInstances gave it, refused unless its id and addresses have the shapes EC2
 * gives them: they go into log lines, the summary and the SSH connection as they are.
 */
export function checkDescribed(instance: Instance): Instance {
  const id = instance.InstanceId ?? ''
  const odd = !INSTANCE_ID.test(id)
    ? `an instance id ${JSON.stringify(quoteUntrusted(id, 100))}`
    : [instance.PublicIpAddress, instance.PrivateIpAddress]
        .filter(address => address !== undefined && address !== '' && isIP(address) === 0)
        .map(
          address =>
            `an address ${JSON.stringify(quoteUntrusted(address as string, 100))} for ${id}`
        )[0]
  if (odd === undefined) return instance
  throw new ActionError(
    `ec2:DescribeInstances answered with ${odd}, which is not one; check that AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_EC2), if set, is an EC2 endpoint.`
  )
}

/** The instances a run deployed or targeted, as its outputs and the write-back give them. */
export interface LocatedInstances {
  /** The first instance's id. */
  instanceId: string
  /** The address, or with several instances their addresses separated by commas, in id order. */
  address: string
  /** Every instance, sorted by id. */
  instances: DeployedInstance[]
}

/** With deploy false: the instances input "targets" names. */
export async function locateTargets(
  ec2: EC2Client,
  targets: readonly string[],
  addressType: AddressType,
  log: Logger
): Promise<DeployedInstance[]> {
  const instances = await resolveTargets(ec2, targets, addressType)
  log.info(
    `Input "targets" names ${instances.length} running instance${instances.length > 1 ? 's' : ''}: ` +
      `${instances.map(i => i.instanceId).join(', ')}.`
  )
  return instances
}

function sortedUnique(ids: string[]): string[] {
  return [...new Set(ids.filter(id => id !== ''))].sort()
}

/** Output names come from the CDK app: quoted as untrusted text, and only the first few. */
function listOrNone(names: string[]): string {
  if (names.length === 0) return 'none'
  const shown = names.slice(0, 20).map(name => `"${quoteUntrusted(name, 200)}"`)
  return names.length > shown.length
    ? `${shown.join(', ')} and ${names.length - shown.length} more`
    : shown.join(', ')
}
