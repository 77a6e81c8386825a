// ELBv2 target groups for the local AWS endpoint (test-support/aws-endpoint.js), in ELBv2's Query
// wire format (form-encoded POST with Version=2015-12-01, XML answers in the ELBv2 namespace):
// DescribeTargetGroups, DescribeTargetGroupAttributes, DescribeTargetHealth, RegisterTargets and
// DeregisterTargets. Test support only.
//
// The answers' shape is the ELBv2 API Reference's. Its sample response of DescribeTargetHealth
// (API_DescribeTargetHealth, "Examples", Query API, 2015-12-01):
//   <DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
//     <DescribeTargetHealthResult>
//       <TargetHealthDescriptions>
//         <member>
//           <HealthCheckPort>80</HealthCheckPort>
//           <TargetHealth>
//             <State>healthy</State>
//           </TargetHealth>
//           <Target>
//             <Port>80</Port>
//             <Id>i-0376fadf</Id>
//           </Target>
//         </member>
//       </TargetHealthDescriptions>
//     </DescribeTargetHealthResult>
//     <ResponseMetadata>
//       <RequestId>c534f810-f389-11e5-9192-3fff33344cfa</RequestId>
//     </ResponseMetadata>
//   </DescribeTargetHealthResponse>
// States and reasons are the TargetHealth data type's (API_TargetHealth): initial
// (Elb.RegistrationInProgress), healthy, unhealthy (Target.FailedHealthChecks), draining
// (Target.DeregistrationInProgress), unused (Target.NotRegistered). Errors come in the Query
// error shape, <ErrorResponse><Error><Type>Sender</Type><Code>TargetGroupNotFound</Code>...
import { randomBytes, randomUUID } from 'node:crypto'

export const ELBV2_VERSION = '2015-12-01'
const NAMESPACE = `http://elasticloadbalancing.amazonaws.com/doc/${ELBV2_VERSION}/`

/**
 * @typedef {{ id: string, port: number, az?: string, state: string, reason?: string, until?: number, next?: string }} Registration
 *   `until`/`next`: the state it moves to at that time (draining ends, health checks pass)
 * @typedef {{ arn: string, name: string, targetType: string, port: number, delaySeconds: number,
 *   healthyAfterMs: number, neverHealthy: Set<string>, targets: Registration[], initialIds: string[] }} Group
 * @typedef {{ at: number, group: string, id: string, state: string }} Transition
 */

export class ElbError extends Error {
  /** @param {string} code @param {string} message @param {number} [status] */
  constructor(code, message, status = 400) {
    super(message)
    this.code = code
    this.status = status
  }
}

/** @param {string} text */
function xml(text) {
  return String(text).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** @param {URLSearchParams} form @returns {{ id: string, port?: number, az?: string }[]} */
function targetsIn(form) {
  const targets = []
  for (let i = 1; form.has(`Targets.member.${i}.Id`); i++) {
    const port = form.get(`Targets.member.${i}.Port`)
    targets.push({
      id: String(form.get(`Targets.member.${i}.Id`)),
      port: port === null ? undefined : Number(port),
      az: form.get(`Targets.member.${i}.AvailabilityZone`) ?? undefined
    })
  }
  return targets
}

export class LocalTargetGroups {
  /** @param {{ region: string, accountId: string }} aws */
  constructor(aws) {
    this.aws = aws
    /** @type {Map<string, Group>} */
    this.groups = new Map()
    /** Every change of a target's state, in time order: what a test checks the history with. */
    /** @type {Transition[]} */
    this.history = []
  }

  /**
   * A target group with registered targets, all healthy.
   * @param {{ arn?: string, name?: string, targetType?: 'instance' | 'ip', port?: number, deregistrationDelay?: number,
   *   healthyAfterMs?: number, targets?: (string | { id: string, port?: number, az?: string })[] }} options
   * @returns {string} its ARN
   */
  addGroup(options = {}) {
    const name = options.name ?? `web-${randomBytes(2).toString('hex')}`
    const arn =
      options.arn ??
      `arn:aws:elasticloadbalancing:${this.aws.region}:${this.aws.accountId}:targetgroup/${name}/${randomBytes(8).toString('hex')}`
    const port = options.port ?? 80
    /** @type {Group} */
    const group = {
      arn,
      name,
      targetType: options.targetType ?? 'instance',
      port,
      delaySeconds: options.deregistrationDelay ?? 0,
      healthyAfterMs: options.healthyAfterMs ?? 0,
      neverHealthy: new Set(),
      targets: [],
      initialIds: []
    }
    for (const t of options.targets ?? []) {
      const target = typeof t === 'string' ? { id: t } : t
      group.targets.push({
        id: target.id,
        port: target.port ?? port,
        az: target.az,
        state: 'healthy'
      })
      group.initialIds.push(target.id)
    }
    this.groups.set(arn, group)
    return arn
  }

  /** Targets with this id never pass their health checks once registered again. @param {string} arn @param {string} id */
  neverHealthy(arn, id) {
    this.group(arn).neverHealthy.add(id)
  }

  /** The state of every target of a group, by id. @param {string} arn */
  states(arn) {
    this.settle()
    return Object.fromEntries(this.group(arn).targets.map(t => [t.id, t.state]))
  }

  /** How many targets of the group were healthy after each transition, from the start. @param {string} arn */
  healthyCounts(arn) {
    const state = new Map(this.group(arn).initialIds.map(id => [id, 'healthy']))
    const counts = []
    for (const h of [...this.history].filter(h => h.group === arn).sort((a, b) => a.at - b.at)) {
      state.set(h.id, h.state)
      counts.push([...state.values()].filter(s => s === 'healthy').length)
    }
    return counts
  }

  /** @param {string} arn */
  group(arn) {
    const group = this.groups.get(arn)
    if (!group) throw new ElbError('TargetGroupNotFound', 'One or more target groups not found')
    return group
  }

  /** Moves every target whose timer has run out on, recording each change at the time it happened. */
  settle(now = Date.now()) {
    for (const group of this.groups.values()) {
      for (const t of [...group.targets]) {
        while (t.until !== undefined && t.until <= now) {
          const at = t.until
          this.move(group, t, /** @type {string} */ (t.next), at)
        }
      }
    }
  }

  /** @param {Group} group @param {Registration} t @param {string} state @param {number} at */
  move(group, t, state, at) {
    t.until = undefined
    t.next = undefined
    if (state === 'unused') group.targets.splice(group.targets.indexOf(t), 1)
    t.state = state
    t.reason = {
      initial: 'Elb.RegistrationInProgress',
      unhealthy: 'Target.FailedHealthChecks',
      draining: 'Target.DeregistrationInProgress'
    }[state]
    if (state === 'initial') {
      t.until = at + group.healthyAfterMs
      t.next = group.neverHealthy.has(t.id) ? 'unhealthy' : 'healthy'
    }
    if (state === 'draining') {
      t.until = at + group.delaySeconds * 1000
      t.next = 'unused'
    }
    this.history.push({ at, group: group.arn, id: t.id, state })
  }

  /** @param {Group} group @param {{ id: string, port?: number }} target */
  find(group, target) {
    return group.targets.find(t => t.id === target.id && (target.port ?? group.port) === t.port)
  }

  /** @param {Group} group @param {{ id: string }[]} targets */
  checkTargets(group, targets) {
    if (targets.length === 0) throw new ElbError('ValidationError', 'Targets must not be empty')
    const valid = group.targetType === 'ip' ? /^\d+\.\d+\.\d+\.\d+$/ : /^i-[0-9a-f]{8,17}$/
    const bad = targets.find(t => !valid.test(t.id))
    if (bad) throw new ElbError('InvalidTarget', `The following targets are not valid: '${bad.id}'`)
  }

  /** @type {Record<string, (this: LocalTargetGroups, form: URLSearchParams) => string>} */
  actions = {
    DescribeTargetGroups(form) {
      const arns = []
      for (let i = 1; form.has(`TargetGroupArns.member.${i}`); i++)
        arns.push(String(form.get(`TargetGroupArns.member.${i}`)))
      const groups = arns.length ? arns.map(arn => this.group(arn)) : [...this.groups.values()]
      const members = groups.map(
        g =>
          `<member><TargetGroupArn>${xml(g.arn)}</TargetGroupArn><TargetGroupName>${xml(g.name)}</TargetGroupName>` +
          `<Protocol>HTTP</Protocol><Port>${g.port}</Port><VpcId>vpc-3ac0fb5f</VpcId><TargetType>${g.targetType}</TargetType>` +
          `<HealthCheckProtocol>HTTP</HealthCheckProtocol><HealthCheckPath>/</HealthCheckPath></member>`
      )
      return `<TargetGroups>${members.join('')}</TargetGroups>`
    },

    DescribeTargetGroupAttributes(form) {
      const group = this.group(String(form.get('TargetGroupArn')))
      const attributes = {
        'deregistration_delay.timeout_seconds': String(group.delaySeconds),
        'stickiness.enabled': 'false',
        'stickiness.type': 'lb_cookie'
      }
      return `<Attributes>${Object.entries(attributes)
        .map(([k, v]) => `<member><Key>${k}</Key><Value>${v}</Value></member>`)
        .join('')}</Attributes>`
    },

    DescribeTargetHealth(form) {
      this.settle()
      const group = this.group(String(form.get('TargetGroupArn')))
      const asked = targetsIn(form)
      if (asked.length) this.checkTargets(group, asked)
      const rows = asked.length
        ? asked.map(
            a =>
              this.find(group, a) ?? {
                id: a.id,
                port: a.port ?? group.port,
                state: 'unused',
                reason: 'Target.NotRegistered'
              }
          )
        : group.targets
      const members = rows.map(
        t =>
          `<member><HealthCheckPort>${t.port}</HealthCheckPort><TargetHealth><State>${t.state}</State>` +
          (t.reason ? `<Reason>${t.reason}</Reason>` : '') +
          `</TargetHealth><Target><Port>${t.port}</Port><Id>${xml(t.id)}</Id>` +
          (t.az ? `<AvailabilityZone>${xml(t.az)}</AvailabilityZone>` : '') +
          `</Target></member>`
      )
      return `<TargetHealthDescriptions>${members.join('')}</TargetHealthDescriptions>`
    },

    RegisterTargets(form) {
      this.settle()
      const group = this.group(String(form.get('TargetGroupArn')))
      const targets = targetsIn(form)
      this.checkTargets(group, targets)
      for (const target of targets) {
        const existing = this.find(group, target)
        if (existing && existing.state !== 'draining') continue
        const t = existing ?? {
          id: target.id,
          port: target.port ?? group.port,
          az: target.az,
          state: 'unused'
        }
        if (!existing) group.targets.push(t)
        this.move(group, t, 'initial', Date.now())
      }
      return ''
    },

    DeregisterTargets(form) {
      this.settle()
      const group = this.group(String(form.get('TargetGroupArn')))
      const targets = targetsIn(form)
      this.checkTargets(group, targets)
      for (const target of targets) {
        const t = this.find(group, target)
        if (!t)
          throw new ElbError(
            'InvalidTarget',
            `The following targets are not registered: '${target.id}'`
          )
        if (t.state !== 'draining') this.move(group, t, 'draining', Date.now())
      }
      this.settle()
      return ''
    }
  }

  /**
   * Answers one Query request: `admit` records it (and applies faults and denials) first.
   * @param {URLSearchParams} form @param {import('node:http').ServerResponse} res
   * @param {(action: string, params: Record<string, unknown>) => Promise<void>} admit
   */
  async handle(form, res, admit) {
    const action = form.get('Action') ?? ''
    const requestId = randomUUID()
    try {
      await admit(action, Object.fromEntries(form))
      const handler = this.actions[action]
      if (!handler)
        throw new ElbError(
          'InvalidAction',
          `Could not find operation ${action} for version ${ELBV2_VERSION}`
        )
      const inner = handler.call(this, form)
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
      res.end(
        `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${inner}</${action}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
      )
    } catch (error) {
      const e = /** @type {{ code?: string, status?: number, message?: string }} */ (error)
      const code = e.code ?? 'InternalFailure'
      res.writeHead(e.status ?? 500, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
      res.end(
        `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>${(e.status ?? 500) < 500 ? 'Sender' : 'Receiver'}</Type>` +
          `<Code>${xml(code)}</Code><Message>${xml(e.message ?? code)}</Message></Error>` +
          `<RequestId>${requestId}</RequestId></ErrorResponse>`
      )
    }
  }
}
