import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { arnRegion } from '../aws/clients.js'
import shellQuote from 'shell-quote'
import { ActionError } from '../lib/errors.js'
import { awsErrorName, describeAwsError, isKmsDenial, type AwsCallContext } from '../aws/errors.js'

// Errors a secret in another region than the client's shows as: AWS cannot find it there.
const WRONG_REGION_SYMPTOMS = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'InvalidParameterException'
])

/**
 * Turns a failed call on a secret into a message that says what to do, learning what the error
 * leaves out from the secret itself (DescribeSecret): when a secret scheduled for deletion goes,
 * and which KMS key a denied decryption needed. A failed DescribeSecret only makes it vaguer.
 */
export async function explainSecretError(
  client: SecretsManagerClient,
  error: unknown,
  call: AwsCallContext,
  secretId: string
): Promise<ActionError> {
  if (error instanceof ActionError) return error
  const name = awsErrorName(error)
  const message = (error as { message?: string }).message ?? ''

  const secretRegion = arnRegion(secretId)
  const usedRegion = await client.config.region()
  if (secretRegion && secretRegion !== usedRegion && WRONG_REGION_SYMPTOMS.has(name)) {
    return new ActionError(
      `The ${call.subject} is an ARN in region ${secretRegion}, but the job's region is ${usedRegion} ` +
        `(AWS_REGION), and ${usedRegion} was used: ${call.action} answered ${name}. Set aws-region: ${secretRegion} ` +
        `on aws-actions/configure-aws-credentials (or AWS_REGION), or use a replica of the secret in ${usedRegion}.`
    )
  }

  if (name === 'InvalidRequestException' && /marked for deletion/i.test(message)) {
    const description = await describe(client, secretId)
    const deleted = description?.DeletedDate
    const when = deleted
      ? `will be deleted for good on ${deleted.toISOString()}`
      : `will be deleted for good at the end of its recovery window (${description ? 'DescribeSecret did not say when' : 'DescribeSecret, which tells when, was not allowed'})`
    return new ActionError(
      `The ${call.subject} is scheduled for deletion and ${when}; until then it cannot be read or written. ` +
        `If it is still needed, restore it: aws secretsmanager restore-secret --secret-id ${shellQuote.quote([secretId])}`
    )
  }

  if (isKmsDenial(error)) {
    const description = await describe(client, secretId)
    const kmsKeyId = description
      ? (description.KmsKeyId ?? 'aws/secretsmanager (the default key)')
      : undefined
    return describeAwsError(error, { ...call, kmsKeyId })
  }
  return describeAwsError(error, call)
}

async function describe(client: SecretsManagerClient, secretId: string) {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: secretId }))
  } catch {
    return undefined
  }
}
