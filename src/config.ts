import * as core from '@actions/core'
import { paginateGetParametersByPath, type SSMClient } from '@aws-sdk/client-ssm'
import { ActionError, awsErrorName, describeAwsError, isKmsDenial } from './errors.js'
import { ACTION_OUTPUTS, OUTPUT_NAME } from './export.js'
import { parameterResource } from './iam-policy.js'
import { maskSecret, quoteUntrusted, unmaskableReason } from './log.js'

/** The parameters under input "config-path", as step outputs: output name -> value. */
export interface ConfigParameters {
  path: string
  values: Record<string, string>
  /** The parameter each output name comes from, for messages. */
  sources: Record<string, string>
}

/**
 * Loaded only when input "config-path" is set (it brings the SSM client). Reads every parameter under `path` (GetParametersByPath, recursive, decrypted, every page) and
 * names each by its path below `path`, "/" turned into "_". SecureString values are masked as soon
 * as a page arrives; String and StringList values stay readable. A name that cannot be a step
 * output, two parameters with one name, or a name taken by the deployment secret or the action
 * is an error that names the parameters.
 */
export async function readConfigParameters(
  ssm: SSMClient,
  path: string,
  secretKeys: { secretId: string; keys: readonly string[] }
): Promise<ConfigParameters> {
  const base = path.endsWith('/') ? path : `${path}/`
  const values: Record<string, string> = {}
  const sources: Record<string, string> = {}
  const unmasked: string[] = []
  try {
    const pages = paginateGetParametersByPath(
      { client: ssm },
      { Path: path.replace(/(.)\/+$/, '$1'), Recursive: true, WithDecryption: true }
    )
    for await (const page of pages) {
      for (const parameter of page.Parameters ?? []) {
        const name = parameter.Name ?? ''
        const value = parameter.Value ?? ''
        if (parameter.Type === 'SecureString') {
          maskSecret(value)
          if (unmaskableReason(value)) unmasked.push(`"${name}" (${unmaskableReason(value)})`)
        }
        const output = outputName(name, base)
        const other = sources[output]
        if (other !== undefined) {
          const [first, second] = [other, name].sort()
          throw new ActionError(
            `Parameters "${quoteUntrusted(first, 300)}" and "${quoteUntrusted(second, 300)}" under input "config-path" (${path}) ` +
              `both become the output "${output}". Rename one of them in Parameter Store.`
          )
        }
        sources[output] = name
        values[output] = value
      }
    }
  } catch (error) {
    if (error instanceof ActionError) throw error
    throw explainError(error, path)
  }
  if (unmasked.length > 0) {
    core.warning(
      `SecureString parameter${unmasked.length > 1 ? 's' : ''} ${unmasked.join(', ')} under input "config-path" ` +
        'cannot be masked in the log: masking it would hide that text everywhere and drop job outputs that contain it. ' +
        'Store it as a String if it is not secret.'
    )
  }
  checkNames(sources, path, secretKeys)
  return { path, values, sources }
}

/** "/fastapi/staging/db/host" under "/fastapi/staging/" -> "db_host". */
function outputName(name: string, base: string): string {
  const relative = name.startsWith(base) ? name.slice(base.length) : name.replace(/^\//, '')
  return relative.replace(/\//g, '_')
}

function checkNames(
  sources: Record<string, string>,
  path: string,
  secret: { secretId: string; keys: readonly string[] }
): void {
  for (const [output, name] of Object.entries(sources)) {
    const parameter = `Parameter "${quoteUntrusted(name, 300)}" under input "config-path" (${path})`
    if (!OUTPUT_NAME.test(output)) {
      throw new ActionError(
        `${parameter} would become the output "${quoteUntrusted(output, 300)}", which cannot be a step output name: ` +
          'use letters, digits, "_" and "-" below the path, starting with a letter or "_". Rename the parameter.'
      )
    }
    if (ACTION_OUTPUTS.includes(output)) {
      throw new ActionError(
        `${parameter} would become the output "${output}", which is also an output of this action ` +
          `(${ACTION_OUTPUTS.join(', ')}). Rename the parameter.`
      )
    }
    if (secret.keys.includes(output)) {
      throw new ActionError(
        `${parameter} would become the output "${output}", which the deployment secret "${secret.secretId}" also has ` +
          'as a key: one would override the other. Rename the parameter or the key.'
      )
    }
  }
}

function explainError(error: unknown, path: string): ActionError {
  const resource = parameterResource(path)
  const call = {
    action: 'ssm:GetParametersByPath',
    subject: `the parameters under "${path}" (input "config-path")`,
    resource
  }
  const name = awsErrorName(error)
  if (!isKmsDenial(error) && /^(AccessDeniedException|AccessDenied)$/.test(name)) {
    return new ActionError(
      `Access denied: ssm:GetParametersByPath on the parameters under "${path}" (input "config-path"). Allow ` +
        `"ssm:GetParametersByPath" on "${resource}", and "kms:Decrypt" on the KMS key of SecureString parameters ` +
        'encrypted with a customer managed key, in the policy of the role or user the workflow runs as (see "IAM policy" in the README).'
    )
  }
  return describeAwsError(error, call)
}
