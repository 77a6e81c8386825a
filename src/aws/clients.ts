import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import type { KMSClient } from '@aws-sdk/client-kms'
import type { SSMClient } from '@aws-sdk/client-ssm'
import type { STSClient } from '@aws-sdk/client-sts'
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
  // A rolling restart polls target health for minutes, like SSM.
  elbv2: { retryMode: 'standard', maxAttempts: 8 },
  // The command line's one-off calls: who the credentials are, a backup's data key.
  once: { retryMode: 'standard', maxAttempts: 5 }
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

export interface AwsClients {
  secretsManager: SecretsManagerClient
  /** Loaded on first use: the EC2 client is large, and a secrets-only run never needs it. */
  ec2(): Promise<EC2Client>
  /** Loaded on first use, only by restart: ssm. */
  ssm(): Promise<SSMClient>
  /** Loaded on first use, only by a restart behind a load balancer (input "target-group-arn"). */
  elbv2(): Promise<ElasticLoadBalancingV2Client>
}

/** The command line calls a few services more, and closes its clients when a command ends. */
export interface AllAwsClients extends AwsClients {
  /** Who the credentials are (doctor). */
  sts(): Promise<STSClient>
  /** A backup's data key. */
  kms(): Promise<KMSClient>
  /** Closes every client made, so that no open connection keeps a program running. */
  destroy(): void
}

/**
 * Every AWS client the action and the command line use, made in this one place with the retry
 * settings above; each but Secrets Manager is loaded on first use (dynamic import: a run that never
 * calls a service never loads its client). `secretsManager` may be one made already (the command
 * line asks it for the region).
 */
export function createAwsClients(
  region: string,
  secretsManager = new SecretsManagerClient({ region, ...RETRIES.secretsManager })
): AllAwsClients {
  const made: { destroy(): void }[] = [secretsManager]
  const lazily = <T extends { destroy(): void }>(load: () => Promise<T>) => {
    let client: Promise<T> | undefined
    return () =>
      (client ??= load().then(loaded => {
        made.push(loaded)
        return loaded
      }))
  }
  return {
    secretsManager,
    ec2: lazily(() =>
      import('@aws-sdk/client-ec2').then(
        ({ EC2Client }) => new EC2Client({ region, ...RETRIES.ec2 })
      )
    ),
    ssm: lazily(() =>
      import('@aws-sdk/client-ssm').then(
        ({ SSMClient }) => new SSMClient({ region, ...RETRIES.ssm })
      )
    ),
    elbv2: lazily(() =>
      import('@aws-sdk/client-elastic-load-balancing-v2').then(
        ({ ElasticLoadBalancingV2Client }) =>
          new ElasticLoadBalancingV2Client({ region, ...RETRIES.elbv2 })
      )
    ),
    sts: lazily(() =>
      import('@aws-sdk/client-sts').then(
        ({ STSClient }) => new STSClient({ region, ...RETRIES.once })
      )
    ),
    kms: lazily(() =>
      import('@aws-sdk/client-kms').then(
        ({ KMSClient }) => new KMSClient({ region, ...RETRIES.once })
      )
    ),
    destroy: () => {
      for (const client of made.splice(0)) client.destroy()
    }
  }
}
