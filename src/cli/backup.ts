import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager'
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto'
import { open } from 'node:fs/promises'
import { ActionError, describeAwsError, type AwsCallContext } from '../errors.js'
import { shownVersionId } from '../log.js'
import { parseJsonObjectOfStrings, secretCall, secretSubject } from '../secrets.js'
import { writeEdit } from '../writeback.js'
import {
  isNotFound,
  resolveSecret,
  type GlobalOptions,
  type SecretRef,
  type Session
} from './context.js'
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

async function kmsClient(session: Session) {
  const { KMSClient } = await import('@aws-sdk/client-kms')
  return new KMSClient({ region: session.region, maxAttempts: 5 })
}

async function encrypt(session: Session, keyId: string, plaintext: Buffer): Promise<EncryptedBody> {
  const { GenerateDataKeyCommand } = await import('@aws-sdk/client-kms')
  const kms = await kmsClient(session)
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
  } finally {
    kms.destroy()
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
  const kms = await kmsClient(session)
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
  } finally {
    kms.destroy()
  }
  const key = Buffer.from(dataKey.Plaintext ?? [])
  try {
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(body.iv, 'base64'))
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
  let handle
  try {
    // 'wx': fails when the file exists, so a backup never replaces another.
    handle = await open(options.out, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ActionError(
      code === 'EEXIST'
        ? `"${shown(options.out)}" already exists; a backup never overwrites a file. Choose another --out.`
        : `Cannot create "${shown(options.out)}" (${code}): check the folder exists and is writable.`
    )
  }
  try {
    await handle.chmod(0o600)
    await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`)
  } finally {
    await handle.close()
  }
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

async function readBackup(session: Session, file: string): Promise<BackupContents> {
  let text: string
  try {
    const handle = await open(file, 'r')
    try {
      if ((await handle.stat()).size > MAX_FILE_BYTES)
        throw new ActionError(`"${shown(file)}" is larger than any backup: not a backup file.`)
      text = await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (error instanceof ActionError) throw error
    throw new ActionError(
      `Cannot read "${shown(file)}" (${(error as NodeJS.ErrnoException).code}).`
    )
  }
  const notBackup = new ActionError(`"${shown(file)}" is not a secrets-deploy backup (${FORMAT}).`)
  let parsed: BackupFile
  try {
    parsed = JSON.parse(text)
  } catch {
    throw notBackup
  }
  if (parsed?.format !== FORMAT) throw notBackup
  let contents: BackupContents
  if ('encrypted' in parsed) {
    const plain = await decrypt(session, parsed.encrypted, file)
    contents = JSON.parse(plain.toString('utf8'))
  } else {
    contents = parsed as BackupContents
  }
  if (!Array.isArray(contents.secrets)) throw notBackup
  for (const secret of contents.secrets) {
    // The same rules as a secret read from AWS, and the values registered for redaction.
    secret.values = parseJsonObjectOfStrings(
      JSON.stringify(secret.values),
      `The backup of "${shown(String(secret.id))}" in "${shown(file)}"`,
      [],
      session.log
    )
  }
  return contents
}

function differingKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].filter(k => a[k] !== b[k]).sort()
}

/**
 * `restore`: writes each secret of a backup back with the compare-and-swap. Refuses, writing
 * nothing at all, when any secret changed since the backup, unless --force.
 */
export async function restoreCommand(
  session: Session,
  io: Io,
  globals: GlobalOptions,
  file: string,
  options: { force?: boolean }
): Promise<void> {
  const backup = await readBackup(session, file)
  const plans = []
  const refusals: string[] = []
  for (const entry of backup.secrets) {
    const secret = resolveSecret(entry.id, globals)
    let current
    try {
      current = await session.read(secret)
    } catch (error) {
      if (!isNotFound(error)) throw error
      plans.push({ entry, secret, current: undefined, differing: Object.keys(entry.values) })
      continue
    }
    const differing = differingKeys(current.values, entry.values)
    if (differing.length > 0 && current.versionId !== entry.versionId && !options.force) {
      refusals.push(
        `The ${secretSubject(secret.role, secret.id)} changed since the backup (version ${entry.versionId} ` +
          `backed up, ${current.versionId} current); keys that differ: ${differing.map(k => `"${shown(k)}"`).join(', ')}.`
      )
    }
    plans.push({ entry, secret, current, differing })
  }
  if (refusals.length > 0) {
    throw new ActionError(
      `${refusals.join(' ')} Nothing was restored; add --force to replace them with the backup's keys.`
    )
  }
  for (const { entry, secret, current, differing } of plans) {
    if (!current) {
      const versionId = randomUUID()
      try {
        await session.client.send(
          new CreateSecretCommand({
            Name: entry.name,
            SecretString: JSON.stringify(entry.values),
            ClientRequestToken: versionId
          })
        )
      } catch (error) {
        throw describeAwsError(error, secretCall('CreateSecret', secret.role, entry.name))
      }
      io.err(`Created "${shown(entry.name)}" from the backup: version ${versionId}.`)
      io.out(versionId)
      continue
    }
    if (differing.length === 0) {
      io.err(
        `The ${secretSubject(secret.role, secret.id)} already holds the backup's keys; nothing written.`
      )
      io.out(current.versionId)
      continue
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
      `Restored the ${secretSubject(secret.role, secret.id)} (${differing.map(k => `"${shown(k)}"`).join(', ')} differed): version ${result.versionId} is current.`
    )
    io.out(result.versionId)
  }
}
