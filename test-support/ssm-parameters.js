// SSM Parameter Store for the local AWS endpoint (test-support/aws-endpoint.js): GetParametersByPath
// in SSM's JSON 1.1 wire format, paged as SSM pages it (MaxResults 1 to 10, an opaque NextToken),
// with SecureString values encrypted unless WithDecryption is true. Test support only.
import { SsmError } from './ssm-run-command.js'

/**
 * @typedef {object} StoredParameter
 * @property {string} name
 * @property {'String' | 'StringList' | 'SecureString'} type
 * @property {string} value
 * @property {number} version
 * @property {number} modified epoch seconds
 */

// SSM's own rule for names: letters, digits and . - _ / only, at most 2048 characters.
const NAME = /^[A-Za-z0-9_.\-/]{1,2048}$/

export class LocalParameterStore {
  /** @param {{ region: string, accountId: string }} where */
  constructor(where) {
    this.region = where.region
    this.accountId = where.accountId
    /** @type {Map<string, StoredParameter>} */
    this.parameters = new Map()
  }

  /**
   * Creates or overwrites a parameter, as PutParameter with Overwrite does.
   * @param {string} name @param {string} value
   * @param {'String' | 'StringList' | 'SecureString'} [type]
   */
  put(name, value, type = 'String') {
    if (!name.startsWith('/') || !NAME.test(name)) throw new Error(`bad parameter name ${name}`)
    const version = (this.parameters.get(name)?.version ?? 0) + 1
    this.parameters.set(name, {
      name,
      type,
      value,
      version,
      modified: Math.floor(Date.now() / 1000)
    })
  }

  /** @type {Record<string, (this: LocalParameterStore, params: any) => object>} */
  actions = {
    GetParametersByPath(params) {
      const path = String(params.Path ?? '')
      if (!path.startsWith('/') || !NAME.test(path)) {
        throw new SsmError(
          'ValidationException',
          `1 validation error detected: Value '${path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(/[a-zA-Z0-9.\\-_]+)*/?$`
        )
      }
      const size = params.MaxResults ?? 10
      if (!Number.isInteger(size) || size < 1 || size > 10) {
        throw new SsmError(
          'ValidationException',
          `1 validation error detected: Value '${size}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`
        )
      }
      const prefix = path.endsWith('/') ? path : `${path}/`
      const matching = [...this.parameters.values()]
        .filter(p => p.name.startsWith(prefix))
        .filter(p => params.Recursive || !p.name.slice(prefix.length).includes('/'))
        .sort((a, b) => a.name.localeCompare(b.name))
      const start = params.NextToken ? decodeToken(params.NextToken) : 0
      const page = matching.slice(start, start + size)
      const end = start + page.length
      return {
        Parameters: page.map(p => ({
          Name: p.name,
          Type: p.type,
          Value:
            p.type === 'SecureString' && !params.WithDecryption
              ? Buffer.from(`encrypted:${p.value}`).toString('base64')
              : p.value,
          Version: p.version,
          LastModifiedDate: p.modified,
          ARN: `arn:aws:ssm:${this.region}:${this.accountId}:parameter${p.name}`,
          DataType: 'text'
        })),
        ...(end < matching.length ? { NextToken: encodeToken(end) } : {})
      }
    }
  }
}

/** @param {number} index */
function encodeToken(index) {
  return Buffer.from(JSON.stringify({ index })).toString('base64')
}

/** @param {unknown} token */
function decodeToken(token) {
  try {
    const index = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')).index
    if (Number.isInteger(index) && index >= 0) return index
  } catch {
    // fall through
  }
  throw new SsmError('ValidationException', 'The nextToken is not valid.')
}
