import { ActionError } from './errors.js'

/** An instance id as EC2 makes them: i- and 8 (older) or up to 17 hexadecimal digits. */
export const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/

/** A security group id as EC2 makes them: sg- and 8 (older) or 17 hexadecimal digits. */
const SECURITY_GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/

/**
 * `value` when it is a security group id; undefined when empty. The action's input and the command
 * line's option are checked alike: the id goes into an IAM policy and into EC2 calls.
 */
export function checkSecurityGroupId(
  value: string | undefined,
  source: string
): string | undefined {
  if (value === undefined || value === '') return undefined
  if (SECURITY_GROUP_ID.test(value)) return value
  throw new ActionError(
    `${source} is "${value}", which is not a security group id: give the id (sg-...) of the ` +
      "instances' security group."
  )
}

/** A target group's ARN, as ELBv2 gives it: arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>. */
export const TARGET_GROUP_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/

/**
 * The ARNs when each is a target group's; the action's input and the command line's option are
 * checked alike: the ARN goes into ELBv2 calls and into an IAM policy.
 */
export function checkTargetGroupArns(arns: readonly string[], source: string): string[] {
  const bad = arns.find(arn => !TARGET_GROUP_ARN.test(arn))
  if (bad === undefined) return [...new Set(arns)]
  throw new ActionError(
    `${source} has "${bad}", which is not a target group ARN: give ` +
      'arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>.'
  )
}
