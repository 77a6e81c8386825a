import * as core from '@actions/core'
import type { DeployedInstance, LocatedInstances } from '../ec2/instances.js'
import { OUTPUTS } from '../lib/output-names.js'
import { envName } from '../secrets/key-rules.js'
import { ActionError } from '../lib/errors.js'

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

/**
 * Sets one step output per key and, given the variables (secretEnvironment), exports them. The
 * names were checked when the secret was read (checkOutputNames), before anything was written.
 */
export function exportSecret(values: Record<string, string>, env?: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) core.setOutput(key, value)
  for (const [name, value] of Object.entries(env ?? {})) core.exportVariable(name, value)
}

/** Sets the instance outputs: the first as instance-id/-ip, all as JSON arrays in id order. */
export function setInstanceOutputs(instances: DeployedInstance[]): LocatedInstances {
  const located = {
    instanceId: instances[0].instanceId,
    address: instances.map(i => i.address).join(','),
    instances
  }
  core.setOutput(OUTPUTS.instanceId, located.instanceId)
  core.setOutput(OUTPUTS.instanceIp, instances[0].address)
  core.setOutput(OUTPUTS.instanceIds, JSON.stringify(instances.map(i => i.instanceId)))
  core.setOutput(OUTPUTS.instanceIps, JSON.stringify(instances.map(i => i.address)))
  return located
}
