import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager'
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto'
import { ActionError } from '../lib/errors.js'
import { describeAwsError, type AwsCallContext } from '../aws/errors.js'
import { shownVersionId } from '../lib/log.js'
import {
  parseJsonObjectOfStrings,
  secretCall,
  secretSubject,
  type JsonSecret
} from '../secrets/read.js'
import { writeEdit } from '../secrets/compare-and-swap.js'
import {
  isNotFound,
  resolveSecret,
  type GlobalOptions,
  type SecretRef,
  type Session
} from './context.js'
import { readRegularFile, writePrivateFile } from './files.js'
import { shown, type Io } from './io.js'

const FORMAT = 'secrets-deploy-backup/1'
const ALGORITHM = 'aes-256-gcm'
/** Binds the data key to its purpose: KMS refuses to decrypt it under any other context. */
const ENCRYPTION_CONTEXT = { purpose: FORMAT }
/** Far above what the secrets of a backup can hold (64 KiB each); a bound on what is read. */
const MAX_FILE_BYTES = 16 * 1024 * 1024

interface BackedUpSecret {
  /** The id the backup was made with (name or ARN). */
  id: string
  /** The name, to create the secret again when it has been deleted. */
  name: string
  arn: string
  versionId: string
  values: Record<string, string>
}

interface BackupContents {
  created: string
  secrets: BackedUpSecret[]
}

interface EncryptedBody {
  algorithm: 'AES-256-GCM'
  kmsKeyId: string
  encryptedDataKey: string
  iv: string
  tag: string
  ciphertext: string
}

type BackupFile = { format: string; created: string } & (
  { secrets: BackedUpSecret[] } | { encrypted: EncryptedBody }
)

/** `Name` from `arn:aws:secretsmanager:region:account:secret:Name-AbCdEf`. */
function nameOf(id: string, arn: string): string {
  if (!id.startsWith('arn:')) return id
  return /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn)?.[1] ?? id
}

function kmsCall(action: string, keyId: string): AwsCallContext {
  return {
    action: `kms:${action}`,
    subject: `KMS key "${keyId}"`,
    resource: keyId.startsWith('arn:') ? keyId : 'arn:aws:kms:*:*:key/*',
    notFoundHint: 'Check --kms-key-id (a key id, key ARN or alias/NAME) and the region.'
  }
}

async function encrypt(session: Session, keyId: string, plaintext: Buffer): Promise<EncryptedBody> {
  const { GenerateDataKeyCommand } = await import('@aws-sdk/client-kms')
  const kms = await session.clients.kms()
  let dataKey
  try {
    dataKey = await kms.send(
      new GenerateDataKeyCommand({
        KeyId: keyId,
        KeySpec: 'AES_256',
        EncryptionContext: ENCRYPTION_CONTEXT
      })
    )
  } catch (error) {
    throw describeAwsError(error, kmsCall('GenerateDataKey', keyId))
  }
  const key = Buffer.from(dataKey.Plaintext ?? [])
  const iv = randomBytes(12)
  const cipher = createCipheriv(ALGORITHM, key, iv)
  cipher.setAAD(Buffer.from(FORMAT))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  key.fill(0)
  return {
    algorithm: 'AES-256-GCM',
    kmsKeyId: dataKey.KeyId ?? keyId,
    encryptedDataKey: Buffer.from(dataKey.CiphertextBlob ?? []).toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64')
  }
}

async function decrypt(session: Session, body: EncryptedBody, file: string): Promise<Buffer> {
  const { DecryptCommand } = await import('@aws-sdk/client-kms')
  const kms = await session.clients.kms()
  let dataKey
  try {
    dataKey = await kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(body.encryptedDataKey, 'base64'),
        KeyId: body.kmsKeyId,
        EncryptionContext: ENCRYPTION_CONTEXT
      })
    )
  } catch (error) {
    throw describeAwsError(error, kmsCall('Decrypt', body.kmsKeyId))
  }
  const key = Buffer.from(dataKey.Plaintext ?? [])
  try {
    // The full 16-byte tag only: a shortened one would be easier to forge.
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(body.iv, 'base64'), {
      authTagLength: 16
    })
    decipher.setAAD(Buffer.from(FORMAT))
    decipher.setAuthTag(Buffer.from(body.tag, 'base64'))
    return Buffer.concat([
      decipher.update(Buffer.from(body.ciphertext, 'base64')),
      decipher.final()
    ])
  } catch {
    throw new ActionError(
      `The backup "${shown(file)}" does not decrypt: it was changed or damaged.`
    )
  } finally {
    key.fill(0)
  }
}

export interface BackupOptions {
  out: string
  kmsKeyId?: string
}

/**
 * `backup`: every key of each secret's current version, with its version id, into a new file
 * that only its owner can read; with --kms-key-id, encrypted under a KMS data key.
 */
export async function backupCommand(
  session: Session,
  io: Io,
  secrets: SecretRef[],
  options: BackupOptions
): Promise<void> {
  const contents: BackupContents = { created: new Date().toISOString(), secrets: [] }
  for (const secret of secrets) {
    const read = await session.read(secret)
    // Named twice (by name and by ARN, say): once in the file, which restore can then name.
    if (contents.secrets.some(s => s.arn === read.arn)) continue
    contents.secrets.push({
      id: read.id,
      name: nameOf(read.id, read.arn),
      arn: read.arn,
      versionId: read.versionId,
      values: read.values
    })
  }
  const plaintext = Buffer.from(JSON.stringify(contents))
  const file: BackupFile = options.kmsKeyId
    ? {
        format: FORMAT,
        created: contents.created,
        encrypted: await encrypt(session, options.kmsKeyId, plaintext)
      }
    : { format: FORMAT, ...contents }
  await writePrivateFile(options.out, `${JSON.stringify(file, null, 2)}\n`, {
    exists: `"${shown(options.out)}" already exists; a backup never overwrites a file. Choose another --out.`
  })
  for (const s of contents.secrets)
    io.err(
      `Backed up "${shown(s.id)}" version ${shownVersionId(s.versionId)}: ${Object.keys(s.values).length} keys.`
    )
  io.err(
    options.kmsKeyId
      ? `Wrote "${shown(options.out)}" (mode 0600), encrypted with KMS key "${shown(options.kmsKeyId)}".`
      : `Wrote "${shown(options.out)}" (mode 0600). It holds the values in plain text: keep it safe, or use --kms-key-id.`
  )
}

/**
 * The bytes of a backup file: a regular file (a symbolic link to one is followed), at most
 * MAX_FILE_BYTES.
 */
export async function readBackupFile(file: string): Promise<Buffer> {
  return readRegularFile(file, {
    maxBytes: MAX_FILE_BYTES,
    tooLarge: `"${shown(file)}" is larger than any backup (${MAX_FILE_BYTES} bytes): not a backup file.`,
    notRegular: kind =>
      `"${shown(file)}" is ${kind}, not a regular file: not a backup. Give the file that "secrets-deploy backup --out" wrote.`
  })
}

const isText = (value: unknown): value is string => typeof value === 'string'

function isEncryptedBody(value: unknown): value is EncryptedBody {
  const body = value as Partial<EncryptedBody> | null
  return (
    typeof body === 'object' &&
    body !== null &&
    [body.kmsKeyId, body.encryptedDataKey, body.iv, body.tag, body.ciphertext].every(isText)
  )
}

function isBackedUpSecret(value: unknown): value is BackedUpSecret {
  const entry = value as Partial<BackedUpSecret> | null
  return (
    typeof entry === 'object' &&
    entry !== null &&
    [entry.id, entry.name, entry.arn, entry.versionId].every(isText)
  )
}

/** What a backup file holds, and whether its contents are known to be what `backup` wrote. */
interface ReadBackup {
  secrets: BackedUpSecret[]
  /** Encrypted and decrypted: AES-GCM refuses a file changed by anyone without the data key. */
  authenticated: boolean
}

async function readBackup(session: Session, file: string): Promise<ReadBackup> {
  const bytes = await readBackupFile(file)
  const notBackup = new ActionError(`"${shown(file)}" is not a secrets-deploy backup (${FORMAT}).`)
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text)
    } catch {
      throw notBackup
    }
  }
  const parsed = parse(bytes.toString('utf8')) as Partial<BackupFile> | null
  if (parsed?.format !== FORMAT) throw notBackup
  let contents: Partial<BackupContents> | null
  let authenticated = false
  if ('encrypted' in parsed) {
    if (!isEncryptedBody(parsed.encrypted)) throw notBackup
    const plain = await decrypt(session, parsed.encrypted, file)
    contents = parse(plain.toString('utf8')) as Partial<BackupContents> | null
    authenticated = true
  } else {
    contents = parsed as Partial<BackupContents>
  }
  if (!Array.isArray(contents?.secrets) || !contents.secrets.every(isBackedUpSecret))
    throw notBackup
  for (const secret of contents.secrets) {
    // The same rules as a secret read from AWS, and the values registered for redaction.
    secret.values = parseJsonObjectOfStrings(
      JSON.stringify(secret.values ?? null),
      `The backup of "${shown(secret.id)}" in "${shown(file)}"`,
      [],
      session.log
    )
  }
  return { secrets: contents.secrets, authenticated }
}

function differingKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].filter(k => a[k] !== b[k]).sort()
}

const keyList = (keys: string[]) => keys.map(k => `"${shown(k)}"`).join(', ')

export interface RestoreOptions {
  all?: boolean
  dryRun?: boolean
  force?: boolean
}

/** A secret of the backup that the command line named, and the secret it is written to. */
interface Selected {
  entry: BackedUpSecret
  secret: SecretRef
}

/**
 * The backup's entries for the secrets named on the command line (each name resolved as every
 * command resolves it), or all of them with --all. A secret the backup holds twice was not written
 * by `backup`.
 */
function selectSecrets(
  backup: ReadBackup,
  file: string,
  names: string[],
  all: boolean,
  globals: GlobalOptions
): Selected[] {
  const targets = new Map<string, SecretRef>()
  for (const name of all ? backup.secrets.map(entry => entry.id) : names) {
    const secret = resolveSecret(name, globals)
    if (!targets.has(secret.id)) targets.set(secret.id, secret)
  }
  return [...targets.values()].map(secret => {
    const subject = secretSubject(secret.role, shown(secret.id))
    const matches = backup.secrets.filter(e => [e.id, e.name, e.arn].includes(secret.id))
    if (matches.length === 0) {
      const held = keyList(backup.secrets.map(entry => entry.id)) || 'no secret'
      throw new ActionError(
        `The backup "${shown(file)}" holds no ${subject} (it holds ${held}); nothing was restored.`
      )
    }
    if (matches.length > 1) {
      throw new ActionError(
        `The backup "${shown(file)}" holds the ${subject} more than once: "secrets-deploy backup" ` +
          'never writes that. Nothing was restored.'
      )
    }
    return { entry: matches[0], secret }
  })
}

/** What restoring one secret does, decided before anything is written. */
interface RestorePlan extends Selected {
  /** Undefined when the secret does not exist (any more): restoring creates it. */
  current?: JsonSecret
  /** Keys whose current value is not the backup's. */
  differing: string[]
  /** How the backup's values were found to be the ones the version held. */
  checked: string
}

/** The values a version really holds; undefined when it is gone, or the secret is. */
async function heldBy(
  session: Session,
  secret: SecretRef,
  versionId: string,
  current: JsonSecret | undefined
): Promise<Record<string, string> | undefined> {
  if (!current) return undefined
  if (current.versionId === versionId) return current.values
  try {
    return (await session.read(secret, { versionId })).values
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}

/**
 * Checks one selected secret and decides what restoring it writes. A plain-text file can say
 * anything, so each entry is compared with the version it names, read from AWS: values that
 * version never held are refused, always; an entry whose version is gone is refused unless
 * --force. An encrypted file that decrypted is the one `backup` wrote.
 */
async function planRestore(
  session: Session,
  backup: ReadBackup,
  { entry, secret }: Selected,
  force: boolean,
  refusals: string[]
): Promise<RestorePlan> {
  const subject = secretSubject(secret.role, shown(secret.id))
  const version = shownVersionId(entry.versionId)
  let current: JsonSecret | undefined
  try {
    current = await session.read(secret)
  } catch (error) {
    if (!isNotFound(error)) throw error
  }
  let checked = 'checked: the encrypted file decrypted, so it is as backup wrote it'
  if (!backup.authenticated) {
    const held = await heldBy(session, secret, entry.versionId, current)
    if (!held) {
      checked = `not checked (--force): version ${version} is gone`
      if (!force) {
        refusals.push(
          `The backup's values for the ${subject} cannot be checked: ${current ? `the secret no longer has version ${version}` : 'the secret does not exist'}, ` +
            'so nothing shows they are what that version held. Add --force to restore them unchecked.'
        )
      }
    } else {
      const forged = differingKeys(held, entry.values)
      checked = `checked: version ${version} holds the backup's values`
      if (forged.length > 0) {
        refusals.push(
          `The backup's values for the ${subject} are not what its version ${version} holds (keys that differ: ` +
            `${keyList(forged)}): the file was not written by "secrets-deploy backup", or was edited since. ` +
            'It cannot be restored, not even with --force.'
        )
      }
    }
  }
  const differing = current
    ? differingKeys(current.values, entry.values)
    : Object.keys(entry.values)
  if (current && differing.length > 0 && current.versionId !== entry.versionId && !force) {
    refusals.push(
      `The ${subject} changed since the backup (version ${version} backed up, ${shownVersionId(current.versionId)} ` +
        `current); keys that differ: ${keyList(differing)}. Add --force to replace them with the backup's keys.`
    )
  }
  return { entry, secret, current, differing, checked }
}

/** One line of the list restore prints before it writes; it starts with the secret's role. */
function planLine({ secret, current, differing, checked }: RestorePlan): string {
  const subject = secretSubject(secret.role, shown(secret.id))
  const what = !current
    ? `create it (it does not exist) with the backup's ${differing.length} keys`
    : differing.length === 0
      ? "nothing to write (it holds the backup's keys)"
      : `replace version ${shownVersionId(current.versionId)} (keys that differ: ${keyList(differing)})`
  return `  ${subject}: ${what}; ${checked}`
}

/**
 * `restore`: writes the secrets named on the command line (or --all) back from a backup, with the
 * compare-and-swap. Every secret is checked first, and nothing at all is written when one is
 * refused: values its version never held (a file that lies), a version that is gone (unless
 * --force), or a secret changed since the backup (unless --force). The list of what it writes
 * comes first; with --dry-run it is all that happens.
 */
export async function restoreCommand(
  session: Session,
  io: Io,
  globals: GlobalOptions,
  file: string,
  names: string[],
  options: RestoreOptions
): Promise<void> {
  const backup = await readBackup(session, file)
  const selected = selectSecrets(backup, file, names, options.all ?? false, globals)
  const refusals: string[] = []
  const plans: RestorePlan[] = []
  for (const one of selected)
    plans.push(await planRestore(session, backup, one, options.force ?? false, refusals))
  if (refusals.length > 0) throw new ActionError(`${refusals.join(' ')} Nothing was restored.`)

  io.err(
    `${options.dryRun ? 'Would restore' : 'Restoring'} ${plans.length} secret${plans.length === 1 ? '' : 's'} from "${shown(file)}":`
  )
  for (const plan of plans) io.err(planLine(plan))
  if (options.dryRun) {
    io.err('Dry run: nothing was written.')
    return
  }

  for (const plan of plans) await restoreOne(session, io, plan)
}

/** Writes one checked plan: creates a secret that is gone, or replaces its keys (compare-and-swap). */
async function restoreOne(
  session: Session,
  io: Io,
  { entry, secret, current, differing }: RestorePlan
): Promise<void> {
  const subject = secretSubject(secret.role, shown(secret.id))
  if (!current) {
    // An ARN names no secret that does not exist; the name the backup recorded does.
    const name = secret.id.startsWith('arn:') ? entry.name : secret.id
    const versionId = randomUUID()
    try {
      await session.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: JSON.stringify(entry.values),
          ClientRequestToken: versionId
        })
      )
    } catch (error) {
      throw describeAwsError(error, secretCall('CreateSecret', secret.role, name))
    }
    io.err(`Created "${shown(name)}" from the backup: version ${versionId}.`)
    io.out(versionId)
    return
  }
  if (differing.length === 0) {
    io.err(`The ${subject} already holds the backup's keys; nothing written.`)
    io.out(shownVersionId(current.versionId))
    return
  }
  const result = await writeEdit(
    session.client,
    current,
    { replace: entry.values },
    {
      role: secret.role,
      what: 'restore the backup',
      merged: 'the backup',
      who: 'this command',
      during: 'ran',
      again: 'Run the command again',
      note: message => io.err(shown(message)),
      reread: () => session.read(secret)
    }
  )
  io.err(
    `Restored the ${subject} (${keyList(differing)} differed): version ${shownVersionId(result.versionId)} is current.`
  )
  io.out(shownVersionId(result.versionId))
}
