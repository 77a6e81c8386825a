import {
  GetSecretValueCommand,
  paginateListSecretVersionIds,
  paginateListSecrets,
  type SecretListEntry,
  type SecretVersionsListEntry
} from '@aws-sdk/client-secrets-manager'
import { ActionError } from '../lib/errors.js'
import { describeAwsError } from '../aws/errors.js'
import { envName, refusedEnvName } from '../secrets/key-rules.js'
import { checkOutputNames } from '../secrets/key-rules.js'
import { quoteUntrusted, shownVersionId } from '../lib/log.js'
import {
  parseJsonObjectOfStrings,
  requireKeys,
  secretCall,
  secretSubject
} from '../secrets/read.js'
import { bold, printJson, shown, table, passOrFail, type Io } from './io.js'
import { resolveSecret, type GlobalOptions, type SecretRef, type Session } from './context.js'

const date = (value: Date | undefined) => (value ? value.toISOString() : '')

interface ListedSecret {
  name: string
  arn: string
  lastChanged: string
  versions: number
  /** Undefined when the value is not a JSON object or could not be read. */
  keys?: number
}

/** `list`: every secret the credentials can see, never a value. */
export async function listSecrets(session: Session, io: Io, asJson: boolean): Promise<void> {
  const entries: SecretListEntry[] = []
  try {
    for await (const page of paginateListSecrets({ client: session.client }, {}))
      entries.push(...(page.SecretList ?? []))
  } catch (error) {
    throw describeAwsError(error, {
      action: 'secretsmanager:ListSecrets',
      subject: `the secrets of region ${session.region}`,
      resource: '*'
    })
  }
  const listed: ListedSecret[] = []
  for (const entry of entries) {
    listed.push({
      name: entry.Name ?? '',
      arn: entry.ARN ?? '',
      lastChanged: date(entry.LastChangedDate),
      versions: Object.keys(entry.SecretVersionsToStages ?? {}).length,
      keys: await countKeys(session, entry.ARN ?? entry.Name ?? '', entry.Name ?? '')
    })
  }
  if (asJson) return printJson(io, listed)
  if (listed.length === 0) {
    io.err(`No secrets in region ${session.region} that these credentials can see.`)
    return
  }
  const header = ['NAME', 'LAST CHANGED', 'VERSIONS', 'KEYS'].map(h => bold(io, h))
  const rows = listed.map(s => [
    shown(s.name),
    s.lastChanged,
    String(s.versions),
    s.keys === undefined ? '-' : String(s.keys)
  ])
  for (const line of table([header, ...rows])) io.out(line)
}

/** The number of keys of a JSON secret; undefined for other values and unreadable secrets. */
async function countKeys(
  session: Session,
  secretId: string,
  name: string
): Promise<number | undefined> {
  try {
    const response = await session.client.send(new GetSecretValueCommand({ SecretId: secretId }))
    const values = parseJsonObjectOfStrings(
      response.SecretString ?? '',
      `The ${secretSubject('other', shown(name))}`,
      [],
      session.log
    )
    return Object.keys(values).length
  } catch {
    return undefined
  }
}

export interface GetOptions {
  reveal?: boolean
  json?: boolean
  versionId?: string
  versionStage?: string
}

/** `get`: keys with their lengths; values only with --reveal. */
export async function getSecret(
  session: Session,
  io: Io,
  secret: SecretRef,
  key: string | undefined,
  options: GetOptions
): Promise<void> {
  const read = await session.read(secret, {
    versionId: options.versionId,
    versionStage: options.versionStage
  })
  if (key !== undefined) {
    if (!Object.hasOwn(read.values, key)) {
      throw new ActionError(
        `The ${secretSubject(secret.role, secret.id)} (version ${shownVersionId(read.versionId)}) has no key "${shown(key)}". ` +
          `"secrets-deploy get ${shown(secret.id)}" lists its keys.`
      )
    }
    const value = read.values[key]
    if (options.json) {
      return printJson(io, {
        secret: read.id,
        versionId: read.versionId,
        key,
        ...(options.reveal ? { value } : { length: value.length })
      })
    }
    if (options.reveal) return io.out(value)
    io.out(`${shown(key)}: ${lengthText(value)} (--reveal prints the value)`)
    return
  }
  if (options.json) {
    const keys = Object.fromEntries(
      Object.entries(read.values).map(([k, v]) => [k, options.reveal ? v : { length: v.length }])
    )
    return printJson(io, {
      secret: read.id,
      arn: read.arn,
      versionId: read.versionId,
      [options.reveal ? 'values' : 'keys']: keys
    })
  }
  io.err(
    `${secretSubject(secret.role, shown(secret.id))}, version ${shownVersionId(read.versionId)}:`
  )
  const rows = Object.entries(read.values).map(([k, v]) => [
    shown(k),
    options.reveal ? JSON.stringify(v) : lengthText(v)
  ])
  const header = ['KEY', options.reveal ? 'VALUE' : 'VALUE (hidden)'].map(h => bold(io, h))
  for (const line of table([header, ...rows])) io.out(line)
}

function lengthText(value: string): string {
  const n = [...value].length
  return n === 0 ? 'empty' : `${n} character${n === 1 ? '' : 's'}`
}

interface VersionChanges {
  versionId: string
  stages: string[]
  created: string
  /** Undefined for the oldest version, which has nothing to compare with. */
  added?: string[]
  removed?: string[]
  changed?: string[]
  /** Why its keys could not be compared (not a JSON object of strings). */
  unreadable?: string
}

/** `history`: each version and the key names it added, removed or changed. */
export async function secretHistory(
  session: Session,
  io: Io,
  secret: SecretRef,
  asJson: boolean
): Promise<void> {
  const versions = await listVersions(session, secret)
  const history: VersionChanges[] = []
  let before: Record<string, string> | undefined
  for (const version of versions) {
    const { entry, values } = await versionChanges(session, secret, version, before)
    before = values
    history.push(entry)
  }
  if (asJson) return printJson(io, history)
  const header = ['VERSION', 'STAGES', 'CREATED', 'CHANGES'].map(h => bold(io, h))
  const rows = history.map(v => [
    shownVersionId(v.versionId),
    v.stages.map(shown).join(',') || '-',
    v.created,
    changesText(v)
  ])
  for (const line of table([header, ...rows])) io.out(line)
}

/** Every version of the secret, deprecated ones too, oldest first. */
async function listVersions(
  session: Session,
  secret: SecretRef
): Promise<SecretVersionsListEntry[]> {
  const versions: SecretVersionsListEntry[] = []
  try {
    const pages = paginateListSecretVersionIds(
      { client: session.client },
      { SecretId: secret.id, IncludeDeprecated: true }
    )
    for await (const page of pages) versions.push(...(page.Versions ?? []))
  } catch (error) {
    throw describeAwsError(
      error,
      secretCall('ListSecretVersionIds', secret.role, secret.id, secret.notFoundHint)
    )
  }
  return versions.sort((a, b) => (a.CreatedDate?.getTime() ?? 0) - (b.CreatedDate?.getTime() ?? 0))
}

/** One version's key names added, removed and changed since `before`; its values for the next. */
async function versionChanges(
  session: Session,
  secret: SecretRef,
  version: SecretVersionsListEntry,
  before: Record<string, string> | undefined
): Promise<{ entry: VersionChanges; values?: Record<string, string> }> {
  const entry: VersionChanges = {
    versionId: version.VersionId ?? '',
    stages: version.VersionStages ?? [],
    created: date(version.CreatedDate)
  }
  let response
  try {
    response = await session.client.send(
      new GetSecretValueCommand({ SecretId: secret.id, VersionId: entry.versionId })
    )
  } catch (error) {
    throw describeAwsError(
      error,
      secretCall('GetSecretValue', secret.role, secret.id, secret.notFoundHint)
    )
  }
  let values: Record<string, string> | undefined
  try {
    values = parseJsonObjectOfStrings(
      response.SecretString ?? '',
      `A version of the ${secretSubject(secret.role, shown(secret.id))}`,
      [],
      session.log
    )
  } catch {
    entry.unreadable = 'not a JSON object of strings'
  }
  if (values && before) {
    const was = before
    entry.added = Object.keys(values).filter(k => !Object.hasOwn(was, k))
    entry.removed = Object.keys(was).filter(k => !Object.hasOwn(values, k))
    entry.changed = Object.keys(values).filter(k => Object.hasOwn(was, k) && was[k] !== values[k])
  }
  return { entry, values }
}

function changesText(v: VersionChanges): string {
  if (v.unreadable) return `(${v.unreadable})`
  if (!v.added) return '(first version)'
  const parts = [
    ...v.added.map(k => `+${shown(k)}`),
    ...v.removed!.map(k => `-${shown(k)}`),
    ...v.changed!.map(k => `~${shown(k)}`)
  ]
  return parts.join(' ') || '(no key changed)'
}

/** The action's default for input `app-required-keys`; a test holds it equal to action.yml. */
export const DEFAULT_APP_REQUIRED_KEYS = 'db_password,jwt_secret'

export interface ValidateOptions {
  requiredKeys: string
  appRequiredKeys: string
  json?: boolean
}

export interface SecretVerdict {
  secret: string
  role: string
  versionId?: string
  problems: string[]
  warnings: string[]
}

/** A list of keys as inputs and options give them: separated by commas or new lines. */
export const keyList = (text: string) =>
  text
    .split(/[,\n]/)
    .map(k => k.trim())
    .filter(Boolean)

/** Both secrets against the checks the action makes before a deploy, with the same messages. */
export async function checkSecrets(
  session: Session,
  globals: GlobalOptions,
  options: Omit<ValidateOptions, 'json'>
): Promise<SecretVerdict[]> {
  const verdicts: SecretVerdict[] = []
  const checks = [
    { name: 'deployment', required: keyList(options.requiredKeys), input: 'required-keys' },
    { name: 'app', required: keyList(options.appRequiredKeys), input: 'app-required-keys' }
  ] as const
  for (const check of checks) {
    const secret = resolveSecret(check.name, globals)
    const result: SecretVerdict = {
      secret: secret.id,
      role: check.name,
      problems: [],
      warnings: []
    }
    verdicts.push(result)
    const problem = (action: () => void) => {
      try {
        action()
      } catch (error) {
        if (!(error instanceof ActionError)) throw error
        result.problems.push(error.message)
      }
    }
    let read
    try {
      read = await session.read(secret)
    } catch (error) {
      if (!(error instanceof ActionError)) throw error
      result.problems.push(error.message)
      continue
    }
    result.versionId = read.versionId
    problem(() =>
      requireKeys(read, check.required, secret.role, `listed in input "${check.input}"`)
    )
    if (check.name === 'deployment') {
      problem(() => checkOutputNames(read.id, Object.keys(read.values)))
      for (const key of Object.keys(read.values)) {
        const why = refusedEnvName(envName(key))
        if (why) {
          result.warnings.push(
            `Key "${key}" would become the environment variable ${envName(key)}, which the action refuses ` +
              `to set from a secret (${why}); leave it out of input "env-keys".`
          )
        }
      }
    }
  }
  return verdicts
}

/** `validate`: prints checkSecrets' verdicts; returns whether both secrets passed. */
export async function validateSecrets(
  session: Session,
  io: Io,
  globals: GlobalOptions,
  options: ValidateOptions
): Promise<boolean> {
  const verdicts = await checkSecrets(session, globals, options)
  const ok = verdicts.every(v => v.problems.length === 0)
  if (options.json) {
    printJson(io, { ok, secrets: verdicts })
    return ok
  }
  for (const v of verdicts) {
    const where = `${v.role} secret "${shown(v.secret)}"${v.versionId ? ` (version ${shownVersionId(v.versionId)})` : ''}`
    io.out(
      `${passOrFail(io, v.problems.length === 0, v.problems.length === 0 ? 'ok' : 'FAIL')}  ${where}`
    )
    // The action's own messages, which quote what they name: bounded as messages are, not as names.
    for (const p of v.problems) io.out(`      ${quoteUntrusted(p)}`)
    for (const w of v.warnings) io.out(`      warning: ${quoteUntrusted(w)}`)
  }
  return ok
}
