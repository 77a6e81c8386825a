import {
  AuthorizeSecurityGroupIngressCommand,
  paginateDescribeSecurityGroupRules,
  RevokeSecurityGroupIngressCommand,
  type EC2Client,
  type SecurityGroupRule
} from '@aws-sdk/client-ec2'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import type { Logger } from '../lib/log.js'

// The door of one run (input "open-ingress"): an ingress rule for the runner's address alone, on
// the one port the run connects to, tagged with the run and the time, and removed by its rule id.

/** The tag that says which run opened a rule: `<repository>/<run id>/<attempt>`. */
export const RUN_TAG = 'secrets-deploy-action:run'
/** The tag that says when: an ISO 8601 time. */
export const CREATED_TAG = 'secrets-deploy-action:created'
/** No job runs longer (GitHub's limit is 6 hours on its runners): a rule older is left over. */
export const STALE_AFTER_MS = 6 * 3600 * 1000

/** A rule this run opened, as the post step gets it back. */
export interface OpenedRule {
  groupId: string
  ruleId: string
  /** `203.0.113.7/32` or `2001:db8::7/128`. */
  cidr: string
  port: number
}

/** The security group's ARN pattern, as a denied call's message names it. */
export function securityGroupResource(groupId: string): string {
  return `arn:aws:ec2:*:*:security-group/${groupId}`
}

function call(action: string, groupId: string) {
  return {
    action: `ec2:${action}`,
    subject: `security group ${groupId} (input "open-ingress")`,
    resource: securityGroupResource(groupId),
    notFoundHint: 'Check the security group id and the region.'
  }
}

/**
 * Removes the rules of this action in the group that are older than STALE_AFTER_MS: left by a run
 * whose post step never ran (a runner that died). A younger rule may be a concurrent run's, and a
 * rule without both tags is not this action's: neither is touched. Returns the ids removed.
 */
export async function removeStaleRules(
  ec2: EC2Client,
  groupId: string,
  now: Date,
  log: Logger
): Promise<string[]> {
  const stale: string[] = []
  try {
    const pages = paginateDescribeSecurityGroupRules(
      { client: ec2 },
      { Filters: [{ Name: 'group-id', Values: [groupId] }], MaxResults: 1000 }
    )
    for await (const page of pages) {
      for (const rule of page.SecurityGroupRules ?? []) {
        if (isStale(rule, groupId, now) && rule.SecurityGroupRuleId)
          stale.push(rule.SecurityGroupRuleId)
      }
    }
  } catch (error) {
    throw describeAwsError(error, call('DescribeSecurityGroupRules', groupId))
  }
  if (stale.length === 0) return []
  await revoke(ec2, groupId, stale)
  log.info(
    `Removed ${stale.length} ingress rule${stale.length === 1 ? '' : 's'} of this action older ` +
      `than 6 hours from ${groupId}: ${stale.join(', ')}.`
  )
  return stale
}

function isStale(rule: SecurityGroupRule, groupId: string, now: Date): boolean {
  if (rule.IsEgress || rule.GroupId !== groupId) return false
  const tags = new Map((rule.Tags ?? []).map(tag => [tag.Key, tag.Value]))
  if (!tags.has(RUN_TAG)) return false
  const created = Date.parse(tags.get(CREATED_TAG) ?? '')
  return Number.isFinite(created) && now.getTime() - created > STALE_AFTER_MS
}

/**
 * Adds the rule for `cidr` on TCP `port`, tagged at creation (one call: no rule can exist
 * untagged). Undefined when the group already admits exactly that: another run from the same
 * address (a self-hosted runner) opened it, and it is left to that run.
 */
export async function openRule(
  ec2: EC2Client,
  rule: { groupId: string; cidr: string; family: 4 | 6; port: number; run: string; now: Date }
): Promise<OpenedRule | undefined> {
  const description = `secrets-deploy-action ${rule.run}`.replace(/[^A-Za-z0-9. _:/()#,@+=-]/g, '_')
  const range =
    rule.family === 4
      ? { IpRanges: [{ CidrIp: rule.cidr, Description: description }] }
      : { Ipv6Ranges: [{ CidrIpv6: rule.cidr, Description: description }] }
  try {
    const answer = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: rule.groupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: rule.port, ToPort: rule.port, ...range }],
        TagSpecifications: [
          {
            ResourceType: 'security-group-rule',
            Tags: [
              { Key: RUN_TAG, Value: rule.run },
              { Key: CREATED_TAG, Value: rule.now.toISOString() }
            ]
          }
        ]
      })
    )
    const ruleId = answer.SecurityGroupRules?.[0]?.SecurityGroupRuleId ?? ''
    return { groupId: rule.groupId, ruleId, cidr: rule.cidr, port: rule.port }
  } catch (error) {
    if (awsErrorName(error) === 'InvalidPermission.Duplicate') return undefined
    throw describeAwsError(error, call('AuthorizeSecurityGroupIngress', rule.groupId))
  }
}

/** Removes the rule by its id; one already gone counts as removed. */
export async function closeRule(ec2: EC2Client, rule: OpenedRule): Promise<void> {
  await revoke(ec2, rule.groupId, [rule.ruleId])
}

async function revoke(ec2: EC2Client, groupId: string, ruleIds: string[]): Promise<void> {
  try {
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: ruleIds })
    )
  } catch (error) {
    if (awsErrorName(error) === 'InvalidSecurityGroupRuleId.NotFound') return
    throw describeAwsError(error, call('RevokeSecurityGroupIngress', groupId))
  }
}
