import * as core from '@actions/core'
import { envName, refusedEnvName } from './env-names.js'
import { ActionError } from './errors.js'

export const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

/** The outputs the action sets itself (action.yml lists each); one name for each, used everywhere. */
export const OUTPUTS = {
  instanceId: 'instance-id',
  instanceIp: 'instance-ip',
  instanceIds: 'instance-ids',
  instanceIps: 'instance-ips',
  commandId: 'command-id',
  secretVersionId: 'secret-version-id',
  stackOutputs: 'stack-outputs',
  stackChanged: 'stack-changed',
  restarted: 'restarted',
  changes: 'changes',
  diff: 'diff'
} as const

/** A secret key of one of these names would be overwritten by the action. */
export const ACTION_OUTPUTS: readonly string[] = Object.values(OUTPUTS)

/** Checks that every key can be a step output name. */
export function checkOutputNames(secretId: string, keys: readonly string[]): void {
  const taken = keys.filter(key => ACTION_OUTPUTS.includes(key))
  if (taken.length > 0) {
    throw new ActionError(
      `The deployment secret "${secretId}" has key "${taken[0]}", which is also an output of this action ` +
        `(${ACTION_OUTPUTS.join(', ')}). Rename the key in the secret.`
    )
  }
  const bad = keys.filter(key => !OUTPUT_NAME.test(key))
  if (bad.length > 0) {
    throw new ActionError(
      `The deployment secret "${secretId}" has key${bad.length > 1 ? 's' : ''} ${bad.map(k => JSON.stringify(k)).join(', ')} ` +
        'that cannot be a step output name: use letters, digits, "_" and "-", starting with a letter or "_". Rename the key in the secret.'
    )
  }
}

/**
 * Checks the keys input "env-keys" declares, before any secret is read: each must be a key name,
 * no two may become the same variable, and none may become a variable that changes how programs
 * run (src/env-names.ts), even when declared: whoever can write the secret would choose its value.
 */
export function checkEnvKeys(envKeys: readonly string[]): void {
  const source = new Map<string, string>()
  for (const key of envKeys) {
    if (!OUTPUT_NAME.test(key)) {
      throw new ActionError(
        `Input "env-keys" lists ${JSON.stringify(key)}, which is not a key name: use letters, digits, "_" and "-", ` +
          'starting with a letter or "_", separated by commas or new lines.'
      )
    }
    const name = envName(key)
    const why = refusedEnvName(name)
    if (why) {
      throw new ActionError(
        `Input "env-keys" lists "${key}", which would become the environment variable ${name}: ${why}. ` +
          'Whoever can edit the secret would then choose how programs in this job run, so it is refused even when declared. ' +
          'Remove it from "env-keys" and rename the key in the secret.'
      )
    }
    const other = source.get(name)
    if (other !== undefined && other !== key) {
      throw new ActionError(
        `Input "env-keys" lists "${other}" and "${key}", which both become the environment variable ${name}. Keep one of them.`
      )
    }
    source.set(name, key)
  }
}

/**
 * The environment variables the deployment secret provides (for export-env and for the CDK app):
 * only the keys the workflow declared in "env-keys", never names the secret chooses. A declared
 * key the secret lacks is an error, so that a typo does not silently leave a variable unset. With
 * input "config-path", the parameters' output names count as keys too (the same rule holds).
 */
export function secretEnvironment(
  secretId: string,
  values: Record<string, string>,
  envKeys: readonly string[],
  config?: { path: string; values: Record<string, string> }
): Record<string, string> {
  const all = { ...config?.values, ...values }
  const missing = envKeys.filter(key => !(key in all))
  if (missing.length > 0) {
    const where = config
      ? ` and no parameter under input "config-path" (${config.path}) is named so`
      : ''
    throw new ActionError(
      `The deployment secret "${secretId}" has no key${missing.length > 1 ? 's' : ''} ${missing.map(key => `"${key}"`).join(', ')}${where}, ` +
        'listed in input "env-keys" (the keys that become environment variables). Add ' +
        `${missing.length > 1 ? 'them' : 'it'} to the secret${config ? ' or the path' : ''}, or remove ${missing.length > 1 ? 'them' : 'it'} from "env-keys".`
    )
  }
  return Object.fromEntries(envKeys.map(key => [envName(key), all[key]]))
}

/** Sets one step output per key and, given the variables (secretEnvironment), exports them. */
export function exportSecret(
  secretId: string,
  values: Record<string, string>,
  env?: Record<string, string>
): void {
  checkOutputNames(secretId, Object.keys(values))
  for (const [key, value] of Object.entries(values)) core.setOutput(key, value)
  for (const [name, value] of Object.entries(env ?? {})) core.exportVariable(name, value)
}
