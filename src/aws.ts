import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { ActionError } from './errors.js'

/**
 * The SDK's standard retry strategy retries throttling, 5xx and transient network errors with
 * jittered exponential backoff, and nothing else: exactly the set worth retrying.
 */
const MAX_ATTEMPTS = 5

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
    secretsManager: new SecretsManagerClient({ region, maxAttempts: MAX_ATTEMPTS }),
    ec2: () =>
      (ec2 ??= import('@aws-sdk/client-ec2').then(
        ({ EC2Client }) => new EC2Client({ region, maxAttempts: MAX_ATTEMPTS })
      )),
    ssm: () =>
      (ssm ??= import('@aws-sdk/client-ssm').then(
        ({ SSMClient }) => new SSMClient({ region, maxAttempts: MAX_ATTEMPTS })
      ))
  }
}
