import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager'
import { randomUUID } from 'node:crypto'
import { ActionError } from '../lib/errors.js'
import { describeAwsError } from '../aws/errors.js'
import { maskSecret, shownVersionId } from '../lib/log.js'
import { secretCall, secretSubject, type JsonSecret } from '../secrets/read.js'
import { randomPassword } from '../secrets/random-password.js'
import {
  writeEdit,
  type EditContext,
  type SecretEdit,
  type WriteBackResult
} from '../secrets/compare-and-swap.js'
import { shown, type Io } from './io.js'
import { isNotFound, type SecretRef, type Session } from './context.js'

/** How the command line writes with the action's compare-and-swap. */
export function editContext(
  session: Session,
  io: Io,
  secret: SecretRef,
  what: string,
  merged: string
): EditContext {
  return {
    role: secret.role,
    what,
    merged,
    who: 'this command',
    during: 'ran',
    again: 'Run the command again',
    note: message => io.err(shown(message)),
    reread: () => session.read(secret)
  }
}

function report(io: Io, secret: SecretRef, done: string, result: WriteBackResult): void {
  const subject = secretSubject(secret.role, shown(secret.id))
  const version = shownVersionId(result.versionId)
  io.err(
    result.changed
      ? `${done} in the ${subject}: version ${version} is current.`
      : `The ${subject} already had that; nothing was written (version ${version}).`
  )
  io.out(version)
}

/**
 * Sets keys with the compare-and-swap; with `create`, a missing secret is created holding just
 * these keys.
 */
async function setKeys(
  session: Session,
  io: Io,
  secret: SecretRef,
  values: Record<string, string>,
  create: boolean
): Promise<WriteBackResult> {
  const names = Object.keys(values)
    .map(k => `"${shown(k)}"`)
    .join(', ')
  let base: JsonSecret
  try {
    base = await session.read(secret)
  } catch (error) {
    if (!create || !isNotFound(error)) throw error
    return createSecret(session, secret, values)
  }
  return writeEdit(
    session.client,
    base,
    { set: values },
    editContext(session, io, secret, `set ${names}`, names)
  )
}

export async function createSecret(
  session: Session,
  secret: SecretRef,
  values: Record<string, string>
): Promise<WriteBackResult> {
  if (secret.id.startsWith('arn:')) {
    throw new ActionError(
      `--create needs a secret name, not an ARN ("${shown(secret.id)}"): AWS chooses the ARN.`
    )
  }
  const versionId = randomUUID()
  try {
    await session.client.send(
      new CreateSecretCommand({
        Name: secret.id,
        SecretString: JSON.stringify(values),
        ClientRequestToken: versionId
      })
    )
  } catch (error) {
    throw describeAwsError(error, secretCall('CreateSecret', secret.role, secret.id))
  }
  return { changed: true, versionId }
}

export interface SetOptions {
  create?: boolean
}

/** `set`: one key, its value from the argument, standard input or a hidden prompt. */
export async function setCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  key: string,
  argumentValue: string | undefined,
  options: SetOptions
): Promise<void> {
  checkKeyName(key)
  let value: string
  if (argumentValue !== undefined) {
    io.err(
      'warning: a value given as an argument lands in the shell history and the process list; ' +
        'leave it out to type it at a hidden prompt or pipe it on standard input.'
    )
    value = argumentValue
  } else {
    value = await io.readValue(`Value for "${shown(key)}" (not shown): `)
    // A script that forgot to pipe the value would otherwise blank the key.
    if (value === '') {
      throw new ActionError(
        `No value for "${shown(key)}" on standard input; nothing was written. To store an empty ` +
          `value, give it as an argument: secrets-deploy set ${shown(secret.id)} ${shown(key)} ''`
      )
    }
  }
  maskSecret(value)
  const result = await setKeys(session, io, secret, { [key]: value }, options.create ?? false)
  report(io, secret, `Set "${shown(key)}"`, result)
}

/** `unset`: removes one key with the compare-and-swap. */
export async function unsetCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  key: string
): Promise<void> {
  const base = await session.read(secret)
  if (!Object.hasOwn(base.values, key)) {
    throw new ActionError(
      `The ${secretSubject(secret.role, secret.id)} (version ${shownVersionId(base.versionId)}) has no key "${shown(key)}"; nothing was written.`
    )
  }
  const name = `"${shown(key)}"`
  const edit: SecretEdit = { unset: [key] }
  const result = await writeEdit(
    session.client,
    base,
    edit,
    editContext(session, io, secret, `remove ${name}`, `the removal of ${name}`)
  )
  report(io, secret, `Removed ${name}`, result)
}

export interface GenerateOptions {
  length: string
  excludeCharacters?: string
  excludePunctuation?: boolean
  excludeNumbers?: boolean
  excludeUppercase?: boolean
  excludeLowercase?: boolean
  includeSpace?: boolean
  requireEachIncludedType?: boolean
  reveal?: boolean
  create?: boolean
}

/** `generate`: a new value from GetRandomPassword, written with the compare-and-swap. */
export async function generateCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  key: string,
  options: GenerateOptions
): Promise<void> {
  checkKeyName(key)
  const length = Number(options.length)
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new ActionError(
      `--length must be a whole number from 1 to 4096, not "${shown(options.length)}".`
    )
  }
  const value = await randomPassword(
    session.client,
    {
      length,
      ExcludeCharacters: options.excludeCharacters,
      ExcludePunctuation: options.excludePunctuation,
      ExcludeNumbers: options.excludeNumbers,
      ExcludeUppercase: options.excludeUppercase,
      ExcludeLowercase: options.excludeLowercase,
      IncludeSpace: options.includeSpace,
      RequireEachIncludedType: options.requireEachIncludedType
    },
    `a new value for "${shown(key)}"`
  )
  const result = await setKeys(session, io, secret, { [key]: value }, options.create ?? false)
  report(io, secret, `Generated a new ${length}-character "${shown(key)}"`, result)
  if (options.reveal) io.err(`"${shown(key)}": ${value}`)
}

export interface RollbackOptions {
  to?: string
}

/**
 * `rollback`: writes the keys of the previous version (or the one given) as a new current
 * version, refusing when the current version changes after it was read.
 */
export async function rollbackCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  options: RollbackOptions
): Promise<void> {
  const current = await session.read(secret)
  const source = options.to ? `version ${shown(options.to)}` : 'the previous version (AWSPREVIOUS)'
  let target: JsonSecret
  try {
    target = await session.read(
      secret,
      options.to ? { versionId: options.to } : { versionStage: 'AWSPREVIOUS' }
    )
  } catch (error) {
    if (isNotFound(error)) {
      throw new ActionError(
        `The ${secretSubject(secret.role, secret.id)} has no ${options.to ? source : 'previous version (AWSPREVIOUS)'} to roll back to; ` +
          `"secrets-deploy history ${shown(secret.id)}" lists its versions.`
      )
    }
    throw error
  }
  const result = await writeEdit(
    session.client,
    current,
    { replace: target.values },
    editContext(session, io, secret, `roll back to ${source}`, source)
  )
  report(
    io,
    secret,
    `Rolled back to the keys of ${source} (${shownVersionId(target.versionId)})`,
    result
  )
}

function checkKeyName(key: string): void {
  if (key.trim() === '') throw new ActionError('The key name is empty; give the key to set.')
}
