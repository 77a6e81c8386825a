// IAM for the local AWS endpoint (test-support/aws-endpoint.js): instance profiles and their roles
// (`addRole`, `addInstanceProfile`), GetInstanceProfile and SimulatePrincipalPolicy in IAM's real
// wire shape (the Query protocol: a form-encoded request with Version=2010-05-08, an XML answer
// in the namespace https://iam.amazonaws.com/doc/2010-05-08/), and Secrets Manager's
// GetResourcePolicy. The simulator evaluates the role's policies and the resource policy given,
// as IAM's does for one account: an explicit Deny wins, else an Allow, else implicitDeny.
//
// The answers' shape is the IAM API Reference's own samples:
// - API_GetInstanceProfile, Sample Response:
//   <GetInstanceProfileResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//     <GetInstanceProfileResult><InstanceProfile>
//       <InstanceProfileId>AIPAD5ARO2C5EXAMPLE3G</InstanceProfileId>
//       <Roles><member><Path>/application_abc/component_xyz/</Path>
//         <Arn>arn:aws:iam::123456789012:role/application_abc/component_xyz/S3Access</Arn>
//         <RoleName>S3Access</RoleName><AssumeRolePolicyDocument>...</AssumeRolePolicyDocument>
//         <CreateDate>2012-05-09T15:45:35Z</CreateDate><RoleId>AROACVYKSVTSZFEXAMPLE</RoleId>
//       </member></Roles>
//       <InstanceProfileName>Webserver</InstanceProfileName><Path>/application_abc/component_xyz/</Path>
//       <Arn>arn:aws:iam::123456789012:instance-profile/application_abc/component_xyz/Webserver</Arn>
//       <CreateDate>2012-05-09T16:27:11Z</CreateDate>
//     </InstanceProfile></GetInstanceProfileResult>
//     <ResponseMetadata><RequestId>37289fda-99f2-11e1-a4c3-27EXAMPLE804</RequestId></ResponseMetadata>
//   </GetInstanceProfileResponse>
// - API_SimulatePrincipalPolicy, Example 1, Sample Response:
//   <SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//     <SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>
//       <member><MatchedStatements><member><SourcePolicyId>PolicyInputList.1</SourcePolicyId>
//         <EndPosition><Column>4</Column><Line>7</Line></EndPosition>
//         <StartPosition><Column>16</Column><Line>3</Line></StartPosition></member></MatchedStatements>
//         <MissingContextValues/><EvalResourceName>arn:aws:s3:::my-test-bucket</EvalResourceName>
//         <EvalDecision>allowed</EvalDecision><EvalActionName>s3:PutObject</EvalActionName></member>
//     </EvaluationResults></SimulatePrincipalPolicyResult>
//     <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
//   </SimulatePrincipalPolicyResponse>
// Errors: <ErrorResponse xmlns="..."><Error><Type>Sender</Type><Code>NoSuchEntity</Code>
// <Message>...</Message></Error><RequestId>...</RequestId></ErrorResponse>.
import { randomUUID } from 'node:crypto'

export const IAM_VERSION = '2010-05-08'
const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/'

/**
 * @typedef {{ Sid?: string, Effect: 'Allow' | 'Deny', Action: string | string[], Resource?: string | string[], Principal?: unknown }} PolicyStatement
 * @typedef {{ name: string, arn: string, policies: { name: string, statements: PolicyStatement[] }[] }} Role
 */

export class IamError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** @param {string} text */
function xml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** IAM's wildcards: `*` any run of characters, `?` one. @param {string} pattern @param {string} value */
function matches(pattern, value) {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${regex}$`, 'i').test(value)
}

/**
 * @template T
 * @param {T | T[] | undefined} list
 * @returns {T[]}
 */
const listOf = list => (list === undefined ? [] : Array.isArray(list) ? list : [list])

export class LocalIam {
  /** @param {{ accountId: string, findSecret(id: unknown): { name: string, arn: string } }} aws */
  constructor(aws) {
    this.aws = aws
    /** @type {Map<string, Role>} */
    this.roles = new Map()
    /** @type {Map<string, { name: string, arn: string, roles: string[] }>} */
    this.profiles = new Map()
    /** @type {Map<string, string>} secret name -> its resource policy (PutResourcePolicy) */
    this.resourcePolicies = new Map()
    /** @type {Map<string, string>} secret name -> the customer managed KMS key it is encrypted with */
    this.secretKeys = new Map()
    /** @type {Record<string, (form: URLSearchParams) => string>} */
    this.actions = {
      GetInstanceProfile: form => this.getInstanceProfile(form),
      SimulatePrincipalPolicy: form => this.simulatePrincipalPolicy(form)
    }
    /**
     * Secrets Manager's operations on resource policies, answered in its JSON protocol.
     * @type {Record<string, (params: Record<string, unknown>) => object>}
     */
    this.secretsManagerActions = {
      /** @param {Record<string, unknown>} params */
      GetResourcePolicy: params => {
        const secret = this.aws.findSecret(params.SecretId)
        const policy = this.resourcePolicies.get(secret.name)
        return { ARN: secret.arn, Name: secret.name, ...(policy ? { ResourcePolicy: policy } : {}) }
      }
    }
  }

  /** @param {string} name @param {PolicyStatement[]} statements the role's one inline policy */
  addRole(name, statements) {
    const arn = `arn:aws:iam::${this.aws.accountId}:role/${name}`
    this.roles.set(name, { name, arn, policies: [{ name: `${name}-policy`, statements }] })
    return arn
  }

  /** @param {string} name @param {string[]} roleNames @returns {string} the profile's ARN */
  addInstanceProfile(name, roleNames) {
    const arn = `arn:aws:iam::${this.aws.accountId}:instance-profile/${name}`
    this.profiles.set(name, { name, arn, roles: roleNames })
    return arn
  }

  /** @param {string} secretName @param {object} policy */
  putResourcePolicy(secretName, policy) {
    this.resourcePolicies.set(this.aws.findSecret(secretName).name, JSON.stringify(policy))
  }

  /** DescribeSecret's KmsKeyId for a secret under a customer managed key. @param {string} name */
  describeKey(name) {
    const key = this.secretKeys.get(name)
    return key ? { KmsKeyId: key } : {}
  }

  /** @param {URLSearchParams} form */
  getInstanceProfile(form) {
    const name = form.get('InstanceProfileName') ?? ''
    const profile = this.profiles.get(name)
    if (!profile)
      throw new IamError(404, 'NoSuchEntity', `Instance Profile ${name} cannot be found.`)
    const roles = profile.roles
      .map(roleName => this.roles.get(roleName))
      .filter(role => role !== undefined)
      .map(
        role =>
          `<member><Path>/</Path><Arn>${xml(role.arn)}</Arn><RoleName>${xml(role.name)}</RoleName>` +
          `<AssumeRolePolicyDocument>${encodeURIComponent('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":["sts:AssumeRole"]}]}')}</AssumeRolePolicyDocument>` +
          `<CreateDate>2012-05-09T15:45:35Z</CreateDate><RoleId>AROACVYKSVTSZFEXAMPLE</RoleId></member>`
      )
      .join('')
    return (
      `<InstanceProfile><InstanceProfileId>AIPAD5ARO2C5EXAMPLE3G</InstanceProfileId><Roles>${roles}</Roles>` +
      `<InstanceProfileName>${xml(profile.name)}</InstanceProfileName><Path>/</Path>` +
      `<Arn>${xml(profile.arn)}</Arn><CreateDate>2012-05-09T16:27:11Z</CreateDate></InstanceProfile>`
    )
  }

  /** @param {URLSearchParams} form */
  simulatePrincipalPolicy(form) {
    const source = form.get('PolicySourceArn') ?? ''
    const role = [...this.roles.values()].find(r => r.arn === source)
    if (!role)
      throw new IamError(404, 'NoSuchEntity', `The role with ARN ${source} cannot be found.`)
    const actions = members(form, 'ActionNames')
    const resources = members(form, 'ResourceArns')
    const resourcePolicy = form.get('ResourcePolicy')
    /** @type {{ id: string, statements: PolicyStatement[], resource: boolean }[]} */
    const sources = role.policies.map(p => ({
      id: p.name,
      statements: p.statements,
      resource: false
    }))
    if (resourcePolicy)
      sources.push({
        id: 'ResourcePolicy',
        statements: listOf(JSON.parse(resourcePolicy).Statement),
        resource: true
      })
    const results = actions
      .flatMap(action =>
        (resources.length ? resources : ['*']).map(resource => ({ action, resource }))
      )
      .map(({ action, resource }) => {
        const { decision, matched } = evaluate(sources, action, resource, role.arn)
        const statements = matched
          .map(
            id =>
              `<member><SourcePolicyId>${xml(id)}</SourcePolicyId><SourcePolicyType>${id === 'ResourcePolicy' ? 'resource' : 'role'}</SourcePolicyType></member>`
          )
          .join('')
        return (
          `<member><MatchedStatements>${statements}</MatchedStatements><MissingContextValues/>` +
          `<EvalResourceName>${xml(resource)}</EvalResourceName><EvalDecision>${decision}</EvalDecision>` +
          `<EvalActionName>${xml(action)}</EvalActionName></member>`
        )
      })
      .join('')
    return `<IsTruncated>false</IsTruncated><EvaluationResults>${results}</EvaluationResults>`
  }

  /** The XML answer of an action: its Result element, wrapped as IAM wraps it. @param {string} action @param {string} inner */
  static response(action, inner) {
    return (
      `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${inner}</${action}Result>` +
      `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
    )
  }

  /** @param {string} code @param {string} message */
  static errorResponse(code, message) {
    return (
      `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${xml(code)}</Code>` +
      `<Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
    )
  }
}

/** A Query list parameter: Name.member.1, Name.member.2, ... @param {URLSearchParams} form @param {string} name */
function members(form, name) {
  const values = []
  for (let i = 1; form.has(`${name}.member.${i}`); i++)
    values.push(form.get(`${name}.member.${i}`) ?? '')
  return values
}

/**
 * @param {{ id: string, statements: PolicyStatement[], resource: boolean }[]} sources
 * @param {string} action @param {string} resource @param {string} principal
 * @returns {{ decision: 'allowed' | 'explicitDeny' | 'implicitDeny', matched: string[] }}
 */
function evaluate(sources, action, resource, principal) {
  const applies = (/** @type {PolicyStatement} */ s, /** @type {boolean} */ isResource) =>
    listOf(s.Action).some(a => matches(a, action)) &&
    (isResource || listOf(s.Resource).some(r => matches(r, resource))) &&
    (!isResource || principalMatches(s.Principal, principal))
  const hits = (/** @type {'Allow' | 'Deny'} */ effect) =>
    sources
      .filter(src => src.statements.some(s => s.Effect === effect && applies(s, src.resource)))
      .map(src => src.id)
  const denied = hits('Deny')
  if (denied.length) return { decision: 'explicitDeny', matched: denied }
  const allowed = hits('Allow')
  return allowed.length
    ? { decision: 'allowed', matched: allowed }
    : { decision: 'implicitDeny', matched: [] }
}

/** @param {unknown} principal @param {string} arn */
function principalMatches(principal, arn) {
  if (principal === '*') return true
  const aws = /** @type {{ AWS?: string | string[] }} */ (principal ?? {}).AWS
  return listOf(aws).some(p => p === '*' || p === arn)
}
