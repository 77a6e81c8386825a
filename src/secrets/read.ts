import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { ActionError } from '../lib/errors.js'
import { type AwsCallContext } from '../aws/errors.js'
import {
  actionLogger,
  maskSecret,
  quoteUntrusted,
  unmaskableReason,
  type Logger
} from '../lib/log.js'
import { explainSecretError } from './errors.js'

/** A JSON secret as read: which version, and its keys (every value a string once validated). */
export interface JsonSecret {
  /** The id the user gave (name or ARN); what messages name. */
  id: string
  arn: string
  versionId: string
  values: Record<string, string>
}

/** Which secret a message is about: one of the action's two, or any other the command line names. */
export type SecretRole = 'deployment' | 'app' | 'other'

/** `deployment secret "Name"`, or `secret "Name"` for any other. */
export function secretSubject(role: SecretRole, secretId: string): string {
  return role === 'other' ? `secret "${secretId}"` : `${role} secret "${secretId}"`
}

const DEFAULT_NOT_FOUND_HINT: Record<SecretRole, string> = {
  deployment: 'Check input "deployment-secret-id" and the region (AWS_REGION); ',
  app: 'Check input "app-secret-id" and the region (AWS_REGION); ',
  other: 'Check the secret id and the region (AWS_REGION); '
}
const LIST_SECRETS_HINT =
  '"aws secretsmanager list-secrets" lists the secrets the credentials can see.'

/** Where reading a secret warns, and what its warnings tell the reader to do, in their program's words. */
export interface SecretLog {
  logger: Logger
  /** What to do about a value too short or too common to mask. */
  unmaskedAdvice: string
}

/** The action's: warnings as annotations, naming its inputs. */
export const ACTION_SECRET_LOG: SecretLog = {
  logger: actionLogger,
  unmaskedAdvice:
    'If the value is not secret, add the key to input "mask-exclude"; if it is, store a real secret ' +
    '(at least 4 characters, not a number or boolean).'
}

/** What to read and what to say when it is missing (the command line names its own options). */
export interface ReadOptions {
  versionId?: string
  versionStage?: string
  notFoundHint?: string
  /** The action's log by default. */
  log?: SecretLog
}

/** The IAM resource pattern for a secret id: an ARN as is, a name with the random suffix AWS adds. */
export function secretResource(secretId: string): string {
  return secretId.startsWith('arn:') ? secretId : `arn:aws:secretsmanager:*:*:secret:${secretId}-*`
}

export function secretCall(
  action: string,
  role: SecretRole,
  secretId: string,
  notFoundHint = DEFAULT_NOT_FOUND_HINT[role] + LIST_SECRETS_HINT
): AwsCallContext {
  return {
    action: `secretsmanager:${action}`,
    subject: secretSubject(role, secretId),
    resource: secretResource(secretId),
    notFoundHint
  }
}

/**
 * Reads a secret that holds a JSON object of strings. Every string value is registered for masking
 * as soon as it is parsed, before validation can fail, so that nothing later can print it.
 */
export async function readJsonSecret(
  client: SecretsManagerClient,
  secretId: string,
  role: SecretRole,
  maskExclude: readonly string[] = [],
  options: ReadOptions = {}
): Promise<JsonSecret> {
  const call = secretCall('GetSecretValue', role, secretId, options.notFoundHint)
  let response
  try {
    response = await client.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        VersionId: options.versionId,
        VersionStage: options.versionStage
      })
    )
  } catch (error) {
    throw await explainSecretError(client, error, call, secretId)
  }
  const label = `The ${secretSubject(role, secretId)}`
  if (response.SecretString === undefined) {
    throw new ActionError(
      `${label} holds binary data; store a JSON object of strings as its secret string.`
    )
  }
  const values = parseJsonObjectOfStrings(response.SecretString, label, maskExclude, options.log)
  return {
    id: secretId,
    arn: response.ARN ?? secretId,
    versionId: response.VersionId ?? '',
    values
  }
}

/** Parses and checks a secret string; masks every string value first. Messages never quote values. */
export function parseJsonObjectOfStrings(
  secretString: string,
  label: string,
  maskExclude: readonly string[],
  log: SecretLog = ACTION_SECRET_LOG
): Record<string, string> {
  let parsed: unknown
  try {
    parsed = JSON.parse(secretString)
  } catch {
    // JSON.parse's own message quotes the text, which is the secret: never pass it on.
    maskSecret(secretString)
    throw new ActionError(
      `${label} is not valid JSON. Store a JSON object such as {"ec2_host": "", "ec2_user": "ec2-user"}.`
    )
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    maskSecret(secretString)
    const kind =
      parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`
    throw new ActionError(`${label} is ${kind}, not a JSON object of keys and string values.`)
  }
  const entries = Object.entries(parsed as Record<string, unknown>)
  const unmasked: string[] = []
  for (const [key, value] of entries) {
    if (maskExclude.includes(key)) continue
    if (typeof value === 'string') {
      maskSecret(value)
      const reason = unmaskableReason(value)
      if (reason) unmasked.push(`"${quoteUntrusted(key, 200)}" (${reason})`)
    } else if (value !== null && typeof value !== 'boolean') maskSecret(JSON.stringify(value))
  }
  if (unmasked.length > 0) warnUnmasked(label, unmasked, log)
  for (const [key, value] of entries) {
    if (typeof value !== 'string') {
      const kind =
        value === null
          ? 'null'
          : Array.isArray(value)
            ? 'an array'
            : typeof value === 'object'
              ? 'an object'
              : `a ${typeof value}`
      throw new ActionError(
        `Key "${quoteUntrusted(key, 200)}" of ${label.replace(/^The /, 'the ')} is ${kind}; every value must be a string. ` +
          'Store it as a JSON string (for example "22" instead of 22).'
      )
    }
  }
  return parsed as Record<string, string>
}

/**
 * A value too short or too common to mask would hide that text all over the log and make GitHub
 * drop every job output that contains it; the key is named, never the value.
 */
function warnUnmasked(label: string, keys: string[], log: SecretLog): void {
  log.logger.warning(
    `${label} has ${keys.length > 1 ? 'keys' : 'key'} ${keys.join(', ')} whose value is not masked in the log: ` +
      `masking it would hide that text everywhere and drop job outputs that contain it. ${log.unmaskedAdvice}`
  )
}

/** Checks that each required key is present and non-empty; names every missing key at once. */
export function requireKeys(
  secret: JsonSecret,
  required: readonly string[],
  role: SecretRole,
  why: string
): void {
  const missing = required.filter(key => (secret.values[key] ?? '').trim() === '')
  if (missing.length === 0) return
  const list = missing.map(key => `"${key}"`).join(', ')
  throw new ActionError(
    `The ${secretSubject(role, secret.id)} has no value for ${list} (${why}). Set ${missing.length > 1 ? 'them' : 'it'} ` +
      `in Secrets Manager, e.g. aws secretsmanager put-secret-value, or the console's "Edit" on the secret.`
  )
}
