import { paginateGetParametersByPath, type SSMClient } from '@aws-sdk/client-ssm'
import { ActionError } from '../lib/errors.js'
import { awsErrorName, describeAwsError, isKmsDenial } from '../aws/errors.js'
import { OUTPUT_NAME, type OutputNames } from './key-rules.js'
import { parameterResource } from './iam-policy.js'
import { maskSecret, quoteUntrusted, unmaskableReason } from '../lib/log.js'
import type { Logger } from '../lib/log.js'

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
 * output, or that the runner takes for one already claimed in `names` (the action's outputs, the
 * deployment secret's keys, another parameter: it compares them without case), is an error that
 * names both, raised before any output is written.
 */
export async function readConfigParameters(
  ssm: SSMClient,
  path: string,
  names: OutputNames,
  log: Logger
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
          const reason = unmaskableReason(value)
          if (reason) unmasked.push(`"${quoteUntrusted(name, 300)}" (${reason})`)
        }
        const output = outputName(name, base)
        checkName(output, name, path)
        names.claim(output, { kind: 'parameter', parameter: name, path })
        sources[output] = name
        values[output] = value
      }
    }
  } catch (error) {
    if (error instanceof ActionError) throw error
    throw explainError(error, path)
  }
  if (unmasked.length > 0) {
    log.warning(
      `SecureString parameter${unmasked.length > 1 ? 's' : ''} ${unmasked.join(', ')} under input "config-path" ` +
        'cannot be masked in the log: masking it would hide that text everywhere and drop job outputs that contain it. ' +
        'Store it as a String if it is not secret.'
    )
  }
  return { path, values, sources }
}

/** "/fastapi/staging/db/host" under "/fastapi/staging/" -> "db_host". */
function outputName(name: string, base: string): string {
  const relative = name.startsWith(base) ? name.slice(base.length) : name.replace(/^\//, '')
  return relative.replace(/\//g, '_')
}

function checkName(output: string, name: string, path: string): void {
  if (OUTPUT_NAME.test(output)) return
  throw new ActionError(
    `Parameter "${quoteUntrusted(name, 300)}" under input "config-path" (${path}) would become the output ` +
      `"${quoteUntrusted(output, 300)}", which cannot be a step output name: use letters, digits, "_" and "-" below ` +
      'the path, starting with a letter or "_". Rename the parameter.'
  )
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
        'encrypted with a customer managed key, in the policy of the role or user the workflow runs as (see docs/iam-policy.md of secrets-deploy-action).'
    )
  }
  return describeAwsError(error, call)
}
