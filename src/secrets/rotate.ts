import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { ActionError } from '../lib/errors.js'
import { describeAwsError } from '../aws/errors.js'
import { quoteUntrusted, shownVersionId, unmaskableReason, type Logger } from '../lib/log.js'
import { writeEdit, type EditContext, type WriteBackResult } from './compare-and-swap.js'
import { randomPassword, type PasswordRules } from './random-password.js'
import { readJsonSecret, secretCall, type JsonSecret } from './read.js'

// Input "rotate": new values for keys of the app secret, written with the compare-and-swap, and
// put back the same way when the service does not come back with them.

/** Which keys to regenerate, and how (GetRandomPassword's rules). */
export interface RotateRequest {
  keys: readonly string[]
  rules: PasswordRules
  /** Input "rotate-create": a key the secret does not have yet is added. */
  create: boolean
}

/** What a rotation wrote: enough to undo exactly that and nothing else. */
export interface Rotation {
  secretId: string
  keys: readonly string[]
  /** The new values, key by key (masked). */
  written: Record<string, string>
  /** What each key held in the version this run read; undefined for a key it created. */
  previous: Record<string, string | undefined>
  /** The version current after the rotation. */
  versionId: string
}

/** The keys as messages name them: `"jwt_secret", "generated_password"`. */
export function keyList(keys: readonly string[]): string {
  return keys.map(key => `"${quoteUntrusted(key, 256)}"`).join(', ')
}

/**
 * Refuses, before anything changes, a rotation that names keys the app secret lacks (unless
 * `create`), or a secret that Secrets Manager rotates itself: its Lambda and this run would write
 * over each other, and the service would load whichever came last.
 */
export async function checkRotation(
  client: SecretsManagerClient,
  app: JsonSecret,
  request: RotateRequest
): Promise<void> {
  const missing = request.keys.filter(key => !Object.hasOwn(app.values, key))
  if (missing.length > 0 && !request.create) {
    throw new ActionError(
      `Input "rotate" names ${keyList(missing)}, which the app secret "${app.id}" (version ${shownVersionId(app.versionId)}) ` +
        'does not have; nothing was changed. Fix the key names, or set rotate-create: true to add them.'
    )
  }
  let rotationEnabled: boolean | undefined
  try {
    rotationEnabled = (await client.send(new DescribeSecretCommand({ SecretId: app.id })))
      .RotationEnabled
  } catch (error) {
    throw describeAwsError(error, secretCall('DescribeSecret', 'app', app.id))
  }
  if (rotationEnabled) {
    throw new ActionError(
      `The app secret "${app.id}" has Secrets Manager's own rotation turned on: its rotation function and ` +
        'input "rotate" would overwrite each other. Nothing was changed. Remove "rotate", or turn the ' +
        'secret\'s rotation off ("aws secretsmanager cancel-rotate-secret").'
    )
  }
}

/** How the rotation writes with the compare-and-swap, in the action's words. */
function rotationContext(
  client: SecretsManagerClient,
  secretId: string,
  log: Logger,
  doing: { what: string; merged: string; during: string },
  signal?: AbortSignal
): EditContext {
  return {
    role: 'app',
    ...doing,
    who: 'this run',
    again: 'Re-run the job',
    note: message => log.info(message),
    reread: () => readJsonSecret(client, secretId, 'app'),
    signal
  }
}

/**
 * New values for the requested keys (each masked as soon as it exists), written as one new
 * version that keeps every other key and any concurrent edit.
 */
export async function rotateKeys(
  client: SecretsManagerClient,
  app: JsonSecret,
  request: RotateRequest,
  log: Logger,
  signal?: AbortSignal
): Promise<Rotation> {
  const written: Record<string, string> = {}
  const previous: Record<string, string | undefined> = {}
  for (const key of request.keys) {
    const value = await randomPassword(
      client,
      request.rules,
      `a new value for "${quoteUntrusted(key, 256)}"`
    )
    const unmaskable = unmaskableReason(value)
    if (unmaskable) {
      throw new ActionError(
        `secretsmanager:GetRandomPassword returned a new value for "${quoteUntrusted(key, 256)}" that the log ` +
          `could not hide (${unmaskable}); nothing was changed. Exclude fewer characters, or raise rotate-length.`
      )
    }
    written[key] = value
    previous[key] = Object.hasOwn(app.values, key) ? app.values[key] : undefined
  }
  const keys = keyList(request.keys)
  const result = await writeEdit(
    client,
    app,
    { set: written },
    rotationContext(
      client,
      app.id,
      log,
      { what: `rotate ${keys}`, merged: `the new ${keys}`, during: 'rotated keys' },
      signal
    )
  )
  return { secretId: app.id, keys: request.keys, written, previous, versionId: result.versionId }
}

/** How an undo went: the version current after it, and the keys left as another writer set them. */
export interface UndoneRotation extends WriteBackResult {
  kept: string[]
}

/**
 * Puts the rotated keys back to the values they had, each only where it still holds the value
 * this run wrote: a concurrent edit, of those keys or others, is kept. Not stoppable: a stop
 * during the restart is no reason to leave the service's secret half-undone.
 */
export async function undoRotation(
  client: SecretsManagerClient,
  rotation: Rotation,
  log: Logger
): Promise<UndoneRotation> {
  const current = await readJsonSecret(client, rotation.secretId, 'app')
  const revert = Object.fromEntries(
    rotation.keys.map(key => [key, { from: rotation.written[key], to: rotation.previous[key] }])
  )
  const kept = rotation.keys.filter(key => current.values[key] !== rotation.written[key])
  const keys = keyList(rotation.keys)
  const result = await writeEdit(
    client,
    current,
    { revert },
    rotationContext(client, rotation.secretId, log, {
      what: `put back the old ${keys}`,
      merged: `the old ${keys}`,
      during: 'undid the rotation'
    })
  )
  return { ...result, kept }
}
