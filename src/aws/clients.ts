import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import type { KMSClient } from '@aws-sdk/client-kms'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SSMClient } from '@aws-sdk/client-ssm'
import type { STSClient } from '@aws-sdk/client-sts'
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import type { IAMClient } from '@aws-sdk/client-iam'
import { ActionError } from '../lib/errors.js'

/**
 * The SDK's standard retry strategy retries throttling, 5xx and transient network errors with
 * jittered exponential backoff ("full jitter": each wait is random up to 2^n times a base of 1 s for
 * throttling, 50 ms for the rest), and nothing else: exactly the set worth retrying. The action adds
 * no retry loop of its own around AWS calls. Secrets Manager is called a few times a run: 5
 * attempts bound the waits of one call to 1+2+4+8 = 15 s at most (7.5 s on average) when AWS keeps
 * throttling. EC2 is polled while the instance boots, and its request limits are account-wide and
 * shared with everything else in the account: 8 attempts ride out a longer burst (at most 71 s).
 */
const RETRIES = {
  secretsManager: { retryMode: 'standard', maxAttempts: 5 },
  ec2: { retryMode: 'standard', maxAttempts: 8 },
  // A fleet's polls run for minutes: throttling on one of them must not end the run.
  ssm: { retryMode: 'standard', maxAttempts: 8 },
  // A release's archive: each part of an upload is retried alone, so a retry resends 8 MiB at most.
  s3: { retryMode: 'standard', maxAttempts: 5 },
  // A rolling restart polls target health for minutes, like SSM.
  elbv2: { retryMode: 'standard', maxAttempts: 8 },
  // The command line's one-off calls: who the credentials are, a backup's data key.
  once: { retryMode: 'standard', maxAttempts: 5 },
  // LookupEvents is limited to 2 requests a second per account and region, shared with everyone
  // who reads the event history: a long audit rides out throttling on the SDK's backoff.
  cloudTrail: { retryMode: 'standard', maxAttempts: 10 }
} as const

/** The region of a secret's ARN (arn:<partition>:secretsmanager:<region>:...), if it is one. */
export function arnRegion(secretId: string): string | undefined {
  return /^arn:[^:]+:secretsmanager:([^:]+):/.exec(secretId)?.[1]
}

/** The region from the environment, or from the secret's ARN when the environment has none. */
export function resolveRegion(env: NodeJS.ProcessEnv, secretId: string): string {
  const fromEnv = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim()
  if (fromEnv) return fromEnv
  const fromArn = arnRegion(secretId)
  if (fromArn) return fromArn
  throw new ActionError(
    'No AWS region: set "aws-region" on aws-actions/configure-aws-credentials, or AWS_REGION in the ' +
      'job\'s env, or give "deployment-secret-id" as a full ARN.'
  )
}

/**
 * The version the tools name in their user agent; __tests__/user-agent.test.ts keeps it equal to
 * package.json's, so a release cannot forget it.
 */
export const TOOL_VERSION = '1.0.0'

/** Which of the two tools makes the calls: CloudTrail's `userAgent` tells them apart. */
export type Tool = 'action' | 'cli'

/**
 * The suffix the SDK appends to every request's User-Agent (`customUserAgent`), so that
 * CloudTrail (and `secrets-deploy audit`) tells the action's reads from everyone else's.
 */
export function userAgentOf(tool: Tool): string {
  return `secrets-deploy-${tool}/${TOOL_VERSION}`
}

export interface AwsClients {
  secretsManager: SecretsManagerClient
  /** Loaded on first use: the EC2 client is large, and a secrets-only run never needs it. */
  ec2(): Promise<EC2Client>
  /** Loaded on first use, only by restart: ssm. */
  ssm(): Promise<SSMClient>
  /** Loaded on first use, only by a release that travels through a bucket. */
  s3(): Promise<S3Client>
  /** Loaded on first use, only by a restart behind a load balancer (input "target-group-arn"). */
  elbv2(): Promise<ElasticLoadBalancingV2Client>
}

/** The command line calls a few services more, and closes its clients when a command ends. */
export interface AllAwsClients extends AwsClients {
  /** Who the credentials are (doctor). */
  sts(): Promise<STSClient>
  /** A backup's data key. */
  kms(): Promise<KMSClient>
  /** The event history (audit). */
  cloudTrail(): Promise<CloudTrailClient>
  /** The instance's role and the policy simulator (doctor --instance). */
  iam(): Promise<IAMClient>
  /** Closes every client made, so that no open connection keeps a program running. */
  destroy(): void
}

/**
 * Every AWS client the action and the command line use, made in this one place with the retry
 * settings above; each but Secrets Manager is loaded on first use (dynamic import: a run that never
 * calls a service never loads its client). `secretsManager` may be one made already (the command
 * line asks it for the region). `tool` names the caller in every request's user agent.
 */
export function createAwsClients(
  region: string,
  tool: Tool = 'action',
  secretsManager = new SecretsManagerClient({
    region,
    customUserAgent: userAgentOf(tool),
    ...RETRIES.secretsManager
  })
): AllAwsClients {
  const made: { destroy(): void }[] = [secretsManager]
  // One client of a class, made on first use with the region, the user agent and its retries.
  const lazily = <T extends { destroy(): void }>(
    load: () => Promise<new (config: object) => T>,
    retries: keyof typeof RETRIES
  ) => {
    let client: Promise<T> | undefined
    return () =>
      (client ??= load().then(Client => {
        const loaded = new Client({
          region,
          customUserAgent: userAgentOf(tool),
          ...RETRIES[retries]
        })
        made.push(loaded)
        return loaded
      }))
  }
  return {
    secretsManager,
    ec2: lazily(() => import('@aws-sdk/client-ec2').then(m => m.EC2Client), 'ec2'),
    ssm: lazily(() => import('@aws-sdk/client-ssm').then(m => m.SSMClient), 'ssm'),
    s3: lazily(() => import('@aws-sdk/client-s3').then(m => m.S3Client), 's3'),
    elbv2: lazily(
      () =>
        import('@aws-sdk/client-elastic-load-balancing-v2').then(
          m => m.ElasticLoadBalancingV2Client
        ),
      'elbv2'
    ),
    sts: lazily(() => import('@aws-sdk/client-sts').then(m => m.STSClient), 'once'),
    kms: lazily(() => import('@aws-sdk/client-kms').then(m => m.KMSClient), 'once'),
    cloudTrail: lazily(
      () => import('@aws-sdk/client-cloudtrail').then(m => m.CloudTrailClient),
      'cloudTrail'
    ),
    iam: lazily(() => import('@aws-sdk/client-iam').then(m => m.IAMClient), 'once'),
    destroy: () => {
      for (const client of made.splice(0)) client.destroy()
    }
  }
}
