import * as core from '@actions/core'
import { ActionError } from './errors.js'

export const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

// Variables a secret key must not replace: the process loader's, the runner's defaults, and the
// AWS SDK's. Other GITHUB_* names are fine: the reference secret's github_repo is GITHUB_REPO.
const RESERVED_ENV = new Set(
  `PATH HOME SHELL USER CI NODE_OPTIONS NODE_PATH LD_PRELOAD LD_LIBRARY_PATH
   GITHUB_ACTION GITHUB_ACTION_PATH GITHUB_ACTION_REPOSITORY GITHUB_ACTIONS GITHUB_ACTOR
   GITHUB_ACTOR_ID GITHUB_API_URL GITHUB_BASE_REF GITHUB_ENV GITHUB_EVENT_NAME GITHUB_EVENT_PATH
   GITHUB_GRAPHQL_URL GITHUB_HEAD_REF GITHUB_JOB GITHUB_OUTPUT GITHUB_PATH GITHUB_REF
   GITHUB_REF_NAME GITHUB_REF_PROTECTED GITHUB_REF_TYPE GITHUB_REPOSITORY GITHUB_REPOSITORY_ID
   GITHUB_REPOSITORY_OWNER GITHUB_REPOSITORY_OWNER_ID GITHUB_RETENTION_DAYS GITHUB_RUN_ATTEMPT
   GITHUB_RUN_ID GITHUB_RUN_NUMBER GITHUB_SERVER_URL GITHUB_SHA GITHUB_STATE GITHUB_STEP_SUMMARY
   GITHUB_TOKEN GITHUB_TRIGGERING_ACTOR GITHUB_WORKFLOW GITHUB_WORKFLOW_REF GITHUB_WORKFLOW_SHA
   GITHUB_WORKSPACE`.split(/\s+/)
)
const RESERVED_ENV_PREFIX = /^(RUNNER_|ACTIONS_|INPUT_|AWS_)/

/** `ec2_key_name` -> `EC2_KEY_NAME`, `api-key` -> `API_KEY`. */
export function envName(key: string): string {
  return key.toUpperCase().replace(/-/g, '_')
}

/** The outputs the action sets itself; a secret key of the same name would be overwritten. */
export const ACTION_OUTPUTS = [
  'instance-id',
  'instance-ip',
  'secret-version-id',
  'stack-outputs',
  'restarted'
]

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
 * The environment variables a secret's keys become (for `export-env` and for the CDK app), with
 * the checks that keep one key from silently replacing another or the job's own variables.
 */
export function secretEnvironment(
  secretId: string,
  values: Record<string, string>
): Record<string, string> {
  const env: Record<string, string> = {}
  const source: Record<string, string> = {}
  for (const [key, value] of Object.entries(values)) {
    const name = envName(key)
    if (RESERVED_ENV.has(name) || RESERVED_ENV_PREFIX.test(name)) {
      throw new ActionError(
        `Key "${key}" of the deployment secret "${secretId}" would become the environment variable ${name}, ` +
          'which the runner or the AWS SDK relies on. Rename the key in the secret.'
      )
    }
    if (name in env) {
      throw new ActionError(
        `Keys "${source[name]}" and "${key}" of the deployment secret "${secretId}" both become the ` +
          `environment variable ${name}. Rename one of them in the secret.`
      )
    }
    env[name] = value
    source[name] = key
  }
  return env
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
