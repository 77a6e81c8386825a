import { DEFAULT_RELEASE_PREFIX } from '../lib/s3-names.js'
import { secretResource } from './read.js'

/** The IAM resource that covers a Parameter Store path and every parameter under it. */
export function parameterResource(path: string): string {
  return `arn:aws:ssm:*:*:parameter${path.replace(/\/+$/, '')}*`
}

/** The action settings that decide which permissions it needs. */
export interface PolicySettings {
  /** Resource (ARN or ARN pattern) of the deployment secret. */
  deploymentSecret: string
  /** Resource of the app secret; empty when the action does not read it. */
  appSecret: string
  deploy: boolean
  /** The restart methods the role must allow: one for a workflow, both for the README. */
  restarts: readonly RestartMethod[]
  /** Input "config-path"; empty or absent when no configuration is read from Parameter Store. */
  configPath?: string
  /** Input "rotate": the action writes new values into the app secret. */
  rotate?: boolean
  /** Input "open-ingress": the security group opened for each run; empty or absent: none. */
  openIngress?: string
  /** Input "release-bucket": the bucket a release travels through; empty or absent: none. */
  releaseBucket?: string
  /** Input "release-prefix", checked; absent: DEFAULT_RELEASE_PREFIX. */
  releasePrefix?: string
  /** The command line's `audit`: the secrets' events in CloudTrail's history. */
  audit?: boolean
  /** The command line's `doctor --instance`: whether the instance's role may read the secrets. */
  doctor?: boolean
  /** Input "target-group-arn": the target groups a rolling restart drains; empty or absent: none. */
  targetGroups?: readonly string[]
}

export type RestartMethod = 'ssh' | 'ssm'

/** Input `restart` as the methods it uses. */
export function restartMethods(restart: 'ssh' | 'ssm' | 'none'): RestartMethod[] {
  return restart === 'none' ? [] : [restart]
}

export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  deploymentSecret: secretResource('FastAPIDeploymentSecrets'),
  appSecret: secretResource('FastAPIAppSecrets'),
  deploy: true,
  restarts: ['ssh']
}

/** What docs/iam-policy.md shows: a deploy with either restart, the SSM statements marked as optional. */
export const README_POLICY_SETTINGS: PolicySettings = {
  ...DEFAULT_POLICY_SETTINGS,
  restarts: ['ssh', 'ssm'],
  configPath: '/fastapi/staging/'
}

interface Statement {
  Sid: string
  Effect: 'Allow'
  Action: string | string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, string>>
}

const one = <T>(items: T[]): T | T[] => (items.length === 1 ? items[0] : items)

/** The statements one concern of the action needs, or none when the settings leave it out. */
type StatementGroup = (settings: PolicySettings) => Statement[]

const readSecrets: StatementGroup = settings => [
  {
    Sid: 'ReadBothSecrets',
    Effect: 'Allow',
    Action: 'secretsmanager:GetSecretValue',
    Resource: one([settings.appSecret, settings.deploymentSecret].filter(Boolean).sort())
  }
]

const writeBack: StatementGroup = settings =>
  settings.deploy
    ? [
        {
          Sid: 'WriteTheAddressBack',
          Effect: 'Allow',
          Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
          Resource: settings.deploymentSecret
        }
      ]
    : []

// Input "rotate": new values (GetRandomPassword, which names no resource), written with the
// compare-and-swap; DescribeSecret tells whether Secrets Manager's own rotation is on.
const rotateAppSecret: StatementGroup = settings =>
  settings.rotate && settings.appSecret
    ? [
        {
          Sid: 'RotateAppSecretKeys',
          Effect: 'Allow',
          Action: [
            'secretsmanager:DescribeSecret',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage'
          ],
          Resource: settings.appSecret
        },
        {
          Sid: 'GenerateNewValues',
          Effect: 'Allow',
          Action: 'secretsmanager:GetRandomPassword',
          Resource: '*'
        }
      ]
    : []

// Deploying finds the instance (DescribeInstances); an SSH restart learns the host key from the
// instance's console when no fingerprint is pinned (GetConsoleOutput).
const findInstances: StatementGroup = settings => {
  const ssh = settings.restarts.includes('ssh')
  const ec2 = [
    // A target group of type ip is matched by the instances' private addresses.
    ...(settings.deploy || ssh || settings.targetGroups?.length ? ['ec2:DescribeInstances'] : []),
    ...(ssh ? ['ec2:GetConsoleOutput'] : [])
  ]
  if (ec2.length === 0) return []
  return [
    {
      Sid: ssh ? 'FindTheInstanceAndItsHostKey' : 'FindTheInstance',
      Effect: 'Allow',
      Action: one(ec2),
      Resource: '*'
    }
  ]
}

const runCommand: StatementGroup = settings =>
  settings.restarts.includes('ssm')
    ? [
        {
          Sid: 'RestartWithRunCommand',
          Effect: 'Allow',
          Action: 'ssm:SendCommand',
          Resource: ['arn:aws:ssm:*:*:document/AWS-RunShellScript', 'arn:aws:ec2:*:*:instance/*']
        },
        {
          Sid: 'FollowTheRunCommand',
          Effect: 'Allow',
          Action: [
            'ssm:DescribeInstanceInformation',
            'ssm:ListCommandInvocations',
            'ssm:GetCommandInvocation',
            'ssm:CancelCommand'
          ],
          Resource: '*'
        }
      ]
    : []

const readConfiguration: StatementGroup = settings =>
  settings.configPath
    ? [
        {
          Sid: 'ReadTheConfiguration',
          Effect: 'Allow',
          Action: 'ssm:GetParametersByPath',
          Resource: parameterResource(settings.configPath)
        },
        {
          // SecureString parameters under a customer managed key; only through Parameter Store.
          Sid: 'DecryptSecureStringParameters',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringLike: { 'kms:ViaService': 'ssm.*.amazonaws.com' } }
        }
      ]
    : []

// Input "open-ingress": a rule added to and removed from that one group (tagged as it is created,
// which needs ec2:CreateTags on the rule), and its rules listed to find this action's stale ones.
const openTheDoor: StatementGroup = settings =>
  settings.openIngress
    ? [
        {
          Sid: 'OpenAndCloseTheRunnersRule',
          Effect: 'Allow',
          Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
          Resource: [
            `arn:aws:ec2:*:*:security-group/${settings.openIngress}`,
            'arn:aws:ec2:*:*:security-group-rule/*'
          ]
        },
        {
          Sid: 'TagTheRunnersRule',
          Effect: 'Allow',
          Action: 'ec2:CreateTags',
          Resource: 'arn:aws:ec2:*:*:security-group-rule/*',
          Condition: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' } }
        },
        {
          Sid: 'FindStaleRules',
          Effect: 'Allow',
          Action: 'ec2:DescribeSecurityGroupRules',
          Resource: '*'
        }
      ]
    : []

// Input "release-bucket": each release archive is uploaded under the prefix (PutObject, which also
// covers every call of a multipart upload), fetched by the instances through a presigned URL (which
// acts with the permissions of whoever signed it: GetObject), and deleted when done, or its
// multipart upload aborted when the upload fails.
const shipThroughBucket: StatementGroup = settings =>
  settings.releaseBucket
    ? [
        {
          Sid: 'ShipReleasesThroughTheBucket',
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
          Resource: `arn:aws:s3:::${settings.releaseBucket}/${settings.releasePrefix ?? DEFAULT_RELEASE_PREFIX}*`
        }
      ]
    : []

// `secrets-deploy audit`: LookupEvents names no resource; the secret's ARN comes from
// DescribeSecret.
const auditTheSecrets: StatementGroup = settings =>
  settings.audit
    ? [
        {
          Sid: 'ReadTheEventHistory',
          Effect: 'Allow',
          Action: 'cloudtrail:LookupEvents',
          Resource: '*'
        },
        {
          Sid: 'FindTheSecretsArns',
          Effect: 'Allow',
          Action: 'secretsmanager:DescribeSecret',
          Resource: one([settings.appSecret, settings.deploymentSecret].filter(Boolean).sort())
        }
      ]
    : []

// `secrets-deploy doctor --instance`: the instance's profile and role, the secrets' resource
// policies and keys, and IAM's policy simulator on the role.
const doctorTheInstance: StatementGroup = settings =>
  settings.doctor
    ? [
        {
          Sid: 'FindTheInstanceProfile',
          Effect: 'Allow',
          Action: 'ec2:DescribeInstances',
          Resource: '*'
        },
        {
          Sid: 'ReadTheInstanceRole',
          Effect: 'Allow',
          Action: 'iam:GetInstanceProfile',
          Resource: 'arn:aws:iam::*:instance-profile/*'
        },
        {
          Sid: 'SimulateTheInstanceRole',
          Effect: 'Allow',
          Action: 'iam:SimulatePrincipalPolicy',
          Resource: 'arn:aws:iam::*:role/*'
        },
        {
          Sid: 'ReadTheSecretsPolicies',
          Effect: 'Allow',
          Action: ['secretsmanager:GetResourcePolicy', 'secretsmanager:DescribeSecret'],
          Resource: one([settings.appSecret, settings.deploymentSecret].filter(Boolean).sort())
        }
      ]
    : []

// Input "target-group-arn": each batch taken out of and put back into those groups; their health,
// type and deregistration delay read with calls that take no resource-level scoping.
const gateTheTraffic: StatementGroup = settings =>
  settings.targetGroups?.length
    ? [
        {
          Sid: 'TakeTargetsOutAndPutThemBack',
          Effect: 'Allow',
          Action: [
            'elasticloadbalancing:DeregisterTargets',
            'elasticloadbalancing:RegisterTargets'
          ],
          Resource: one([...settings.targetGroups])
        },
        {
          Sid: 'WatchTheTargetGroups',
          Effect: 'Allow',
          Action: [
            'elasticloadbalancing:DescribeTargetGroupAttributes',
            'elasticloadbalancing:DescribeTargetGroups',
            'elasticloadbalancing:DescribeTargetHealth'
          ],
          Resource: '*'
        }
      ]
    : []

/** In the order the policy lists them: the order the run needs them in. */
const STATEMENT_GROUPS: readonly StatementGroup[] = [
  readSecrets,
  writeBack,
  rotateAppSecret,
  findInstances,
  runCommand,
  readConfiguration,
  openTheDoor,
  shipThroughBucket,
  auditTheSecrets,
  doctorTheInstance,
  gateTheTraffic
]

/**
 * The least-privilege policy the action needs for these settings: the one source of the
 * `iam-policy` command and the policy in docs/iam-policy.md (a test holds them equal).
 */
export function iamPolicy(settings: PolicySettings): {
  Version: string
  Statement: Statement[]
} {
  return {
    Version: '2012-10-17',
    Statement: STATEMENT_GROUPS.flatMap(group => group(settings))
  }
}
