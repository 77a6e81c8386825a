import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'
import { capitalize } from '../lib/text.js'

// An AWS call that failed, told as what to do: the permission and resource it needs, the region,
// the credentials, a service that is having a bad day (after the SDK's own retries).

/** What an AWS call was doing, so that a failure can say which permission or resource it needs. */
export interface AwsCallContext {
  /** IAM action, e.g. `secretsmanager:GetSecretValue`. */
  action: string
  /** What the call was about, in words: `secret "FastAPIDeploymentSecrets"`. */
  subject: string
  /** IAM resource the action needs, e.g. `arn:aws:secretsmanager:*:*:secret:Name-*`. */
  resource: string
  /** What a person should check when the resource is missing. */
  notFoundHint?: string
  /** The KMS key the resource is encrypted with, when known (named in a KMS denial). */
  kmsKeyId?: string
}

interface AwsLikeError {
  name?: string
  message?: string
  Code?: string
  code?: string
  $metadata?: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number }
}

// Answers the SDK's retry strategy retries; an error with one of them means its retries ran out.
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown'
])
const SERVICE_FAILURE = new Set([
  'InternalServiceError',
  'InternalServiceErrorException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable'
])
const NETWORK_FAILURE = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'TimeoutError'
])
const KMS_FAILURE = new Set(['DecryptionFailure', 'EncryptionFailure', 'KMSAccessDeniedException'])

/** The AWS error's name (its code), as the SDK gives it. */
export function awsErrorName(error: unknown): string {
  const err = (error ?? {}) as AwsLikeError
  return err.name ?? err.Code ?? 'Error'
}

/** Whether AWS refused the call because of its KMS key (also the "Access to KMS" denial). */
export function isKmsDenial(error: unknown): boolean {
  const name = awsErrorName(error)
  const message = (error as AwsLikeError | undefined)?.message ?? ''
  return KMS_FAILURE.has(name) || (ACCESS_DENIED.has(name) && /\bKMS\b/.test(message))
}

/** "after 5 attempts over 7.2 s", from what the SDK's retry strategy recorded. */
function attemptsDone(err: AwsLikeError): string {
  const attempts = err.$metadata?.attempts
  if (!attempts || attempts < 2) return ''
  const waited = (err.$metadata?.totalRetryDelay ?? 0) / 1000
  return ` after ${attempts} attempts over ${waited.toFixed(1)} s of backoff`
}

/** AWS was busy, failing or out of reach, and the SDK's retries ran out; undefined otherwise. */
function degradedAws(
  err: AwsLikeError,
  name: string,
  call: AwsCallContext
): ActionError | undefined {
  const status = err.$metadata?.httpStatusCode
  const done = attemptsDone(err)
  const shownName = quoteUntrusted(name, 100)
  const retryLater = "The SDK's own retries ran out: re-run the job later."
  if (THROTTLING.has(name) || status === 429) {
    const burst = call.action.endsWith(':GetSecretValue')
      ? ' If many jobs read this secret at once, read it once per workflow and pass it on (a caching step), ' +
        'or run fewer jobs in parallel (strategy.max-parallel, a concurrency group).'
      : ''
    return new ActionError(
      `AWS throttled ${call.action} on ${call.subject} (${shownName})${done}. ${retryLater}${burst}`
    )
  }
  if (SERVICE_FAILURE.has(name) || (status !== undefined && status >= 500)) {
    return new ActionError(
      `AWS failed ${call.action} on ${call.subject} (${shownName}${status ? `, HTTP ${status}` : ''})${done}` +
        `${err.message ? `: ${quoteUntrusted(err.message, 512)}` : ''}. This is an error on AWS's side, not in the ` +
        `inputs. ${retryLater} If it goes on, check the AWS Health Dashboard for the region.`
    )
  }
  const code = err.code ?? name
  if (NETWORK_FAILURE.has(code)) {
    return new ActionError(
      `Could not reach AWS for ${call.action} on ${call.subject} (${code})${done}. Check the runner's network ` +
        `(proxy, firewall, DNS); if it was a passing fault, re-run the job later.`
    )
  }
  return undefined
}

const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation'])
const NO_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredTokenException',
  'ExpiredToken'
])
const INVALID_CREDENTIALS = new Set([
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AuthFailure'
])

/** Turns an AWS SDK error into an ActionError that says what to do about it. */
export function describeAwsError(error: unknown, call: AwsCallContext): ActionError {
  if (error instanceof ActionError) return error
  const err = (error ?? {}) as AwsLikeError
  // The error's name and message are the service's answer: untrusted text, like all of it.
  const name = awsErrorName(error)
  const shownName = quoteUntrusted(name, 100)
  const detail = err.message ? `: ${quoteUntrusted(err.message, 512)}` : ''
  if (isKmsDenial(error)) {
    const kms = call.action.endsWith('PutSecretValue')
      ? '"kms:GenerateDataKey" and "kms:Decrypt"'
      : '"kms:Decrypt"'
    const key = call.kmsKeyId ? `KMS key ${quoteUntrusted(call.kmsKeyId, 300)}` : "secret's KMS key"
    return new ActionError(
      `${capitalize(call.subject)}: ${call.action} failed with ${shownName}${detail}. Allow ${kms} on the ` +
        `${key} for the role the workflow runs as (in its IAM policy and, for a customer managed key, the key policy).`
    )
  }
  const degraded = degradedAws(err, name, call)
  if (degraded) return degraded
  if (ACCESS_DENIED.has(name)) {
    return new ActionError(
      `Access denied: ${call.action} on ${call.subject}. Allow "${call.action}" on "${call.resource}" ` +
        `in the policy of the role or user the workflow runs as (see docs/iam-policy.md of secrets-deploy-action).`
    )
  }
  if (name === 'ResourceNotFoundException' || name === 'NotFoundException') {
    return new ActionError(
      `${capitalize(call.subject)} was not found (${call.action}). ${call.notFoundHint ?? ''}`.trim()
    )
  }
  if (NO_CREDENTIALS.has(name)) {
    return new ActionError(
      `No usable AWS credentials for ${call.action} on ${call.subject}${detail}. Run ` +
        `aws-actions/configure-aws-credentials before this step (OIDC role or access keys).`
    )
  }
  if (INVALID_CREDENTIALS.has(name)) {
    return new ActionError(
      `AWS rejected the credentials for ${call.action} on ${call.subject} (${shownName}). Check the ` +
        `access keys or the role set by aws-actions/configure-aws-credentials, and the region.`
    )
  }
  const status = err.$metadata?.httpStatusCode
  return new ActionError(
    `${call.action} on ${call.subject} failed (${shownName}${status ? `, HTTP ${status}` : ''})${detail}`
  )
}
