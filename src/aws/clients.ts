import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { SSMClient } from '@aws-sdk/client-ssm'
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
  ssm: { retryMode: 'standard', maxAttempts: 8 }
} as const

/** The region from the environment, or from the secret's ARN when the environment has none. */
export function resolveRegion(env: NodeJS.ProcessEnv, secretId: string): string {
  const fromEnv = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim()
  if (fromEnv) return fromEnv
  const fromArn = /^arn:[^:]+:secretsmanager:([^:]+):/.exec(secretId)?.[1]
  if (fromArn) return fromArn
  throw new ActionError(
    'No AWS region: set "aws-region" on aws-actions/configure-aws-credentials, or AWS_REGION in the ' +
      'job\'s env, or give "deployment-secret-id" as a full ARN.'
  )
}

export interface AwsClients {
  secretsManager: SecretsManagerClient
  /** Loaded on first use: the EC2 client is large, and a secrets-only run never needs it. */
  ec2(): Promise<EC2Client>
  /** Loaded on first use, only by restart: ssm. */
  ssm(): Promise<SSMClient>
}

export function createAwsClients(region: string): AwsClients {
  let ec2: Promise<EC2Client> | undefined
  let ssm: Promise<SSMClient> | undefined
  return {
    secretsManager: new SecretsManagerClient({ region, ...RETRIES.secretsManager }),
    ec2: () =>
      (ec2 ??= import('@aws-sdk/client-ec2').then(
        ({ EC2Client }) => new EC2Client({ region, ...RETRIES.ec2 })
      )),
    ssm: () =>
      (ssm ??= import('@aws-sdk/client-ssm').then(
        ({ SSMClient }) => new SSMClient({ region, ...RETRIES.ssm })
      ))
  }
}
