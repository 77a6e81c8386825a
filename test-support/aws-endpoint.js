// A local stand-in for the two AWS services the action calls, for tests and local runs only (never
// bundled). It speaks the real wire protocols, so the real AWS SDK signs, serializes, parses and
// retries against it exactly as against AWS: Secrets Manager's JSON 1.1 protocol and EC2's Query
// protocol (form-encoded requests, XML answers), and SSM Run Command's JSON 1.1 protocol
// (test-support/ssm-run-command.js, which runs each instance's command through stand-ins), and ELBv2
// target groups in its Query protocol (test-support/elbv2.js). Version stages follow AWS's rules, including the
// compare-and-swap of UpdateSecretVersionStage that the write-back relies on.
import { createServer } from 'node:http'
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { LocalParameterStore } from './ssm-parameters.js'
import { Ec2Error, LocalSecurityGroups } from './security-groups.js'
import { LocalRunCommand, SsmError } from './ssm-run-command.js'
import { LocalS3 } from './s3-objects.js'
import { CloudTrailError, LocalCloudTrail } from './cloudtrail.js'
import { IAM_VERSION, IamError, LocalIam } from './iam.js'
import { ELBV2_VERSION, LocalTargetGroups } from './elbv2.js'

const CURRENT = 'AWSCURRENT'
const PREVIOUS = 'AWSPREVIOUS'
const STS_VERSION = '2011-06-15'
const CONSOLE_BYTES_KEPT = 64 * 1024

/**
 * @typedef {{ versionId: string, secretString: string, stages: Set<string>, created: number }} SecretVersion
 * @typedef {{ name: string, arn: string, versions: Map<string, SecretVersion> }} StoredSecret
 * @typedef {{ instanceId: string, state?: string, publicIp?: string, privateIp?: string,
 *   tags?: Record<string, string>, consoleOutput?: string, latestConsoleOutput?: string,
 *   instanceProfileArn?: string }} Instance
 *   `consoleOutput`: what GetConsoleOutput serves; `latestConsoleOutput`: what it serves with
 *   `Latest=true`, where that view differs from the buffered one (by default they are the same)
 * @typedef {{ service: 'secretsmanager' | 'ec2' | 'kms' | 'sts' | 'ssm' | 'cloudtrail' | 'iam' | 'elbv2', action: string, params: Record<string, unknown> }} Call
 * @typedef {{ status: number, code: string, message?: string, times?: number, after?: boolean }} Fault
 *   `after`: the call takes effect, then its answer is this error (an answer lost on the way back)
 */

class AwsError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

export class LocalAws {
  /** @param {{ region?: string, accountId?: string }} [options] */
  constructor(options = {}) {
    this.region = options.region ?? 'us-east-1'
    this.accountId = options.accountId ?? '123456789012'
    /** @type {Map<string, StoredSecret>} */
    this.secrets = new Map()
    /** @type {Map<string, Instance>} */
    this.instances = new Map()
    /** @type {Call[]} */
    this.calls = []
    /** @type {Map<string, Fault[]>} */
    this.faults = new Map()
    /** @type {Set<string>} */
    this.denied = new Set()
    /** @type {Map<string, (params: Record<string, unknown>) => void | Promise<void>>} */
    this.hooks = new Map()
    /** @type {import('node:http').Server | undefined} */
    this.server = undefined
    this.url = ''
    /** SSM Run Command: managed instances (`ssm.addAgent`), commands, stand-in recordings. */
    this.ssm = new LocalRunCommand()
    /** SSM Parameter Store (`parameters.put`): GetParametersByPath. */
    this.parameters = new LocalParameterStore(this)
    /** @type {Map<string, string>} secret name to the ARN of its rotation function (enableRotation) */
    this.rotationFunctions = new Map()
    /** @type {string[]} what GetRandomPassword answers next, oldest first (randomPasswords) */
    this.queuedPasswords = []
    /** EC2 security groups (`securityGroups.addGroup`) and their ingress rules. */
    this.securityGroups = new LocalSecurityGroups(this)
    /** S3 (`s3.addBucket`): path-style object requests, test-support/s3-objects.js. */
    this.s3 = new LocalS3(this)
    /** ELBv2 target groups (`targetGroups.addGroup`): test-support/elbv2.js. */
    this.targetGroups = new LocalTargetGroups(this)
  }

  /** @param {number} [port] @returns {Promise<string>} the endpoint URL */
  async start(port = 0) {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise(resolve => this.server?.listen(port, '127.0.0.1', () => resolve(undefined)))
    const address = /** @type {import('node:net').AddressInfo} */ (this.server.address())
    this.url = `http://127.0.0.1:${address.port}`
    return this.url
  }

  async stop() {
    this.ssm.stop()
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise(resolve => server.close(() => resolve(undefined)))
    this.server = undefined
  }

  /** The environment that points the AWS SDK (and the CDK CLI) at this endpoint. */
  environment() {
    return {
      AWS_ENDPOINT_URL: this.url,
      AWS_REGION: this.region,
      AWS_ACCESS_KEY_ID: 'AKIDLOCALENDPOINT',
      AWS_SECRET_ACCESS_KEY: 'local-endpoint-secret-key',
      AWS_EC2_METADATA_DISABLED: 'true'
    }
  }

  // ---- seeding and inspection -------------------------------------------------------------

  /**
   * Creates the secret if needed and puts a new AWSCURRENT version, as PutSecretValue does.
   * @param {string} name @param {string | object} value @returns {string} the new version id
   */
  putSecret(name, value) {
    const secretString = typeof value === 'string' ? value : JSON.stringify(value)
    const secret = this.secrets.get(name) ?? this.createSecret(name)
    return this.addVersion(secret, secretString, randomUUID(), [CURRENT]).versionId
  }

  /** @param {string} name */
  createSecret(name) {
    const suffix = randomBytes(3).toString('hex')
    const arn = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${suffix}`
    /** @type {StoredSecret} */
    const secret = { name, arn, versions: new Map() }
    this.secrets.set(name, secret)
    return secret
  }

  /** @param {string} name @param {string} [stage] */
  secretValue(name, stage = CURRENT) {
    const secret = this.secrets.get(name)
    if (!secret) throw new Error(`no secret ${name}`)
    const version = [...secret.versions.values()].find(v => v.stages.has(stage))
    if (!version) throw new Error(`no ${stage} version of ${name}`)
    return {
      versionId: version.versionId,
      secretString: version.secretString,
      json: safeJson(version.secretString)
    }
  }

  /** @param {string} name @returns {Record<string, string[]>} version id -> stages */
  versionStages(name) {
    const secret = this.secrets.get(name)
    if (!secret) throw new Error(`no secret ${name}`)
    return Object.fromEntries(
      [...secret.versions.values()].map(v => [v.versionId, [...v.stages].sort()])
    )
  }

  /** @param {Instance} instance */
  addInstance(instance) {
    this.instances.set(instance.instanceId, { state: 'running', tags: {}, ...instance })
  }

  /** @param {string} action @param {Fault} fault fail the next `times` calls of action */
  failNext(action, fault) {
    const list = this.faults.get(action) ?? []
    for (let i = 0; i < (fault.times ?? 1); i++) list.push(fault)
    this.faults.set(action, list)
  }

  /** @param {string} action e.g. 'GetSecretValue', answered with AccessDenied from now on */
  deny(action) {
    this.denied.add(action)
  }

  /**
   * Runs `hook` before every call of `action` is handled: the place to make a concurrent change.
   * @param {string} action @param {(params: Record<string, unknown>) => void | Promise<void>} hook
   */
  before(action, hook) {
    this.hooks.set(action, hook)
  }

  /** @param {string} action */
  callsOf(action) {
    return this.calls.filter(call => call.action === action)
  }

  // ---- AWS having a bad day: always-on faults, deleted secrets, KMS denial -------------------

  /** @type {Map<string, Fault>} faults that answer every call of an action, not just the next */
  alwaysFaults = new Map()
  /** @type {Map<string, Date>} secret name -> the date it is scheduled to be deleted */
  deletionDates = new Map()
  /** @type {Map<string, string>} secret name -> the KMS key the caller may not use */
  kmsDenied = new Map()

  /**
   * Throttles every call of `action` from now on, as each service does: Secrets Manager with
   * HTTP 400 ThrottlingException, EC2 with HTTP 503 RequestLimitExceeded.
   * @param {string} action
   */
  throttle(action) {
    const ec2 = action in this.ec2Actions
    this.alwaysFaults.set(action, {
      status: ec2 ? 503 : 400,
      code: ec2 ? 'RequestLimitExceeded' : 'ThrottlingException',
      message: ec2 ? 'Request limit exceeded.' : 'Rate exceeded'
    })
  }

  /** @param {string} name @param {Date} date as DeleteSecret with a recovery window does */
  scheduleDeletion(name, date) {
    this.findSecret(name)
    this.deletionDates.set(name, date)
  }

  /**
   * The secret is encrypted with `keyId`, which the caller may not use: GetSecretValue answers
   * as Secrets Manager does when kms:Decrypt is denied.
   * @param {string} name @param {string} keyId
   */
  denyKms(name, keyId) {
    this.findSecret(name)
    this.kmsDenied.set(name, keyId)
  }

  /**
   * Turns Secrets Manager's own rotation on for the secret, as RotateSecret with a rotation
   * function does: DescribeSecret then says RotationEnabled, with the function and its schedule.
   * @param {string} name @param {string} lambdaArn
   */
  enableRotation(name, lambdaArn) {
    this.findSecret(name)
    this.rotationFunctions.set(name, lambdaArn)
  }

  /**
   * The next GetRandomPassword answers, in order (then random ones again): values a test chose,
   * e.g. to break masking, still from the alphabet GetRandomPassword draws from.
   * @param {string[]} passwords
   */
  randomPasswords(passwords) {
    this.queuedPasswords.push(...passwords)
  }

  /**
   * DescribeSecret's rotation fields. Secrets Manager omits them for a secret never set up for
   * rotation; the API reference's example ("To retrieve the details of a secret", DescribeSecret)
   * answers a rotated one with
   *   "RotationEnabled": true,
   *   "RotationLambdaARN": "arn:aws:lambda:us-west-2:123456789012:function:MyTestRotationLambda",
   *   "RotationRules": { "AutomaticallyAfterDays": 14 },
   *   "LastRotatedDate": 1525747253.72
   * @param {string} name
   */
  describeRotation(name) {
    const lambdaArn = this.rotationFunctions.get(name)
    if (!lambdaArn) return {}
    return {
      RotationEnabled: true,
      RotationLambdaARN: lambdaArn,
      RotationRules: { AutomaticallyAfterDays: 14 },
      LastRotatedDate: 1525747253.72
    }
  }

  /** @param {Call['service']} service @param {string} action @param {Record<string, unknown>} params */
  answerBadDay(service, action, params) {
    const always = this.alwaysFaults.get(action)
    if (always) throw faultError(always)
    if (service !== 'secretsmanager' || action === 'DescribeSecret' || !params.SecretId) return
    const secret = this.findSecret(params.SecretId)
    if (this.deletionDates.has(secret.name) && action !== 'RestoreSecret') {
      throw new AwsError(
        400,
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion."
      )
    }
    if (this.kmsDenied.has(secret.name) && action === 'GetSecretValue')
      throw new AwsError(400, 'AccessDeniedException', 'Access to KMS is not allowed')
  }

  /** DescribeSecret's fields for a secret scheduled for deletion or under a KMS key. @param {string} name */
  describeBadDay(name) {
    const deleted = this.deletionDates.get(name)
    const keyId = this.kmsDenied.get(name)
    return {
      ...(deleted ? { DeletedDate: deleted.getTime() / 1000 } : {}),
      ...(keyId ? { KmsKeyId: keyId } : {})
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /** @type {string[]} the User-Agent header of every request, in order (CloudTrail's `userAgent`) */
  userAgents = []

  /** CloudTrail's event history: every Secrets Manager call, and events a test adds. */
  cloudTrail = new LocalCloudTrail(this)

  /** IAM's instance profiles, roles and policy simulator (test-support/iam.js). */
  iam = new LocalIam(this)

  /**
   * IAM's Query operations (test-support/iam.js): XML answers and errors.
   * @param {URLSearchParams} form @param {import('node:http').ServerResponse} res
   */
  async handleIam(form, res) {
    const action = form.get('Action') ?? ''
    try {
      await this.admit('iam', action, Object.fromEntries(form))
      const handler = this.iam.actions[action]
      if (!handler) throw new IamError(400, 'InvalidAction', `Could not find operation ${action}`)
      const inner = handler(form)
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(LocalIam.response(action, inner))
    } catch (error) {
      const e = error instanceof IamError ? error : asAwsError(error)
      // IAM says AccessDenied where JSON services say AccessDeniedException.
      const code = e.code === 'AccessDeniedException' ? 'AccessDenied' : e.code
      res.writeHead(e.status === 400 && code === 'AccessDenied' ? 403 : e.status, {
        'content-type': 'text/xml'
      })
      res.end(LocalIam.errorResponse(code, e.message))
    }
  }

  /**
   * CloudTrail's JSON 1.1 operations (test-support/cloudtrail.js).
   * @param {string} action @param {string} body @param {import('node:http').ServerResponse} res
   */
  async handleCloudTrail(action, body, res) {
    const headers = {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID()
    }
    try {
      const params = body ? JSON.parse(body) : {}
      await this.admit('cloudtrail', action, params)
      const handler = this.cloudTrail.actions[action]
      if (!handler)
        throw new AwsError(400, 'UnknownOperationException', `Unknown operation ${action}`)
      const result = handler(params)
      res.writeHead(200, headers)
      res.end(JSON.stringify(result))
    } catch (error) {
      const e = error instanceof CloudTrailError ? error : asAwsError(error)
      res.writeHead(e.status, headers)
      res.end(JSON.stringify({ __type: e.code, message: e.message }))
    }
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async handle(req, res) {
    const userAgent = String(req.headers['user-agent'] ?? '')
    this.userAgents.push(userAgent)
    if (this.s3.owns(req)) return this.s3.handle(req, res)
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = Buffer.concat(chunks).toString('utf8')
    const target = req.headers['x-amz-target']
    if (typeof target === 'string' && target.startsWith('secretsmanager.')) {
      await this.handleJson(target.slice('secretsmanager.'.length), body, res)
      this.cloudTrail.recordCall(
        target.slice('secretsmanager.'.length),
        safeJson(body) ?? {},
        userAgent
      )
    } else if (typeof target === 'string' && target.startsWith('CloudTrail_20131101.')) {
      await this.handleCloudTrail(target.slice('CloudTrail_20131101.'.length), body, res)
    } else if (new URLSearchParams(body).get('Version') === IAM_VERSION) {
      await this.handleIam(new URLSearchParams(body), res)
    } else if (typeof target === 'string' && target.startsWith('TrentService.')) {
      await this.handleKms(target.slice('TrentService.'.length), body, res)
    } else if (new URLSearchParams(body).get('Version') === ELBV2_VERSION) {
      const admit = (/** @type {string} */ action, /** @type {Record<string, unknown>} */ params) =>
        this.admit('elbv2', action, params)
      await this.targetGroups.handle(new URLSearchParams(body), res, admit)
    } else if (new URLSearchParams(body).get('Version') === STS_VERSION) {
      await this.handleSts(new URLSearchParams(body), res)
    } else if (typeof target === 'string' && target.startsWith('AmazonSSM.')) {
      await this.handleSsm(target.slice('AmazonSSM.'.length), body, res)
    } else {
      await this.handleQuery(new URLSearchParams(body), res)
    }
  }

  /** @param {Call['service']} service @param {string} action @param {Record<string, unknown>} params */
  async admit(service, action, params) {
    this.calls.push({ service, action, params })
    if (!this.faults.get(action)?.[0]?.after) {
      const fault = this.faults.get(action)?.shift()
      if (fault) throw faultError(fault)
    }
    this.answerBadDay(service, action, params)
    if (this.denied.has(action)) {
      throw new AwsError(
        400,
        service === 'ec2' ? 'UnauthorizedOperation' : 'AccessDeniedException',
        `User: arn:aws:sts::${this.accountId}:assumed-role/deploy/ci is not authorized to perform: ` +
          `${service}:${action} because no identity-based policy allows the ${service}:${action} action`
      )
    }
    await this.hooks.get(action)?.(params)
  }

  /** @param {string} action @param {string} body @param {import('node:http').ServerResponse} res */
  async handleJson(action, body, res) {
    try {
      const params = body ? JSON.parse(body) : {}
      await this.admit('secretsmanager', action, params)
      const handler =
        this.secretsManagerActions[action] ??
        this.secretsManagerAdministration[action] ??
        this.iam.secretsManagerActions[action]
      if (!handler)
        throw new AwsError(400, 'UnknownOperationException', `Unknown operation ${action}`)
      const result = handler.call(this, params)
      const lostAnswer = this.faults.get(action)?.[0]?.after
        ? this.faults.get(action)?.shift()
        : undefined
      if (lostAnswer) throw faultError(lostAnswer)
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify(result))
    } catch (error) {
      const e = asAwsError(error)
      res.writeHead(e.status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify({ __type: e.code, message: e.message }))
    }
  }

  /**
   * SSM's JSON 1.1 operations, answered by test-support/ssm-run-command.js (Run Command) and
   * test-support/ssm-parameters.js (Parameter Store).
   * @param {string} action @param {string} body @param {import('node:http').ServerResponse} res
   */
  async handleSsm(action, body, res) {
    try {
      const params = body ? JSON.parse(body) : {}
      await this.admit('ssm', action, params)
      const result = this.ssm.actions[action]
        ? this.ssm.actions[action].call(this.ssm, params)
        : this.parameters.actions[action]?.call(this.parameters, params)
      if (!result)
        throw new AwsError(400, 'UnknownOperationException', `Unknown operation ${action}`)
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify(result))
    } catch (error) {
      const e = error instanceof SsmError ? error : asAwsError(error)
      res.writeHead(e.status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify({ __type: e.code, message: e.message }))
    }
  }

  /** @param {URLSearchParams} form @param {import('node:http').ServerResponse} res */
  async handleQuery(form, res) {
    const action = form.get('Action') ?? ''
    const requestId = randomUUID()
    try {
      await this.admit('ec2', action, Object.fromEntries(form))
      if (form.get('DryRun') === 'true') {
        // EC2's answer to a permitted dry run: an error that says the call would have worked.
        throw new AwsError(
          412,
          'DryRunOperation',
          'Request would have succeeded, but DryRun flag is set.'
        )
      }
      const groups = this.securityGroups
      const handler =
        this.ec2Actions[action] ??
        (action in groups.actions ? () => groups.actions[action].call(groups, form) : undefined)
      if (!handler)
        throw new AwsError(
          400,
          'InvalidAction',
          `The action ${action} is not valid for this web service.`
        )
      const inner = handler.call(this, form)
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' })
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
          `<requestId>${requestId}</requestId>${inner}</${action}Response>`
      )
    } catch (error) {
      const e = asAwsError(error)
      res.writeHead(e.status, { 'content-type': 'text/xml;charset=UTF-8' })
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xml(e.code)}</Code>` +
          `<Message>${xml(e.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
      )
    }
  }

  // ---- Secrets Manager ----------------------------------------------------------------------

  /** @param {unknown} secretId */
  findSecret(secretId) {
    const id = String(secretId ?? '')
    for (const secret of this.secrets.values()) {
      if (id === secret.name || id === secret.arn || id === secret.arn.slice(0, -7)) return secret
    }
    throw new AwsError(
      400,
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret."
    )
  }

  /**
   * @param {StoredSecret} secret @param {string} secretString @param {string} versionId @param {string[]} stages
   */
  addVersion(secret, secretString, versionId, stages) {
    /** @type {SecretVersion} */
    const version = { versionId, secretString, stages: new Set(), created: Date.now() / 1000 }
    secret.versions.set(versionId, version)
    for (const stage of stages) this.moveStage(secret, stage, version)
    return version
  }

  /**
   * Attaches `stage` to `target`, removing it from wherever it was; moving AWSCURRENT moves
   * AWSPREVIOUS to the version it came from, as AWS does.
   * @param {StoredSecret} secret @param {string} stage @param {SecretVersion | undefined} target
   */
  moveStage(secret, stage, target) {
    const holder = [...secret.versions.values()].find(v => v.stages.has(stage))
    if (holder === target) return
    holder?.stages.delete(stage)
    target?.stages.add(stage)
    if (stage === CURRENT && holder) this.moveStage(secret, PREVIOUS, holder)
    // A version left without any label is deprecated and, like on AWS, eventually removed.
    if (holder && holder.stages.size === 0 && secret.versions.size > 100)
      secret.versions.delete(holder.versionId)
  }

  /** @type {Record<string, (this: LocalAws, params: any) => object>} */
  secretsManagerActions = {
    GetSecretValue(params) {
      const secret = this.findSecret(params.SecretId)
      const versions = [...secret.versions.values()]
      const version = params.VersionId
        ? secret.versions.get(params.VersionId)
        : versions.find(v => v.stages.has(params.VersionStage ?? CURRENT))
      if (!version || (params.VersionStage && !version.stages.has(params.VersionStage))) {
        throw new AwsError(
          400,
          'ResourceNotFoundException',
          "Secrets Manager can't find the specified secret value for VersionId or VersionStage."
        )
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        SecretString: version.secretString,
        VersionStages: [...version.stages],
        CreatedDate: version.created
      }
    },

    PutSecretValue(params) {
      const secret = this.findSecret(params.SecretId)
      if (typeof params.SecretString !== 'string') {
        throw new AwsError(
          400,
          'InvalidParameterException',
          'You must provide either SecretString or SecretBinary.'
        )
      }
      const versionId = params.ClientRequestToken ?? randomUUID()
      const existing = secret.versions.get(versionId)
      if (existing) {
        if (existing.secretString !== params.SecretString) {
          throw new AwsError(
            400,
            'ResourceExistsException',
            'A resource with the ID you requested already exists.'
          )
        }
      } else {
        this.addVersion(secret, params.SecretString, versionId, params.VersionStages ?? [CURRENT])
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: versionId,
        VersionStages: [...(secret.versions.get(versionId)?.stages ?? [])]
      }
    },

    UpdateSecretVersionStage(params) {
      const secret = this.findSecret(params.SecretId)
      const stage = String(params.VersionStage ?? '')
      const holder = [...secret.versions.values()].find(v => v.stages.has(stage))
      const target = params.MoveToVersionId
        ? secret.versions.get(params.MoveToVersionId)
        : undefined
      if (params.MoveToVersionId && !target) {
        throw new AwsError(
          400,
          'ResourceNotFoundException',
          `Version ${params.MoveToVersionId} not found.`
        )
      }
      if (holder && holder !== target && holder.versionId !== params.RemoveFromVersionId) {
        throw new AwsError(
          400,
          'InvalidParameterException',
          `The staging label ${stage} is currently attached to version ${holder.versionId}, so you must ` +
            'explicitly reference that version in RemoveFromVersionId.'
        )
      }
      if (
        !target &&
        params.RemoveFromVersionId &&
        holder?.versionId !== params.RemoveFromVersionId
      ) {
        throw new AwsError(
          400,
          'InvalidParameterException',
          `The staging label ${stage} is not attached to version ${params.RemoveFromVersionId}.`
        )
      }
      if (stage === CURRENT && !target) {
        throw new AwsError(
          400,
          'InvalidParameterException',
          'You can only move AWSCURRENT; it cannot be removed.'
        )
      }
      this.moveStage(secret, stage, target)
      return { ARN: secret.arn, Name: secret.name }
    },

    DescribeSecret(params) {
      const secret = this.findSecret(params.SecretId)
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionIdsToStages: this.versionStages(secret.name),
        ...this.describeRotation(secret.name),
        ...this.describeBadDay(secret.name),
        ...this.iam.describeKey(secret.name)
      }
    }
  }

  // ---- Secrets Manager: what the command line adds (listing, history, creation, passwords) -----

  /** @type {Record<string, (this: LocalAws, params: any) => object>} */
  secretsManagerAdministration = {
    ListSecrets(params) {
      const all = [...this.secrets.values()].sort((a, b) => a.name.localeCompare(b.name))
      const { page, nextToken } = paginate(all, params.NextToken, params.MaxResults ?? 100)
      return {
        SecretList: page.map(secret => ({
          ARN: secret.arn,
          Name: secret.name,
          LastChangedDate: Math.max(...[...secret.versions.values()].map(v => v.created)),
          SecretVersionsToStages: this.versionStages(secret.name)
        })),
        ...(nextToken ? { NextToken: nextToken } : {})
      }
    },

    ListSecretVersionIds(params) {
      const secret = this.findSecret(params.SecretId)
      const versions = [...secret.versions.values()].filter(
        v => params.IncludeDeprecated || v.stages.size > 0
      )
      const { page, nextToken } = paginate(versions, params.NextToken, params.MaxResults ?? 100)
      return {
        ARN: secret.arn,
        Name: secret.name,
        Versions: page.map(v => ({
          VersionId: v.versionId,
          VersionStages: [...v.stages],
          CreatedDate: v.created
        })),
        ...(nextToken ? { NextToken: nextToken } : {})
      }
    },

    CreateSecret(params) {
      const name = String(params.Name ?? '')
      if (this.secrets.has(name)) {
        throw new AwsError(
          400,
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`
        )
      }
      const secret = this.createSecret(name)
      const versionId = params.ClientRequestToken ?? randomUUID()
      if (typeof params.SecretString === 'string')
        this.addVersion(secret, params.SecretString, versionId, [CURRENT])
      return { ARN: secret.arn, Name: secret.name, VersionId: versionId }
    },

    // The API reference's example answer: { "RandomPassword": "EXAMPLE-PASSWORD" }.
    GetRandomPassword(params) {
      const queued = this.queuedPasswords.shift()
      if (queued !== undefined) return { RandomPassword: queued }
      const length = params.PasswordLength ?? 32
      if (length < 1 || length > 4096) {
        throw new AwsError(
          400,
          'InvalidParameterException',
          'Password length must be between 1 and 4096.'
        )
      }
      let alphabet = ''
      if (!params.ExcludeLowercase) alphabet += 'abcdefghijklmnopqrstuvwxyz'
      if (!params.ExcludeUppercase) alphabet += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
      if (!params.ExcludeNumbers) alphabet += '0123456789'
      if (!params.ExcludePunctuation) alphabet += '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'
      if (params.IncludeSpace) alphabet += ' '
      const excluded = new Set(String(params.ExcludeCharacters ?? ''))
      const chars = [...alphabet].filter(c => !excluded.has(c))
      if (chars.length === 0) {
        throw new AwsError(400, 'InvalidParameterException', 'No characters left to choose from.')
      }
      const bytes = randomBytes(length)
      const password = [...bytes].map(b => chars[b % chars.length]).join('')
      return { RandomPassword: password }
    }
  }

  // ---- KMS: envelope encryption for the command line's backups ------------------------------

  /** Key id -> its own secret material; ciphertexts name the key and bind the context, as KMS's do. */
  /** @type {Map<string, Buffer>} */
  kmsKeys = new Map()

  /** @param {string} [keyId] @returns {string} the key's ARN, also accepted as KeyId */
  createKmsKey(keyId = randomUUID()) {
    const arn = `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`
    const material = randomBytes(32)
    this.kmsKeys.set(keyId, material)
    this.kmsKeys.set(arn, material)
    return arn
  }

  /** @param {unknown} keyId */
  kmsKey(keyId) {
    const material = this.kmsKeys.get(String(keyId ?? ''))
    if (!material)
      throw new AwsError(400, 'NotFoundException', `Key '${String(keyId)}' does not exist`)
    return material
  }

  /** @param {string} action @param {string} body @param {import('node:http').ServerResponse} res */
  async handleKms(action, body, res) {
    try {
      const params = body ? JSON.parse(body) : {}
      await this.admit('kms', action, params)
      const handler = this.kmsActions[action]
      if (!handler)
        throw new AwsError(400, 'UnknownOperationException', `Unknown operation ${action}`)
      const result = handler.call(this, params)
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify(result))
    } catch (error) {
      const e = asAwsError(error)
      res.writeHead(e.status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID()
      })
      res.end(JSON.stringify({ __type: e.code, message: e.message }))
    }
  }

  /** @type {Record<string, (this: LocalAws, params: any) => object>} */
  kmsActions = {
    GenerateDataKey(params) {
      const keyId = String(params.KeyId ?? '')
      const material = this.kmsKey(keyId)
      const plaintext = randomBytes(
        params.KeySpec === 'AES_128' ? 16 : (params.NumberOfBytes ?? 32)
      )
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', material, iv)
      cipher.setAAD(Buffer.from(JSON.stringify(sortedContext(params.EncryptionContext))))
      const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()])
      const keyName = Buffer.from(keyId)
      const blob = Buffer.concat([
        Buffer.from([keyName.length]),
        keyName,
        iv,
        cipher.getAuthTag(),
        sealed
      ])
      return {
        KeyId: keyId.startsWith('arn:')
          ? keyId
          : `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`,
        Plaintext: plaintext.toString('base64'),
        CiphertextBlob: blob.toString('base64')
      }
    },

    Decrypt(params) {
      const blob = Buffer.from(String(params.CiphertextBlob ?? ''), 'base64')
      const nameLength = blob[0] ?? 0
      const keyId = blob.subarray(1, 1 + nameLength).toString()
      const material = this.kmsKey(keyId)
      const at = 1 + nameLength
      try {
        const decipher = createDecipheriv('aes-256-gcm', material, blob.subarray(at, at + 12))
        decipher.setAAD(Buffer.from(JSON.stringify(sortedContext(params.EncryptionContext))))
        decipher.setAuthTag(blob.subarray(at + 12, at + 28))
        const plaintext = Buffer.concat([decipher.update(blob.subarray(at + 28)), decipher.final()])
        return { KeyId: keyId, Plaintext: plaintext.toString('base64') }
      } catch {
        throw new AwsError(400, 'InvalidCiphertextException', '')
      }
    }
  }

  // ---- STS: who the credentials are (the command line's doctor) -----------------------------

  /** @param {URLSearchParams} form @param {import('node:http').ServerResponse} res */
  async handleSts(form, res) {
    const action = form.get('Action') ?? ''
    const requestId = randomUUID()
    const ns = `https://sts.amazonaws.com/doc/${STS_VERSION}/`
    try {
      await this.admit('sts', action, Object.fromEntries(form))
      if (action !== 'GetCallerIdentity')
        throw new AwsError(400, 'InvalidAction', `Could not find operation ${action}`)
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(
        `<GetCallerIdentityResponse xmlns="${ns}"><GetCallerIdentityResult>` +
          `<Arn>arn:aws:sts::${this.accountId}:assumed-role/deploy/ci</Arn>` +
          `<UserId>AROALOCALENDPOINT:ci</UserId><Account>${this.accountId}</Account>` +
          `</GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId>` +
          `</ResponseMetadata></GetCallerIdentityResponse>`
      )
    } catch (error) {
      const e = asAwsError(error)
      res.writeHead(e.status, { 'content-type': 'text/xml' })
      res.end(
        `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${xml(e.code)}</Code>` +
          `<Message>${xml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
      )
    }
  }

  // ---- EC2 ----------------------------------------------------------------------------------

  /** @type {Record<string, (this: LocalAws, form: URLSearchParams) => string>} */
  ec2Actions = {
    DescribeInstances(form) {
      const ids = indexed(form, 'InstanceId')
      const filters = indexedFilters(form)
      for (const id of ids) {
        if (!this.instances.has(id)) {
          throw new AwsError(
            400,
            'InvalidInstanceID.NotFound',
            `The instance ID '${id}' does not exist`
          )
        }
      }
      const matches = [...this.instances.values()].filter(
        instance =>
          (ids.length === 0 || ids.includes(instance.instanceId)) &&
          filters.every(f => matchesFilter(instance, f))
      )
      const items = matches.map(instanceXml).join('')
      const reservation = matches.length
        ? `<item><reservationId>r-0local</reservationId><ownerId>${this.accountId}</ownerId><instancesSet>${items}</instancesSet></item>`
        : ''
      return `<reservationSet>${reservation}</reservationSet>`
    },

    GetConsoleOutput(form) {
      const id = form.get('InstanceId') ?? ''
      const instance = this.instances.get(id)
      if (!instance)
        throw new AwsError(
          400,
          'InvalidInstanceID.NotFound',
          `The instance ID '${id}' does not exist`
        )
      const text =
        form.get('Latest') === 'true' && instance.latestConsoleOutput !== undefined
          ? instance.latestConsoleOutput
          : instance.consoleOutput
      // EC2 keeps "the most recent 64 KB" of each view: the start of a longer one is gone, cut
      // wherever the byte count falls, even inside a line.
      const bytes = Buffer.from(text ?? '')
      const kept = bytes.subarray(Math.max(0, bytes.length - CONSOLE_BYTES_KEPT))
      const output = kept.length ? `<output>${kept.toString('base64')}</output>` : ''
      return `<instanceId>${xml(id)}</instanceId><timestamp>${new Date().toISOString()}</timestamp>${output}`
    }
  }
}

/**
 * One page of a list and the token for the next, as the service pages: an opaque token.
 * @template T @param {T[]} items @param {unknown} token @param {number} size
 */
function paginate(items, token, size) {
  const start = token ? Number(Buffer.from(String(token), 'base64').toString('utf8')) : 0
  const end = start + size
  return {
    page: items.slice(start, end),
    nextToken: end < items.length ? Buffer.from(String(end)).toString('base64') : undefined
  }
}

/** @param {unknown} context an EncryptionContext, in a canonical order */
function sortedContext(context) {
  return Object.entries(/** @type {Record<string, string>} */ (context ?? {})).sort(([a], [b]) =>
    a.localeCompare(b)
  )
}

/** @param {URLSearchParams} form @param {string} name `Name.1`, `Name.2`, ... */
function indexed(form, name) {
  const values = []
  for (let i = 1; form.has(`${name}.${i}`); i++) values.push(String(form.get(`${name}.${i}`)))
  return values
}

/** @param {URLSearchParams} form */
function indexedFilters(form) {
  const filters = []
  for (let i = 1; form.has(`Filter.${i}.Name`); i++) {
    filters.push({
      name: String(form.get(`Filter.${i}.Name`)),
      values: indexed(form, `Filter.${i}.Value`)
    })
  }
  return filters
}

/** @param {Instance} instance @param {{ name: string, values: string[] }} filter */
function matchesFilter(instance, filter) {
  if (filter.name === 'instance-state-name')
    return filter.values.includes(instance.state ?? 'running')
  if (filter.name.startsWith('tag:')) {
    const value = instance.tags?.[filter.name.slice(4)]
    return value !== undefined && filter.values.includes(value)
  }
  if (filter.name === 'ip-address') return filter.values.includes(instance.publicIp ?? '')
  if (filter.name === 'private-ip-address') return filter.values.includes(instance.privateIp ?? '')
  throw new AwsError(400, 'InvalidParameterValue', `The filter '${filter.name}' is invalid`)
}

const STATE_CODES = /** @type {Record<string, number>} */ ({
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80
})

/** @param {Instance} instance */
function instanceXml(instance) {
  const state = instance.state ?? 'running'
  const tags = Object.entries(instance.tags ?? {})
    .map(([key, value]) => `<item><key>${xml(key)}</key><value>${xml(value)}</value></item>`)
    .join('')
  return (
    `<item><instanceId>${xml(instance.instanceId)}</instanceId>` +
    `<instanceState><code>${STATE_CODES[state] ?? 16}</code><name>${xml(state)}</name></instanceState>` +
    (instance.privateIp ? `<privateIpAddress>${xml(instance.privateIp)}</privateIpAddress>` : '') +
    (instance.publicIp ? `<ipAddress>${xml(instance.publicIp)}</ipAddress>` : '') +
    (instance.instanceProfileArn
      ? `<iamInstanceProfile><arn>${xml(instance.instanceProfileArn)}</arn><id>AIPAD5ARO2C5EXAMPLE3G</id></iamInstanceProfile>`
      : '') +
    `<tagSet>${tags}</tagSet></item>`
  )
}

/** @param {string} text */
function xml(text) {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** @param {Fault} fault */
function faultError(fault) {
  return new AwsError(fault.status, fault.code, fault.message ?? `Injected ${fault.code}`)
}

/** @param {unknown} error @returns {AwsError} */
function asAwsError(error) {
  if (error instanceof AwsError) return error
  if (error instanceof Ec2Error) return new AwsError(error.status, error.code, error.message)
  if (error instanceof SyntaxError)
    return new AwsError(400, 'SerializationException', 'Malformed request body')
  return new AwsError(500, 'InternalServiceError', String(error))
}

/** @param {string} text */
function safeJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

// Run as a program: serve on a port, seeded from a JSON file, until killed. Prints the URL.
//   node test-support/aws-endpoint.js --port 4566 --seed seed.json
// seed.json: { "secrets": { "<name>": <object or string> }, "instances": [<Instance>],
//              "ssmAgents": [{ "instanceId": "i-...", ...SsmBehaviour }] }
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2)
  const option = (/** @type {string} */ name) => {
    const at = args.indexOf(name)
    return at >= 0 ? args[at + 1] : undefined
  }
  const aws = new LocalAws({ region: option('--region') })
  const seedFile = option('--seed')
  if (seedFile) {
    const seed = JSON.parse(readFileSync(seedFile, 'utf8'))
    for (const [name, value] of Object.entries(seed.secrets ?? {}))
      aws.putSecret(name, /** @type {object} */ (value))
    for (const instance of seed.instances ?? []) aws.addInstance(instance)
    for (const agent of seed.ssmAgents ?? []) aws.ssm.addAgent(agent.instanceId, agent)
  }
  const url = await aws.start(Number(option('--port') ?? 0))
  process.stdout.write(`${url}\n`)
  const stop = () => void aws.stop().then(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
