import { DescribeSecretCommand, GetResourcePolicyCommand } from '@aws-sdk/client-secrets-manager'
import type { EvaluationResult } from '@aws-sdk/client-iam'
import { InvalidArgumentError } from 'commander'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import { INSTANCE_ID } from '../lib/aws-ids.js'
import { failureMessage } from '../lib/errors.js'
import { secretCall } from '../secrets/read.js'
import type { GlobalOptions, Session } from './context.js'
import type { Check } from './doctor.js'

// `doctor --instance <id>` / `--instance-profile <name>`: can the instance read the secrets? The
// instance's profile and role, then IAM's policy simulator on that role with each secret's
// resource policy: secretsmanager:GetSecretValue on the secret, and kms:Decrypt on its key when it
// is a customer managed one. The simulator does not evaluate KMS key policies, service control
// policies it is not given, or what the instance's network reaches: the verdicts say what was
// checked, and the statement to add when the role may not.

export interface InstanceAccessOptions {
  instance?: string
  instanceProfile?: string
}

/** --instance: an EC2 instance id, checked before it reaches a call. */
export function parseInstanceId(value: string): string {
  if (!INSTANCE_ID.test(value))
    throw new InvalidArgumentError(`give an instance id such as i-0abc1234def567890.`)
  return value
}

/** --instance-profile: IAM's alphabet for names (letters, digits and +=,.@_-), up to 128. */
export function parseProfileName(value: string): string {
  if (!/^[\w+=,.@-]{1,128}$/.test(value))
    throw new InvalidArgumentError(
      'give the name of an instance profile (letters, digits, +=,.@_-).'
    )
  return value
}

/** A failed step: the checks so far end with it, and the rest cannot run. */
class Stop extends Error {
  constructor(readonly check: Check) {
    super(check.detail)
  }
}

/** The instance's profile name, from DescribeInstances. */
async function profileOfInstance(
  session: Session,
  instanceId: string
): Promise<Check & { name: string }> {
  const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2')
  const check = `instance ${instanceId}`
  let arn: string | undefined
  try {
    const answer = await (
      await session.clients.ec2()
    ).send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
    arn = answer.Reservations?.[0]?.Instances?.[0]?.IamInstanceProfile?.Arn
  } catch (error) {
    const why = describeAwsError(error, {
      action: 'ec2:DescribeInstances',
      subject: `instance ${instanceId}`,
      resource: '*'
    })
    throw new Stop({ outcome: 'fail', check, detail: why.message })
  }
  if (!arn) {
    throw new Stop({
      outcome: 'fail',
      check,
      detail:
        'has no instance profile, so nothing on it can read the secrets with a role: attach one whose role may (EC2 console: Actions, Security, Modify IAM role).'
    })
  }
  const name = arn.slice(arn.lastIndexOf('/') + 1)
  return { outcome: 'ok', check, detail: `instance profile "${name}"`, name }
}

/** The profile's role ARN, from GetInstanceProfile. */
async function roleOfProfile(session: Session, name: string): Promise<Check & { roleArn: string }> {
  const { GetInstanceProfileCommand } = await import('@aws-sdk/client-iam')
  const check = `instance profile "${name}"`
  let roleArn: string | undefined
  try {
    const answer = await (
      await session.clients.iam()
    ).send(new GetInstanceProfileCommand({ InstanceProfileName: name }))
    roleArn = answer.InstanceProfile?.Roles?.[0]?.Arn
  } catch (error) {
    const detail =
      // IAM's code NoSuchEntity, which the SDK names NoSuchEntityException.
      /^NoSuchEntity(Exception)?$/.test(awsErrorName(error))
        ? 'does not exist (iam:GetInstanceProfile): check the name.'
        : describeAwsError(error, {
            action: 'iam:GetInstanceProfile',
            subject: check,
            resource: 'arn:aws:iam::*:instance-profile/*'
          }).message
    throw new Stop({ outcome: 'fail', check, detail })
  }
  if (!roleArn)
    throw new Stop({
      outcome: 'fail',
      check,
      detail: 'holds no role: add the role that may read the secrets to it.'
    })
  return { outcome: 'ok', check, detail: `role ${roleArn}`, roleArn }
}

/** What the simulator said, or why it could not say. */
type Simulated = { result: EvaluationResult } | { denied: string }

async function simulate(
  session: Session,
  roleArn: string,
  action: string,
  resource: string,
  resourcePolicy?: string
): Promise<Simulated> {
  const { SimulatePrincipalPolicyCommand } = await import('@aws-sdk/client-iam')
  try {
    const answer = await (
      await session.clients.iam()
    ).send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: [action],
        ResourceArns: [resource],
        ...(resourcePolicy ? { ResourcePolicy: resourcePolicy } : {})
      })
    )
    const result = answer.EvaluationResults?.[0]
    if (result) return { result }
    return { denied: 'the simulator gave no result' }
  } catch (error) {
    const name = awsErrorName(error)
    if (name === 'AccessDenied' || name === 'AccessDeniedException')
      return { denied: 'iam:SimulatePrincipalPolicy is denied to these credentials' }
    throw error
  }
}

/** The verdict on one simulated permission, worded as what was checked. */
function verdict(
  check: string,
  simulated: Simulated,
  checked: string,
  statement: Record<string, unknown>
): Check {
  const action = String(statement.Action)
  if ('denied' in simulated) {
    return {
      outcome: 'warn',
      check,
      detail: `not checked: ${simulated.denied}; check by hand that the role's policies hold this statement`,
      fix: statement
    }
  }
  const { EvalDecision: decision, MatchedStatements: matched = [] } = simulated.result
  if (decision === 'allowed') return { outcome: 'ok', check, detail: `${action} ${checked}` }
  if (decision === 'explicitDeny') {
    const where = matched
      .map(m => m.SourcePolicyId ?? '')
      .filter(Boolean)
      .join(', ')
    return {
      outcome: 'fail',
      check,
      detail: `${action} is denied by a Deny statement (${where || 'a policy'}): remove or narrow it; an Allow cannot override it`
    }
  }
  return {
    outcome: 'fail',
    check,
    detail: `${action} is not allowed: no statement of the role's policies allows it; add this statement to the role's policy`,
    fix: statement
  }
}

/** A customer managed key's ARN; undefined for the AWS managed key (no KmsKeyId). */
function keyArn(kmsKeyId: string | undefined, secretArn: string): string | undefined {
  if (!kmsKeyId || kmsKeyId === 'alias/aws/secretsmanager') return undefined
  if (kmsKeyId.startsWith('arn:')) return kmsKeyId
  const [, partition, , region, account] = secretArn.split(':')
  const kind = kmsKeyId.startsWith('alias/') ? '' : 'key/'
  return `arn:${partition}:kms:${region}:${account}:${kind}${kmsKeyId}`
}

/** The checks of one secret: its read by the role, and its key's decryption. */
async function secretChecks(
  session: Session,
  roleArn: string,
  role: 'deployment' | 'app',
  secretId: string
): Promise<Check[]> {
  const check = `instance role, ${role} secret "${secretId}"`
  const call = (action: 'DescribeSecret' | 'GetResourcePolicy') =>
    secretCall(action, role, secretId, '')
  let described
  try {
    described = await session.client.send(new DescribeSecretCommand({ SecretId: secretId }))
  } catch (error) {
    return [
      { outcome: 'fail', check, detail: describeAwsError(error, call('DescribeSecret')).message }
    ]
  }
  const arn = described.ARN ?? secretId
  let policy: string | undefined
  let policyNote = ''
  try {
    policy = (await session.client.send(new GetResourcePolicyCommand({ SecretId: secretId })))
      .ResourcePolicy
  } catch (error) {
    policyNote = ` (its resource policy could not be read, so it was left out: ${failureMessage(describeAwsError(error, call('GetResourcePolicy')))})`
  }
  const byPolicies = policy
    ? "allowed by the role's policies and the secret's policy"
    : `allowed by the role's policies${policyNote || ' (the secret has no resource policy)'}`
  const key = keyArn(described.KmsKeyId, arn)
  const checks = [
    verdict(
      check,
      await simulate(session, roleArn, 'secretsmanager:GetSecretValue', arn, policy),
      `${byPolicies}; the KMS key policy is not checked`,
      { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn }
    )
  ]
  if (key) {
    const region = arn.split(':')[3]
    checks.push(
      verdict(
        `instance role, the KMS key of the ${role} secret`,
        await simulate(session, roleArn, 'kms:Decrypt', key),
        "allowed by the role's policies; the KMS key policy is not checked",
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: key,
          Condition: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` }
          }
        }
      )
    )
  }
  return checks
}

/** The instance's (or profile's) role against both secrets, one verdict per line. */
export async function instanceAccessChecks(
  session: Session,
  globals: GlobalOptions,
  options: InstanceAccessOptions
): Promise<Check[]> {
  const checks: Check[] = []
  try {
    let name = options.instanceProfile ?? ''
    if (options.instance) {
      const { name: profile, ...found } = await profileOfInstance(session, options.instance)
      checks.push(found)
      name = profile
    }
    const { roleArn, ...found } = await roleOfProfile(session, name)
    checks.push(found)
    checks.push(...(await secretChecks(session, roleArn, 'deployment', globals.deploymentSecretId)))
    if (globals.appSecretId)
      checks.push(...(await secretChecks(session, roleArn, 'app', globals.appSecretId)))
  } catch (error) {
    if (!(error instanceof Stop)) throw error
    checks.push(error.check)
  }
  return checks
}
