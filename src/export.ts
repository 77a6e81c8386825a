import * as core from '@actions/core'
import { envKeyRefusals, envName } from './env-names.js'
import { ActionError } from './errors.js'
import { quoteUntrusted } from './log.js'

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

/**
 * An output name as the runner compares it: `steps.<id>.outputs` is a dictionary that ignores
 * case, and GITHUB_OUTPUT's lines are applied in order, so a later `Restarted=true` replaces an
 * earlier `restarted=false`. Names are checked against OUTPUT_NAME (ASCII) before they are
 * compared, where lower-casing is exactly the runner's ordinal case-insensitive comparison.
 */
export function outputNameKey(name: string): string {
  return name.toLowerCase()
}

/** The action's own output that the runner takes `name` for, if any. */
export function actionOutputLike(name: string): string | undefined {
  return ACTION_OUTPUTS.find(output => outputNameKey(output) === outputNameKey(name))
}

/** Who sets an output: the action, the deployment secret (one output per key), or Parameter Store. */
export type OutputSetter =
  | { kind: 'action' }
  | { kind: 'host-key' }
  | { kind: 'secret-key'; secretId: string }
  | { kind: 'parameter'; parameter: string; path: string }

interface Claim {
  name: string
  setter: OutputSetter
}

const CASE_NOTE = 'the runner compares step output names without case'

/**
 * Every output name a run sets, as the runner tells them apart: a second name that the runner
 * takes for one already claimed fails the run, naming both spellings and where each comes from,
 * before any output is written.
 */
export class OutputNames {
  private readonly claims = new Map<string, Claim>()

  /** The action's own outputs are claimed first: nothing may stand in for them. */
  constructor() {
    for (const name of ACTION_OUTPUTS)
      this.claims.set(outputNameKey(name), { name, setter: { kind: 'action' } })
  }

  /** Claims `name` for `setter`; throws an ActionError when the runner would take it for another. */
  claim(name: string, setter: OutputSetter): void {
    const key = outputNameKey(name)
    const earlier = this.claims.get(key)
    if (!earlier) {
      this.claims.set(key, { name, setter })
      return
    }
    // The key input "host-key" names is the secret's own key of that name: one output, one setter.
    const oneKey = (a: OutputSetter, b: OutputSetter) =>
      a.kind === 'host-key' && b.kind === 'secret-key'
    if (earlier.name === name && (oneKey(earlier.setter, setter) || oneKey(setter, earlier.setter)))
      return
    throw new ActionError(clashMessage(earlier, { name, setter }))
  }
}

const quoted = (name: string) => `"${quoteUntrusted(name, 200)}"`

/** The earlier claim, as a clause of the message about the later one: "which is also ...". */
function describeEarlier(earlier: Claim, later: Claim): string {
  const same = earlier.name === later.name
  const takenFor = `which the runner takes for ${quoted(earlier.name)},`
  const caseNote = same ? '' : `, as ${CASE_NOTE}`
  switch (earlier.setter.kind) {
    case 'action':
      return `${same ? 'which is also' : takenFor} an output of this action (${ACTION_OUTPUTS.join(', ')})${caseNote}`
    case 'host-key':
      return `${same ? 'which is also' : takenFor} the key named by input "host-key", which this run writes the address into and sets as an output${caseNote}`
    case 'secret-key':
      return same
        ? `which the deployment secret "${earlier.setter.secretId}" also has as a key`
        : `${takenFor} a key of the deployment secret "${earlier.setter.secretId}"${caseNote}`
    case 'parameter':
      return `${same ? 'which is also' : takenFor} the output of parameter ${quoted(earlier.setter.parameter)}${caseNote}`
  }
}

function clashMessage(earlier: Claim, later: Claim): string {
  const { setter } = later
  if (setter.kind === 'secret-key') {
    const secret = `The deployment secret "${setter.secretId}"`
    if (earlier.setter.kind === 'secret-key') {
      return (
        `${secret} has keys ${quoted(earlier.name)} and ${quoted(later.name)}, which the runner takes for one step output, ` +
        `as ${CASE_NOTE}: one would override the other. Keep one of them in the secret.`
      )
    }
    const fix =
      earlier.setter.kind === 'host-key'
        ? 'Rename the key in the secret, or spell it in input "host-key" as the secret does.'
        : 'Rename the key in the secret.'
    return `${secret} has key ${quoted(later.name)}, ${describeEarlier(earlier, later)}. ${fix}`
  }
  if (setter.kind === 'parameter') {
    const where = `under input "config-path" (${setter.path})`
    if (earlier.setter.kind === 'parameter') {
      // In the order of the parameters' names, whichever order Parameter Store listed them in.
      const [first, second] = [
        { parameter: earlier.setter.parameter, output: earlier.name },
        { parameter: setter.parameter, output: later.name }
      ].sort((a, b) => (a.parameter < b.parameter ? -1 : 1))
      return first.output === second.output
        ? `Parameters ${quoted(first.parameter)} and ${quoted(second.parameter)} ${where} both become the output ` +
            `${quoted(first.output)}. Rename one of them in Parameter Store.`
        : `Parameters ${quoted(first.parameter)} and ${quoted(second.parameter)} ${where} become the outputs ` +
            `${quoted(first.output)} and ${quoted(second.output)}, which the runner takes for one, as ${CASE_NOTE}. ` +
            'Rename one of them in Parameter Store.'
    }
    const fix =
      earlier.setter.kind === 'action'
        ? '. Rename the parameter.'
        : ': one would override the other. Rename the parameter or the key.'
    return (
      `Parameter ${quoted(setter.parameter)} ${where} would become the output ${quoted(later.name)}, ` +
      `${describeEarlier(earlier, later)}${fix}`
    )
  }
  // The action's own names and the host key are claimed before any key or parameter.
  return `The output ${quoted(later.name)} would be set twice: ${describeEarlier(earlier, later)}.`
}

/**
 * Checks that every key of the deployment secret can be a step output name and that the runner
 * takes no two of them, or one of them and an output of the action, for one output. `hostKey`: the
 * key the run writes the address into and sets as an output (when it deploys). Returns the names
 * claimed, for the outputs still to come (input "config-path").
 */
export function checkOutputNames(
  secretId: string,
  keys: readonly string[],
  options: { hostKey?: string } = {}
): OutputNames {
  const bad = keys.filter(key => !OUTPUT_NAME.test(key))
  if (bad.length > 0) {
    throw new ActionError(
      `The deployment secret "${secretId}" has key${bad.length > 1 ? 's' : ''} ${bad.map(k => JSON.stringify(quoteUntrusted(k, 200))).join(', ')} ` +
        'that cannot be a step output name: use letters, digits, "_" and "-", starting with a letter or "_". Rename the key in the secret.'
    )
  }
  const names = new OutputNames()
  if (options.hostKey !== undefined) names.claim(options.hostKey, { kind: 'host-key' })
  for (const key of keys) names.claim(key, { kind: 'secret-key', secretId })
  return names
}

/**
 * Checks the keys input "env-keys" declares, before any secret is read: each must be a key name,
 * no two may become the same variable, and none may become a variable that changes how programs
 * run (src/env-names.ts), even when declared: whoever can write the secret would choose its value.
 * Variable names are upper-cased (envName) and compared so, as Windows and the runner's
 * environment there compare them: keys that differ only in case (`Foo`, `foo`) are one variable.
 */
export function checkEnvKeys(envKeys: readonly string[]): void {
  const [refusal] = envKeyRefusals(envKeys)
  switch (refusal?.kind) {
    case undefined:
      return
    case 'not-a-name':
      throw new ActionError(
        `Input "env-keys" lists ${JSON.stringify(refusal.key)}, which is not a key name: use letters, digits, "_" and "-", ` +
          'starting with a letter or "_", separated by commas or new lines.'
      )
    case 'refused':
      throw new ActionError(
        `Input "env-keys" lists "${refusal.key}", which would become the environment variable ${refusal.name}: ${refusal.why}. ` +
          'Whoever can edit the secret would then choose how programs in this job run, so it is refused even when declared. ' +
          'Remove it from "env-keys" and rename the key in the secret.'
      )
    case 'same-name':
      throw new ActionError(
        `Input "env-keys" lists "${refusal.other}" and "${refusal.key}", which both become the environment variable ${refusal.name}. Keep one of them.`
      )
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

/**
 * Sets one step output per key and, given the variables (secretEnvironment), exports them. The
 * names were checked when the secret was read (checkOutputNames), before anything was written.
 */
export function exportSecret(values: Record<string, string>, env?: Record<string, string>): void {
  for (const [key, value] of Object.entries(values)) core.setOutput(key, value)
  for (const [name, value] of Object.entries(env ?? {})) core.exportVariable(name, value)
}
