import { ActionError } from '../lib/errors.js'
import { envKeyRefusals, envName, type EnvKeyRefusal } from '../secrets/key-rules.js'
import { maskSecret, shownVersionId, type Logger } from '../lib/log.js'
import { parseJsonObjectOfStrings, secretSubject, type JsonSecret } from '../secrets/read.js'
import { writeEdit, type SecretEdit, type WriteBackResult } from '../secrets/compare-and-swap.js'
import { isNotFound, type SecretRef, type Session } from './context.js'
import { parseDotenv } from './dotenv.js'
import { DOTENV_VARIABLE } from './export-formats.js'
import { readRegularFile } from './files.js'
import { shown, table, type Io } from './io.js'
import { keyList } from './read-commands.js'
import { createSecret, editContext } from './write-commands.js'

/** Far more than a secret holds (64 KiB): comments and blank lines included. */
const MAX_IMPORT_BYTES = 1024 * 1024

/** One name of the file with its value, and where the file gives it (for messages). */
export interface ImportEntry {
  name: string
  value: string
  line?: number
}

/** Reading a file is not reading a secret: the masking advice of the secrets does not apply. */
const nothing = () => undefined
const QUIET: Logger = {
  info: nothing,
  warning: nothing,
  error: nothing,
  notice: nothing,
  debug: nothing,
  startGroup: nothing,
  endGroup: nothing
}

/**
 * The names and values of a .env file (as python-dotenv reads it) or of a JSON object of strings
 * (a file whose first character is "{"). Every value is registered for redaction as it is read;
 * messages name lines and names, never values.
 */
export function parseImportFile(text: string, file: string): ImportEntry[] {
  const body = text.replace(/^\ufeff/, '')
  if (/^\s*\{/.test(body)) {
    const values = parseJsonObjectOfStrings(body, `The file "${shown(file)}"`, [], {
      logger: QUIET,
      unmaskedAdvice: ''
    })
    return Object.entries(values).map(([name, value]) => ({ name, value }))
  }
  const entries: ImportEntry[] = []
  const seen = new Map<string, number>()
  for (const binding of parseDotenv(body, file)) {
    if (binding.value !== undefined) maskSecret(binding.value)
    const first = seen.get(binding.name)
    if (first !== undefined) {
      throw new ActionError(
        `"${shown(file)}" gives "${shown(binding.name)}" twice (lines ${first} and ${binding.line}); ` +
          'keep the one you mean, then import again. Nothing was imported.'
      )
    }
    seen.set(binding.name, binding.line)
    if (binding.value === undefined) {
      throw new ActionError(
        // Not quoted: a line of one word may well be a value that lost its name.
        `"${shown(file)}" line ${binding.line} has a word without "=" and a value; nothing was imported.`
      )
    }
    if (DOTENV_VARIABLE.test(binding.value)) {
      throw new ActionError(
        `The value of "${shown(binding.name)}" in "${shown(file)}" (line ${binding.line}) holds "\${...}", which ` +
          "python-dotenv replaces with another variable's value when it reads the file: write the value out in full. " +
          'Nothing was imported.'
      )
    }
    entries.push({ name: binding.name, value: binding.value, line: binding.line })
  }
  return entries
}

export async function readImportFile(file: string): Promise<ImportEntry[]> {
  const bytes = await readRegularFile(file, {
    maxBytes: MAX_IMPORT_BYTES,
    tooLarge: `"${shown(file)}" is larger than ${MAX_IMPORT_BYTES} bytes, far more than a secret holds: not a .env file to import.`,
    notRegular: kind =>
      `"${shown(file)}" is ${kind}, not a regular file: give a .env file or a JSON object.`
  })
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new ActionError(
      `"${shown(file)}" is not UTF-8 text: save it as UTF-8, then import again.`
    )
  }
  return parseImportFile(text, file)
}

export type ImportAction = 'add' | 'change' | 'keep' | 'same'

export interface ImportRow {
  action: ImportAction
  key: string
  name: string
}

export interface ImportPlan {
  rows: ImportRow[]
  /** What to write, or undefined when nothing changes. */
  edit?: SecretEdit
  /** Every key the file gives, for a secret that does not exist yet. */
  values: Record<string, string>
}

export interface ImportOptions {
  from: string
  only?: string
  create?: boolean
  overwrite?: boolean
  dryRun?: boolean
}

function nameRefusal(refusal: EnvKeyRefusal, entries: readonly ImportEntry[]): string {
  switch (refusal.kind) {
    case 'not-a-name': {
      // A .env line's "name" may be a value that lost its "=": named by its line, not quoted.
      const line = entries.find(entry => entry.name === refusal.key)?.line
      const what = line === undefined ? `"${shown(refusal.key)}"` : `the name on line ${line}`
      return `${what} is not a name (letters, digits, "_" and "-", starting with a letter or "_")`
    }
    case 'refused':
      return `"${refusal.key}" is ${refusal.name}, which exec and export refuse to set from a secret: ${refusal.why}`
    case 'same-name':
      return `"${refusal.other}" and "${refusal.key}" both become ${refusal.name}, so they would go into one key`
  }
}

/**
 * Which key of the secret each name of the file goes into: the secret's key that becomes that
 * variable (`DB_PASSWORD` -> `db_password`, `db-password`), else the name in lower case, so that
 * the reference document's `.env` lands in its layout. A name two keys of the secret become is
 * refused: which one it meant is not for the import to guess.
 */
function targetKey(name: string, existing: readonly string[], secret: SecretRef): string {
  const keys = existing.filter(key => envName(key) === envName(name))
  if (keys.length > 1) {
    throw new ActionError(
      `"${name}" could go into key ${keys.map(key => `"${shown(key)}"`).join(' or ')} of the ` +
        `${secretSubject(secret.role, shown(secret.id))}, which all become ${envName(name)}: rename all but one in the ` +
        'secret, or leave the name out with --only. Nothing was imported.'
    )
  }
  return keys[0] ?? name.toLowerCase()
}

/** What importing `entries` into a secret holding `existing` (undefined: none yet) does. */
export function planImport(
  existing: Record<string, string> | undefined,
  entries: readonly ImportEntry[],
  secret: SecretRef,
  options: Pick<ImportOptions, 'from' | 'only' | 'overwrite'>
): ImportPlan {
  const refusals = envKeyRefusals(entries.map(entry => entry.name))
  if (refusals.length > 0) {
    throw new ActionError(
      `"${shown(options.from)}" has ${refusals.length > 1 ? 'names' : 'a name'} that cannot become a key of the secret: ` +
        `${refusals.map(refusal => nameRefusal(refusal, entries)).join('; ')}. Leave ${refusals.length > 1 ? 'them' : 'it'} ` +
        'out with --only NAMES. Nothing was imported.'
    )
  }
  const keys = Object.keys(existing ?? {})
  let chosen = entries.map(entry => ({ ...entry, key: targetKey(entry.name, keys, secret) }))
  if (options.only !== undefined) {
    const wanted = keyList(options.only)
    const missing = wanted.filter(item => !chosen.some(e => e.name === item || e.key === item))
    if (wanted.length === 0 || missing.length > 0) {
      throw new ActionError(
        wanted.length === 0
          ? '--only names nothing; give names separated by commas.'
          : `"${shown(options.from)}" has no ${missing.map(item => `"${shown(item)}"`).join(', ')}, named by --only. Nothing was imported.`
      )
    }
    chosen = chosen.filter(e => wanted.includes(e.name) || wanted.includes(e.key))
  }
  const rows: ImportRow[] = []
  for (const entry of chosen) {
    // Own keys only: a key such as "__proto__" is a key like any other.
    const current = existing && Object.hasOwn(existing, entry.key) ? existing[entry.key] : undefined
    const action: ImportAction =
      current === undefined
        ? 'add'
        : current === entry.value
          ? 'same'
          : options.overwrite
            ? 'change'
            : 'keep'
    rows.push({ action, key: entry.key, name: entry.name })
  }
  // Object.fromEntries defines each key, whatever its name; `object[key] =` would not ("__proto__").
  const written = (...actions: ImportAction[]) =>
    Object.fromEntries(
      chosen.filter((_, i) => actions.includes(rows[i].action)).map(e => [e.key, e.value])
    )
  const added = written('add')
  const changed = written('change')
  const values = Object.fromEntries(chosen.map(entry => [entry.key, entry.value]))
  const writes = Object.keys(added).length + Object.keys(changed).length > 0
  // Without --overwrite only keys the secret lacks are written, also when the compare-and-swap
  // merges into a version another writer made meanwhile: a key they set keeps their value.
  const edit: SecretEdit | undefined = !writes
    ? undefined
    : options.overwrite
      ? { set: { ...added, ...changed } }
      : { add: added }
  return { rows, edit, values }
}

function printPlan(io: Io, plan: ImportPlan): void {
  const rows = plan.rows.map(row => [
    row.action,
    shown(row.key),
    `from ${row.name}${row.action === 'keep' ? ': the secret holds another value (--overwrite replaces it)' : ''}`
  ])
  for (const line of table(rows)) io.out(line)
}

/**
 * `import`: a .env file (or JSON object) into a secret, in one new version written with the
 * compare-and-swap; with --create, a missing secret is created. Prints what it adds, changes and
 * keeps, by name; --dry-run prints that and writes nothing.
 */
export async function importCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  options: ImportOptions
): Promise<void> {
  // The file first: a mistake in it costs no AWS call and writes nothing.
  const entries = await readImportFile(options.from)
  let base: JsonSecret | undefined
  try {
    base = await session.read(secret)
  } catch (error) {
    if (!isNotFound(error)) throw error
    if (!options.create)
      throw new ActionError(`${(error as Error).message} To create it from the file, add --create.`)
  }
  const plan = planImport(base?.values, entries, secret, options)
  printPlan(io, plan)
  const subject = secretSubject(secret.role, shown(secret.id))
  const version = base ? ` (version ${shownVersionId(base.versionId)})` : ''
  if (options.dryRun) {
    io.err(`Dry run: nothing was written to the ${subject}${version}.`)
    return
  }
  if (!plan.edit) {
    io.err(
      `The ${subject}${version} already holds what the import would write; nothing was written.`
    )
    return
  }
  const names = plan.rows
    .filter(row => row.action === 'add' || row.action === 'change')
    .map(row => `"${shown(row.key)}"`)
    .join(', ')
  const result: WriteBackResult = base
    ? await writeEdit(
        session.client,
        base,
        plan.edit,
        editContext(session, io, secret, `import ${names} from "${shown(options.from)}"`, names)
      )
    : await createSecret(session, secret, plan.values)
  io.err(
    `${base ? 'Imported into' : 'Created'} the ${subject}: version ${shownVersionId(result.versionId)} is current.`
  )
}
