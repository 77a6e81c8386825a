// Security group rules for the local AWS endpoint (test-support/aws-endpoint.js), in EC2's Query
// wire format (form-encoded requests, XML answers): AuthorizeSecurityGroupIngress (with
// TagSpecification at creation), RevokeSecurityGroupIngress by rule id, DescribeSecurityGroupRules
// (filter group-id, paged with MaxResults and an opaque NextToken) and CreateTags on rules. Test
// support only.
//
// The answers' shape is the EC2 API Reference's. Its sample response of
// AuthorizeSecurityGroupIngress (API_AuthorizeSecurityGroupIngress, "Examples"):
//   <AuthorizeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
//     <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
//     <return>true</return>
//   </AuthorizeSecurityGroupIngressResponse>
// and, since rules have ids (2021), the added rules in <securityGroupRuleSet>, each an <item> of
// the SecurityGroupRule data type (API_SecurityGroupRule): securityGroupRuleId, groupId,
// groupOwnerId, isEgress, ipProtocol, fromPort, toPort, cidrIpv4 or cidrIpv6, description, tagSet.
// The errors are EC2's codes: InvalidGroup.NotFound, InvalidPermission.Duplicate,
// InvalidSecurityGroupRuleId.NotFound.
import { randomBytes } from 'node:crypto'

/**
 * @typedef {object} StoredRule
 * @property {string} ruleId
 * @property {string} groupId
 * @property {boolean} isEgress
 * @property {string} ipProtocol
 * @property {number} fromPort
 * @property {number} toPort
 * @property {string} [cidrIpv4]
 * @property {string} [cidrIpv6]
 * @property {string} [description]
 * @property {Record<string, string>} tags
 */

export class Ec2Error extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message)
    this.status = 400
    this.code = code
  }
}

/** @param {string} text */
function xml(text) {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** @param {URLSearchParams} form @param {string} prefix `Tag` -> Tag.1.Key, Tag.1.Value, ... */
function tagsIn(form, prefix) {
  /** @type {Record<string, string>} */
  const tags = {}
  for (let i = 1; form.has(`${prefix}.${i}.Key`); i++)
    tags[String(form.get(`${prefix}.${i}.Key`))] = String(form.get(`${prefix}.${i}.Value`) ?? '')
  return tags
}

/** @param {URLSearchParams} form @param {string} name */
function indexed(form, name) {
  const values = []
  for (let i = 1; form.has(`${name}.${i}`); i++) values.push(String(form.get(`${name}.${i}`)))
  return values
}

/**
 * The sources of one permission: IpRanges.N.CidrIp and Ipv6Ranges.N.CidrIpv6, with descriptions.
 * @param {URLSearchParams} form @param {string} at `IpPermissions.N`
 * @returns {{ cidrIpv4?: string, cidrIpv6?: string, description?: string }[]}
 */
function rangesIn(form, at) {
  const ranges = []
  for (let i = 1; form.has(`${at}.IpRanges.${i}.CidrIp`); i++)
    ranges.push({
      cidrIpv4: String(form.get(`${at}.IpRanges.${i}.CidrIp`)),
      description: form.get(`${at}.IpRanges.${i}.Description`) ?? undefined
    })
  for (let i = 1; form.has(`${at}.Ipv6Ranges.${i}.CidrIpv6`); i++)
    ranges.push({
      cidrIpv6: String(form.get(`${at}.Ipv6Ranges.${i}.CidrIpv6`)),
      description: form.get(`${at}.Ipv6Ranges.${i}.Description`) ?? undefined
    })
  return ranges
}

/** @param {StoredRule} rule @param {string} owner */
function ruleXml(rule, owner) {
  const cidr = rule.cidrIpv4
    ? `<cidrIpv4>${xml(rule.cidrIpv4)}</cidrIpv4>`
    : `<cidrIpv6>${xml(rule.cidrIpv6 ?? '')}</cidrIpv6>`
  const tags = Object.entries(rule.tags)
    .map(([key, value]) => `<item><key>${xml(key)}</key><value>${xml(value)}</value></item>`)
    .join('')
  return (
    `<item><securityGroupRuleId>${rule.ruleId}</securityGroupRuleId><groupId>${rule.groupId}</groupId>` +
    `<groupOwnerId>${owner}</groupOwnerId><isEgress>${rule.isEgress}</isEgress>` +
    `<ipProtocol>${xml(rule.ipProtocol)}</ipProtocol><fromPort>${rule.fromPort}</fromPort>` +
    `<toPort>${rule.toPort}</toPort>${cidr}` +
    (rule.description ? `<description>${xml(rule.description)}</description>` : '') +
    `<tagSet>${tags}</tagSet></item>`
  )
}

export class LocalSecurityGroups {
  /** @param {{ accountId: string }} where */
  constructor(where) {
    this.accountId = where.accountId
    /** @type {Set<string>} */
    this.groups = new Set()
    /** @type {Map<string, StoredRule>} */
    this.rules = new Map()
  }

  /** @param {string} groupId */
  addGroup(groupId) {
    this.groups.add(groupId)
  }

  /**
   * Seeds an ingress rule, as another run (or a person) would have added it.
   * @param {{ groupId: string, cidr: string, port: number, tags?: Record<string, string> }} rule
   * @returns {string} its rule id
   */
  addIngressRule(rule) {
    const ruleId = `sgr-${randomBytes(8).toString('hex').slice(0, 17)}`
    this.rules.set(ruleId, {
      ruleId,
      groupId: rule.groupId,
      isEgress: false,
      ipProtocol: 'tcp',
      fromPort: rule.port,
      toPort: rule.port,
      ...(rule.cidr.includes(':') ? { cidrIpv6: rule.cidr } : { cidrIpv4: rule.cidr }),
      tags: rule.tags ?? {}
    })
    return ruleId
  }

  /** @param {string} groupId @returns {StoredRule[]} the group's ingress rules */
  ingressRules(groupId) {
    return [...this.rules.values()].filter(rule => rule.groupId === groupId && !rule.isEgress)
  }

  /** @param {string} groupId */
  requireGroup(groupId) {
    if (!this.groups.has(groupId))
      throw new Ec2Error('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`)
  }

  /** @type {Record<string, (this: LocalSecurityGroups, form: URLSearchParams) => string>} */
  actions = {
    AuthorizeSecurityGroupIngress(form) {
      const groupId = String(form.get('GroupId') ?? '')
      this.requireGroup(groupId)
      const tags = {}
      for (let i = 1; form.has(`TagSpecification.${i}.ResourceType`); i++) {
        if (form.get(`TagSpecification.${i}.ResourceType`) === 'security-group-rule')
          Object.assign(tags, tagsIn(form, `TagSpecification.${i}.Tag`))
      }
      /** @type {StoredRule[]} */
      const added = []
      for (let p = 1; form.has(`IpPermissions.${p}.IpProtocol`); p++) {
        const at = `IpPermissions.${p}`
        const base = {
          groupId,
          isEgress: false,
          ipProtocol: String(form.get(`${at}.IpProtocol`)),
          fromPort: Number(form.get(`${at}.FromPort`)),
          toPort: Number(form.get(`${at}.ToPort`))
        }
        const ranges = rangesIn(form, at)
        for (const range of ranges) {
          const duplicate = this.ingressRules(groupId).find(
            rule =>
              rule.ipProtocol === base.ipProtocol &&
              rule.fromPort === base.fromPort &&
              rule.toPort === base.toPort &&
              rule.cidrIpv4 === range.cidrIpv4 &&
              rule.cidrIpv6 === range.cidrIpv6
          )
          if (duplicate) {
            const peer = range.cidrIpv4 ?? range.cidrIpv6
            throw new Ec2Error(
              'InvalidPermission.Duplicate',
              `the specified rule "peer: ${peer}, ${base.ipProtocol.toUpperCase()}, from port: ${base.fromPort}, to port: ${base.toPort}, ALLOW" already exists`
            )
          }
          const ruleId = `sgr-${randomBytes(9).toString('hex').slice(0, 17)}`
          added.push({ ruleId, ...base, ...range, tags: { ...tags } })
        }
      }
      for (const rule of added) this.rules.set(rule.ruleId, rule)
      const items = added.map(rule => ruleXml(rule, this.accountId)).join('')
      return `<return>true</return><securityGroupRuleSet>${items}</securityGroupRuleSet>`
    },

    RevokeSecurityGroupIngress(form) {
      const groupId = String(form.get('GroupId') ?? '')
      this.requireGroup(groupId)
      const ids = indexed(form, 'SecurityGroupRuleId')
      // The whole call fails on one unknown id, and removes nothing.
      for (const id of ids) {
        const rule = this.rules.get(id)
        if (!rule || rule.groupId !== groupId || rule.isEgress)
          throw new Ec2Error(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${id}' does not exist`
          )
      }
      for (const id of ids) this.rules.delete(id)
      return '<return>true</return>'
    },

    DescribeSecurityGroupRules(form) {
      /** @type {{ name: string, values: string[] }[]} */
      const filters = []
      for (let i = 1; form.has(`Filter.${i}.Name`); i++)
        filters.push({
          name: String(form.get(`Filter.${i}.Name`)),
          values: indexed(form, `Filter.${i}.Value`)
        })
      const matches = [...this.rules.values()].filter(rule =>
        filters.every(({ name, values }) => {
          if (name === 'group-id') return values.includes(rule.groupId)
          if (name === 'security-group-rule-id') return values.includes(rule.ruleId)
          if (name.startsWith('tag:')) return values.includes(rule.tags[name.slice(4)])
          throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`)
        })
      )
      const size = Number(form.get('MaxResults') ?? 1000)
      const start = Number(Buffer.from(form.get('NextToken') ?? '', 'base64').toString() || 0)
      const page = matches.slice(start, start + size)
      const next =
        start + size < matches.length
          ? `<nextToken>${Buffer.from(String(start + size)).toString('base64')}</nextToken>`
          : ''
      const items = page.map(rule => ruleXml(rule, this.accountId)).join('')
      return `<securityGroupRuleSet>${items}</securityGroupRuleSet>${next}`
    },

    CreateTags(form) {
      const tags = tagsIn(form, 'Tag')
      for (const id of indexed(form, 'ResourceId')) {
        const rule = this.rules.get(id)
        if (!rule)
          throw new Ec2Error(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${id}' does not exist`
          )
        Object.assign(rule.tags, tags)
      }
      return '<return>true</return>'
    }
  }
}
