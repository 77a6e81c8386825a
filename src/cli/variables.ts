import { ActionError } from '../lib/errors.js'
import { envKeyRefusals, envName, type EnvKeyRefusal } from '../secrets/key-rules.js'
import { shownVersionId } from '../lib/log.js'
import { secretSubject, type JsonSecret } from '../secrets/read.js'
import { shown } from './io.js'
import type { SecretRef } from './context.js'
import { keyList } from './read-commands.js'

/** One key of a secret as an environment variable: `db_password` as `DB_PASSWORD`. */
export interface SecretVariable {
  key: string
  name: string
  value: string
}

/**
 * The keys `--only` names (each a key of the secret or its variable name), in the secret's order;
 * every key without it. A name the secret does not have is an error, so that a typo does not
 * silently leave a variable out.
 */
export function selectKeys(
  read: JsonSecret,
  secret: SecretRef,
  only: string | undefined
): string[] {
  const keys = Object.keys(read.values)
  if (only === undefined) return keys
  const wanted = keyList(only)
  if (wanted.length === 0)
    throw new ActionError('--only names no key; give keys separated by commas.')
  const missing = wanted.filter(item => !keys.some(key => key === item || envName(key) === item))
  if (missing.length > 0) {
    throw new ActionError(
      `The ${secretSubject(secret.role, shown(secret.id))} (version ${shownVersionId(read.versionId)}) has no key ` +
        `${missing.map(item => `"${shown(item)}"`).join(', ')}, named by --only. "secrets-deploy get ${shown(secret.id)}" lists its keys.`
    )
  }
  return keys.filter(key => wanted.some(item => key === item || envName(key) === item))
}

function refusalText(refusal: EnvKeyRefusal): string {
  switch (refusal.kind) {
    case 'not-a-name':
      return `"${shown(refusal.key)}" is not a name (letters, digits, "_" and "-", starting with a letter or "_")`
    case 'refused':
      return `"${refusal.key}" would be ${refusal.name}: ${refusal.why}`
    case 'same-name':
      return `"${refusal.other}" and "${refusal.key}" would both be ${refusal.name}`
  }
}

/**
 * The secret's keys (those `--only` names) as environment variables, with the action's rules for
 * input "env-keys": a key whose variable changes how programs run (LD_PRELOAD, NODE_OPTIONS,
 * BASH_ENV, ...) is refused, as are keys that are no name and keys that become one variable.
 */
export function secretVariables(
  read: JsonSecret,
  secret: SecretRef,
  only: string | undefined
): SecretVariable[] {
  const keys = selectKeys(read, secret, only)
  const refusals = envKeyRefusals(keys)
  if (refusals.length > 0) {
    throw new ActionError(
      `The ${secretSubject(secret.role, shown(secret.id))} has ${refusals.length > 1 ? 'keys' : 'a key'} that cannot ` +
        `become ${refusals.length > 1 ? 'environment variables' : 'an environment variable'}: ` +
        `${refusals.map(refusalText).join('; ')}. Whoever can edit the secret would then choose how the program runs. ` +
        'Leave them out with --only KEYS, or rename them in the secret.'
    )
  }
  return keys.map(key => ({ key, name: envName(key), value: read.values[key] }))
}

// A UTF-16 half of a pair without its other half: no UTF-8 text holds it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Why no environment variable can hold `value`, or undefined when one can. */
export function environmentValueProblem(value: string): string | undefined {
  if (value.includes('\u0000'))
    return 'holds a NUL character, which no environment variable can hold'
  if (LONE_SURROGATE.test(value))
    return 'holds half of a UTF-16 surrogate pair, which is no character and has no UTF-8 form'
  return undefined
}

/** Throws, naming the key and never the value, when a variable cannot hold its value. */
export function checkValues(
  variables: readonly SecretVariable[],
  secret: SecretRef,
  problem: (variable: SecretVariable) => string | undefined,
  advice: string
): void {
  for (const variable of variables) {
    const why = problem(variable)
    if (why) {
      throw new ActionError(
        `Key "${variable.key}" (${variable.name}) of the ${secretSubject(secret.role, shown(secret.id))} ${why}. ${advice}`
      )
    }
  }
}
