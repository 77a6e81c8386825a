import {
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient
} from '@aws-sdk/client-secrets-manager'
import { randomUUID } from 'node:crypto'
import * as core from '@actions/core'
import { StoppedError, stopRequest, throwIfStopped } from './cancel.js'
import { ActionError, describeAwsError } from './errors.js'
import { readJsonSecret, secretCall, type JsonSecret } from './secrets.js'

/** The label a new version carries until it is made current; at most one version holds it. */
export const PENDING_STAGE = 'SECRETS-DEPLOY-PENDING'
const CURRENT_STAGE = 'AWSCURRENT'
const MAX_MERGES = 5

export interface WriteBackResult {
  changed: boolean
  /** The version that is current after the write. */
  versionId: string
}

/**
 * Sets one key of the deployment secret without losing a concurrent write. Secrets Manager has no
 * conditional put, but moving AWSCURRENT with UpdateSecretVersionStage names the version it is
 * taken from, and fails when another writer has moved it since: a compare-and-swap. So the new
 * version is put under a label of its own, then swapped in; if the swap fails, the current
 * version is read again, the one key set on it, and the swap tried again.
 *
 * When `signal` aborts, it stops where no half-done write is left: before a version is put, or,
 * once one is, after the swap (which goes on: the deploy it records has happened) or after undoing
 * the version when a concurrent writer refused the swap. AWSCURRENT moves in one call or not at all.
 */
export async function writeKeyBack(
  client: SecretsManagerClient,
  readSecret: JsonSecret,
  key: string,
  value: string,
  maskExclude: readonly string[],
  signal?: AbortSignal
): Promise<WriteBackResult> {
  let base = readSecret
  for (let merge = 0; merge < MAX_MERGES; merge++) {
    if (base.values[key] === value) return { changed: false, versionId: base.versionId }
    throwIfStopped(signal)
    const values = { ...base.values, [key]: value }
    const versionId = await putPending(client, base.id, values)
    const refused = await swapCurrent(client, base, versionId)
    if (!refused) {
      await clearPending(client, base.id, versionId)
      return { changed: true, versionId }
    }
    const current = await readJsonSecret(client, base.id, 'deployment', maskExclude)
    if (current.versionId === versionId) {
      // The swap went through, but its answer was lost and the SDK's retry was refused.
      await clearPending(client, base.id, versionId)
      return { changed: true, versionId }
    }
    if (current.versionId === base.versionId) throw unswapped(refused, base.id, versionId)
    if (signal?.aborted) {
      await clearPending(client, base.id, versionId)
      throw new StoppedError(
        stopRequest(signal),
        `another writer changed the deployment secret "${base.id}" during the write-back, so this run's ` +
          `version ${versionId} was given up (never current, its label removed): "${key}" does not hold the new address`
      )
    }
    core.info(
      `The deployment secret "${base.id}" changed while this run deployed; merging "${key}" into the new version.`
    )
    base = current
  }
  throw new ActionError(
    `The deployment secret "${readSecret.id}" kept changing while this run tried to set "${key}" (${MAX_MERGES} tries); ` +
      'nothing was overwritten. Re-run the job once the other writers are done.'
  )
}

async function putPending(
  client: SecretsManagerClient,
  secretId: string,
  values: Record<string, string>
): Promise<string> {
  const versionId = randomUUID()
  try {
    await client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: JSON.stringify(values),
        ClientRequestToken: versionId,
        VersionStages: [PENDING_STAGE]
      })
    )
  } catch (error) {
    throw describeAwsError(error, secretCall('PutSecretValue', 'deployment', secretId))
  }
  return versionId
}

/**
 * Moves AWSCURRENT from the version this run read to the new one. Returns the refusal when the
 * service says the label is elsewhere, which is how a concurrent writer shows; throws otherwise.
 */
async function swapCurrent(
  client: SecretsManagerClient,
  base: JsonSecret,
  versionId: string
): Promise<unknown> {
  try {
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: base.id,
        VersionStage: CURRENT_STAGE,
        MoveToVersionId: versionId,
        RemoveFromVersionId: base.versionId
      })
    )
    return undefined
  } catch (error) {
    if ((error as { name?: string }).name === 'InvalidParameterException') return error
    throw unswapped(error, base.id, versionId)
  }
}

function unswapped(error: unknown, secretId: string, versionId: string): ActionError {
  return describeAwsError(error, {
    ...secretCall('UpdateSecretVersionStage', 'deployment', secretId),
    subject: `deployment secret "${secretId}" (version ${versionId} was stored but not made current: the secret is unchanged)`
  })
}

/**
 * Takes the pending label off the version that is now current. It may already have moved on to a
 * concurrent writer's version, and a leftover label is harmless: no need to warn.
 */
async function clearPending(
  client: SecretsManagerClient,
  secretId: string,
  versionId: string
): Promise<void> {
  try {
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: PENDING_STAGE,
        RemoveFromVersionId: versionId
      })
    )
  } catch (error) {
    core.info(
      `Could not remove the label ${PENDING_STAGE} from version ${versionId} of "${secretId}": ${describeAwsError(error, secretCall('UpdateSecretVersionStage', 'deployment', secretId)).message}`
    )
  }
}
