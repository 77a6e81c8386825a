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
