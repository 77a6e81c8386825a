import type {
  ElasticLoadBalancingV2Client,
  TargetDescription
} from '@aws-sdk/client-elastic-load-balancing-v2'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'

// ELBv2 target groups, as a rolling restart uses them (input "target-group-arn"): what a group
// routes to, how long it drains, the health of the targets, and taking them out and back in.
// The SDK module is loaded with the client (aws/clients.ts); these calls take it as given.

/** A target as ELBv2 registers it: the same Id, Port and zone go back in as came out. */
export interface GroupTarget {
  id: string
  port?: number
  availabilityZone?: string
}

/** What the rolling restart needs to know of a group. */
export interface TargetGroupInfo {
  arn: string
  /** "instance": ids; "ip": private addresses; others ("lambda", "alb") hold no instance. */
  targetType: string
  /** Its attribute deregistration_delay.timeout_seconds: how long draining may take. */
  deregistrationDelaySeconds: number
}

/** One target's health in a group. */
export interface TargetState {
  target: GroupTarget
  /** initial, healthy, unhealthy, unused, draining, unavailable. */
  state: string
  reason?: string
}

type Elb = ElasticLoadBalancingV2Client

const call = (action: string, arn: string, resource = arn) => ({
  action: `elasticloadbalancing:${action}`,
  subject: `target group ${arn}`,
  resource,
  notFoundHint: 'Check input "target-group-arn" and the region.'
})

/** The SDK's error for a group that does not exist, in the action's words. */
function groupError(error: unknown, action: string, arn: string, resource?: string): ActionError {
  if (awsErrorName(error) === 'TargetGroupNotFoundException') {
    return new ActionError(
      `Target group ${arn} was not found (elasticloadbalancing:${action}): check input "target-group-arn" and the region.`
    )
  }
  return describeAwsError(error, call(action, arn, resource))
}

/** The group's target type and deregistration delay: two calls, once per group and run. */
export async function describeTargetGroup(elb: Elb, arn: string): Promise<TargetGroupInfo> {
  const sdk = await import('@aws-sdk/client-elastic-load-balancing-v2')
  let targetType: string
  try {
    const groups = await elb.send(new sdk.DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }))
    targetType = groups.TargetGroups?.[0]?.TargetType ?? 'instance'
  } catch (error) {
    throw groupError(error, 'DescribeTargetGroups', arn, '*')
  }
  try {
    const attributes = await elb.send(
      new sdk.DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })
    )
    const delay = attributes.Attributes?.find(
      a => a.Key === 'deregistration_delay.timeout_seconds'
    )?.Value
    // AWS's default when the attribute is not given: 300 s.
    const seconds = Number(delay ?? 300)
    return {
      arn,
      targetType,
      deregistrationDelaySeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 300
    }
  } catch (error) {
    throw groupError(error, 'DescribeTargetGroupAttributes', arn, '*')
  }
}

/**
 * The health of `targets` in the group (every registered target when none are given): one
 * request, whatever the number of targets.
 */
export async function describeTargetHealth(
  elb: Elb,
  arn: string,
  targets?: readonly GroupTarget[]
): Promise<TargetState[]> {
  const sdk = await import('@aws-sdk/client-elastic-load-balancing-v2')
  try {
    const answer = await elb.send(
      new sdk.DescribeTargetHealthCommand({
        TargetGroupArn: arn,
        ...(targets ? { Targets: targets.map(toSdk) } : {})
      })
    )
    return (answer.TargetHealthDescriptions ?? []).map(d => ({
      target: {
        id: d.Target?.Id ?? '',
        port: d.Target?.Port,
        availabilityZone: d.Target?.AvailabilityZone
      },
      state: d.TargetHealth?.State ?? 'unavailable',
      reason: d.TargetHealth?.Reason
    }))
  } catch (error) {
    throw groupError(error, 'DescribeTargetHealth', arn, '*')
  }
}

/** Takes `targets` out of the group: the load balancer stops sending them new requests and drains. */
export async function deregisterTargets(
  elb: Elb,
  arn: string,
  targets: readonly GroupTarget[]
): Promise<void> {
  const sdk = await import('@aws-sdk/client-elastic-load-balancing-v2')
  try {
    await elb.send(
      new sdk.DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map(toSdk) })
    )
  } catch (error) {
    throw groupError(error, 'DeregisterTargets', arn)
  }
}

/** Puts `targets` back into the group, as they were registered. */
export async function registerTargets(
  elb: Elb,
  arn: string,
  targets: readonly GroupTarget[]
): Promise<void> {
  const sdk = await import('@aws-sdk/client-elastic-load-balancing-v2')
  try {
    await elb.send(
      new sdk.RegisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map(toSdk) })
    )
  } catch (error) {
    throw groupError(error, 'RegisterTargets', arn)
  }
}

function toSdk(target: GroupTarget): TargetDescription {
  return {
    Id: target.id,
    ...(target.port !== undefined ? { Port: target.port } : {}),
    ...(target.availabilityZone !== undefined ? { AvailabilityZone: target.availabilityZone } : {})
  }
}

/** A target as the log names it: its id, and its port when the group has it on several. */
export function describeTarget(target: GroupTarget): string {
  const id = quoteUntrusted(target.id, 100)
  return target.port === undefined ? id : `${id}:${target.port}`
}
