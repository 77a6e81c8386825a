import {
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient
} from '@aws-sdk/client-secrets-manager'
import { randomUUID } from 'node:crypto'
import { StoppedError, stopRequest, throwIfStopped } from '../lib/cancel.js'
import { ActionError } from '../lib/errors.js'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import { shownVersionId } from '../lib/log.js'
import {
  readJsonSecret,
  secretCall,
  secretSubject,
  type JsonSecret,
  type SecretRole
} from './read.js'
import type { Logger } from '../lib/log.js'

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
 * A change to a secret's keys. `set` and `unset` are applied to whichever version is current when
 * the swap happens, so they merge with a concurrent edit. `replace` (rollback, restore) stands for
 * the whole object: applied to a version it did not see, it would drop that version's edit, so a
 * concurrent change makes it fail instead. `revert` undoes an earlier write key by key: each key
 * goes back to `to` (or is removed, when `to` is undefined) only where it still holds `from`, the
 * value that write put there, so a concurrent edit of that key is kept too. `add` (import) sets only the keys the current
 * version lacks, so a key another writer gave a value meanwhile keeps theirs.
 */
export type SecretEdit =
  | { set: Record<string, string>; unset?: readonly string[] }
  | { unset: readonly string[] }
  | { replace: Record<string, string> }
  | { revert: Record<string, { from: string; to: string | undefined }> }
  | { add: Record<string, string> }

/** Who is writing, in the words its messages use. */
export interface EditContext {
  role: SecretRole
  /** What the edit does, for messages: `set "ec2_host"`. */
  what: string
  /** What is merged into a newer version: `"ec2_host"`. */
  merged: string
  /** `this run`, `this command`. */
  who: string
  /** What it was doing while the secret changed: `deployed`. */
  during: string
  /** What to do once the other writers are done: `Re-run the job`. */
  again: string
  /** Says that a concurrent change was merged (the action's log, the command line's stderr). */
  note: (message: string) => void
  /** Reads the current version again after a refused swap. */
  reread: () => Promise<JsonSecret>
  /** A stop (cancellation): no new version is put after it, and one already put is not left half-done. */
  signal?: AbortSignal
}

/** The keys after the edit, or undefined when the edit changes nothing. */
export function applyEdit(
  values: Record<string, string>,
  edit: SecretEdit
): Record<string, string> | undefined {
  let next: Record<string, string>
  if ('replace' in edit) {
    next = { ...edit.replace }
  } else if ('revert' in edit) {
    next = { ...values }
    for (const [key, { from, to }] of Object.entries(edit.revert)) {
      if (values[key] !== from) continue
      if (to === undefined) delete next[key]
      // A computed key in a literal defines the property, whatever its name ("__proto__").
      else next = { ...next, [key]: to }
    }
  } else if ('add' in edit) {
    next = { ...values }
    for (const [key, value] of Object.entries(edit.add))
      if (!Object.hasOwn(next, key)) next = { ...next, [key]: value }
  } else {
    next = { ...values, ...('set' in edit ? edit.set : {}) }
    for (const key of edit.unset ?? []) delete next[key]
  }
  const same =
    Object.keys(next).length === Object.keys(values).length &&
    Object.entries(next).every(([key, value]) => values[key] === value)
  return same ? undefined : next
}

/**
 * Writes an edit to a secret without losing a concurrent write. Secrets Manager has no conditional
 * put, but moving AWSCURRENT with UpdateSecretVersionStage names the version it is taken from, and
 * fails when another writer has moved it since: a compare-and-swap. So the new version is put
 * under a label of its own, then swapped in; if the swap fails, the current version is read
 * again, the edit applied to it, and the swap tried again.
 *
 * When `context.signal` aborts, it stops where no half-done write is left: before a version is
 * put, or, once one is, after the swap (which goes on: the deploy it records has happened) or
 * after undoing the version when a concurrent writer refused the swap. AWSCURRENT moves in one
 * call or not at all.
 */
export async function writeEdit(
  client: SecretsManagerClient,
  readSecret: JsonSecret,
  edit: SecretEdit,
  context: EditContext
): Promise<WriteBackResult> {
  const subject = secretSubject(context.role, readSecret.id)
  let base = readSecret
  for (let merge = 0; merge < MAX_MERGES; merge++) {
    const values = applyEdit(base.values, edit)
    if (!values) return { changed: false, versionId: base.versionId }
    throwIfStopped(context.signal)
    const versionId = await putPending(client, base.id, values, context.role)
    const refused = await swapCurrent(client, base, versionId, context.role)
    if (!refused) {
      await clearPending(client, base.id, versionId, context)
      return { changed: true, versionId }
    }
    const current = await context.reread()
    if (current.versionId === versionId) {
      // The swap went through, but its answer was lost and the SDK's retry was refused.
      await clearPending(client, base.id, versionId, context)
      return { changed: true, versionId }
    }
    if (current.versionId === base.versionId)
      throw unswapped(refused, base.id, versionId, context.role)
    if (context.signal?.aborted) {
      await clearPending(client, base.id, versionId, context)
      throw new StoppedError(
        stopRequest(context.signal),
        `another writer changed the ${subject} during the write, so ${context.who}'s version ${versionId} was ` +
          `given up (never current, its label removed): it did not ${context.what}`
      )
    }
    if ('replace' in edit) {
      throw new ActionError(
        `The ${subject} changed (now version ${shownVersionId(current.versionId)}) after ${context.who} read version ` +
          `${shownVersionId(base.versionId)}; nothing was written, to keep that change. Check the new version, then ${context.again.replace(/^./, c => c.toLowerCase())}.`
      )
    }
    context.note(
      `The ${subject} changed while ${context.who} ${context.during}; merging ${context.merged} into the new version.`
    )
    base = current
  }
  throw new ActionError(
    `The ${subject} kept changing while ${context.who} tried to ${context.what} (${MAX_MERGES} tries); ` +
      `nothing was overwritten. ${context.again} once the other writers are done.`
  )
}

/** Sets one key of the deployment secret (the instance address) with writeEdit. */
export async function writeKeyBack(
  client: SecretsManagerClient,
  readSecret: JsonSecret,
  key: string,
  value: string,
  maskExclude: readonly string[],
  log: Logger,
  signal?: AbortSignal
): Promise<WriteBackResult> {
  return writeEdit(
    client,
    readSecret,
    { set: { [key]: value } },
    {
      role: 'deployment',
      what: `set "${key}"`,
      merged: `"${key}"`,
      who: 'this run',
      during: 'deployed',
      again: 'Re-run the job',
      note: message => log.info(message),
      reread: () => readJsonSecret(client, readSecret.id, 'deployment', maskExclude),
      signal
    }
  )
}

async function putPending(
  client: SecretsManagerClient,
  secretId: string,
  values: Record<string, string>,
  role: SecretRole
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
    throw describeAwsError(error, secretCall('PutSecretValue', role, secretId))
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
  versionId: string,
  role: SecretRole
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
    if (awsErrorName(error) === 'InvalidParameterException') return error
    throw unswapped(error, base.id, versionId, role)
  }
}

function unswapped(
  error: unknown,
  secretId: string,
  versionId: string,
  role: SecretRole
): ActionError {
  return describeAwsError(error, {
    ...secretCall('UpdateSecretVersionStage', role, secretId),
    subject: `${secretSubject(role, secretId)} (version ${versionId} was stored but not made current: the secret is unchanged)`
  })
}

/**
 * Takes the pending label off the version that is now current. It may already have moved on to a
 * concurrent writer's version, and a leftover label is harmless: no need to warn.
 */
async function clearPending(
  client: SecretsManagerClient,
  secretId: string,
  versionId: string,
  context: EditContext
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
    context.note(
      `Could not remove the label ${PENDING_STAGE} from version ${versionId} of "${secretId}": ${describeAwsError(error, secretCall('UpdateSecretVersionStage', context.role, secretId)).message}`
    )
  }
}
