import { capitalize } from './text.js'

/**
 * An error whose message is written for the person reading the workflow log: it names the input,
 * the secret or the AWS call, says what is wrong and what to do, and never contains a secret value.
 */
export class ActionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ActionError'
  }
}

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
}

interface AwsLikeError {
  name?: string
  message?: string
  Code?: string
  $metadata?: { httpStatusCode?: number }
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
  const name = err.name ?? err.Code ?? 'Error'
  const detail = err.message ? `: ${err.message}` : ''
  if (ACCESS_DENIED.has(name)) {
    return new ActionError(
      `Access denied: ${call.action} on ${call.subject}. Allow "${call.action}" on "${call.resource}" ` +
        `in the policy of the role or user the workflow runs as (see "IAM policy" in the README).`
    )
  }
  if (name === 'ResourceNotFoundException') {
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
      `AWS rejected the credentials for ${call.action} on ${call.subject} (${name}). Check the ` +
        `access keys or the role set by aws-actions/configure-aws-credentials, and the region.`
    )
  }
  if (
    name === 'DecryptionFailure' ||
    name === 'EncryptionFailure' ||
    name === 'KMSAccessDeniedException'
  ) {
    const kms = call.action.endsWith('PutSecretValue')
      ? '"kms:GenerateDataKey" and "kms:Decrypt"'
      : '"kms:Decrypt"'
    return new ActionError(
      `${capitalize(call.subject)}: ${call.action} failed with ${name}. Allow ${kms} on the ` +
        `secret's KMS key for the role the workflow runs as.`
    )
  }
  const status = err.$metadata?.httpStatusCode
  return new ActionError(
    `${call.action} on ${call.subject} failed (${name}${status ? `, HTTP ${status}` : ''})${detail}`
  )
}

/** The message for core.setFailed: ActionErrors as written, anything else marked as unexpected. */
export function failureMessage(error: unknown): string {
  if (error instanceof ActionError) return error.message
  const message = error instanceof Error ? error.message : String(error)
  return `Unexpected error: ${message}. This is a bug in secrets-deploy-action; please report it.`
}
