// CloudTrail's event history for the local AWS endpoint (test-support/aws-endpoint.js): every
// Secrets Manager call the endpoint answers is recorded as CloudTrail records it (with the
// caller's User-Agent), tests may add events of their own (`add`), and LookupEvents answers in
// its real wire shape: JSON 1.1, target CloudTrail_20131101.LookupEvents, one lookup attribute,
// newest first, at most 50 a page with a NextToken.
//
// The shapes, from AWS's documentation: LookupEvents' Response Syntax (AWS CloudTrail API
// Reference, API_LookupEvents: Events[] of AccessKeyId, CloudTrailEvent, EventId, EventName,
// EventSource, EventTime (epoch seconds), ReadOnly ("true"/"false"), Resources[] of ResourceName
// and ResourceType, Username; NextToken), and the record in CloudTrailEvent as CloudTrail writes
// it for a Secrets Manager call (AWS CloudTrail User Guide, "CloudTrail record contents";
// Secrets Manager User Guide, "Log AWS Secrets Manager events with AWS CloudTrail"), e.g.:
//   {"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROASXP6SDP2F4WLQVARB:evil.genius",
//    "arn":"arn:aws:sts::123123123123:assumed-role/AWSReservedSSO_DevAdmin_635426549a280cc6/evil.genius",
//    "accountId":"123123123123","accessKeyId":"ASIASXP6SDP2LKLKYYC4","sessionContext":{"sessionIssuer":
//    {"type":"Role","principalId":"AROASXP6SDP2F4WLQVARB","arn":"arn:aws:iam::123123123123:role/...",
//    "accountId":"123123123123","userName":"AWSReservedSSO_DevAdmin_635426549a280cc6"},"attributes":
//    {"creationDate":"2024-10-17T21:48:13Z","mfaAuthenticated":"false"}}},"eventTime":"2024-10-17T21:48:45Z",
//    "eventSource":"secretsmanager.amazonaws.com","eventName":"GetSecretValue","awsRegion":"us-west-2",
//    "sourceIPAddress":"123.123.123.123","userAgent":"aws-sdk-go/1.44.157 (go1.19.3; darwin; arm64)",
//    "requestParameters":{"secretId":"arn:aws:secretsmanager:us-west-2:123123123123:secret:...-gscOm8",
//    "versionId":"7DC59E8B-63AE-454D-B7A4-8A7D64AB05E7"},"responseElements":null,
//    "requestID":"5128b35f-0daf-4c5e-948a-21a1c507968c","eventID":"dfd6d93a-2ce6-4dbe-8939-86b8ba67c868",
//    "readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123123123123",
//    "eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256",
//    "clientProvidedHostHeader":"secretsmanager.us-west-2.amazonaws.com"}}
// (a GetSecretValue as CloudTrail recorded it; the values are the sample's, not ours).
import { randomUUID } from 'node:crypto'

const PAGE = 50
const READ_ONLY = /^(Get|Describe|List|BatchGet|Validate)/

/**
 * @typedef {object} TrailEvent
 * @property {string} eventName
 * @property {string} [eventSource] default secretsmanager.amazonaws.com
 * @property {Date} [time] default now
 * @property {boolean} [readOnly] default: from the name (Get..., Describe..., List...)
 * @property {string} [principalArn] default the endpoint's caller, assumed-role/deploy/ci
 * @property {string} [sourceIPAddress]
 * @property {string} [userAgent]
 * @property {Record<string, unknown>} [requestParameters]
 * @property {unknown} [responseElements]
 * @property {Record<string, unknown>} [extra] more fields of the record, as a hostile one may hold
 * @property {string} [cloudTrailEvent] the record's JSON text as it is, instead of building it
 */

export class CloudTrailError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message)
    this.status = 400
    this.code = code
  }
}

export class LocalCloudTrail {
  /** @param {{ region: string, accountId: string }} aws */
  constructor(aws) {
    this.aws = aws
    /** @type {{ EventId: string, EventName: string, EventSource: string, EventTime: number, ReadOnly: string, Username: string, AccessKeyId: string, Resources: unknown[], CloudTrailEvent: string }[]} */
    this.events = []
    /** @type {Record<string, (params: Record<string, unknown>) => unknown>} */
    this.actions = { LookupEvents: params => this.lookupEvents(params) }
    /** Whether the endpoint's own Secrets Manager calls are recorded (a test of a seeded history turns it off). */
    this.recordCalls = true
  }

  /** Records one event, as CloudTrail does a call. @param {TrailEvent} event */
  add(event) {
    const { accountId, region } = this.aws
    const time = event.time ?? new Date()
    const principalArn = event.principalArn ?? `arn:aws:sts::${accountId}:assumed-role/deploy/ci`
    const roleSession = /:assumed-role\/([^/]+)\/(.+)$/.exec(principalArn)
    const eventSource = event.eventSource ?? 'secretsmanager.amazonaws.com'
    const readOnly = event.readOnly ?? READ_ONLY.test(event.eventName)
    const eventId = randomUUID()
    const record = {
      eventVersion: '1.09',
      userIdentity: {
        type: roleSession ? 'AssumedRole' : 'IAMUser',
        principalId: `AROASXP6SDP2F4WLQVARB:${roleSession?.[2] ?? 'user'}`,
        arn: principalArn,
        accountId,
        accessKeyId: 'ASIASXP6SDP2LKLKYYC4',
        ...(roleSession && {
          sessionContext: {
            sessionIssuer: {
              type: 'Role',
              principalId: 'AROASXP6SDP2F4WLQVARB',
              arn: `arn:aws:iam::${accountId}:role/${roleSession[1]}`,
              accountId,
              userName: roleSession[1]
            },
            attributes: { creationDate: time.toISOString(), mfaAuthenticated: 'false' }
          }
        })
      },
      eventTime: time.toISOString().replace(/\.\d+Z$/, 'Z'),
      eventSource,
      eventName: event.eventName,
      awsRegion: region,
      sourceIPAddress: event.sourceIPAddress ?? '203.0.113.10',
      userAgent: event.userAgent ?? 'aws-cli/2.15.0 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0',
      requestParameters: event.requestParameters ?? null,
      responseElements: event.responseElements ?? null,
      requestID: randomUUID(),
      eventID: eventId,
      readOnly,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: accountId,
      eventCategory: 'Management',
      ...event.extra
    }
    this.events.push({
      EventId: eventId,
      EventName: event.eventName,
      EventSource: eventSource,
      EventTime: time.getTime() / 1000,
      ReadOnly: String(readOnly),
      Username: roleSession?.[2] ?? 'user',
      AccessKeyId: 'ASIASXP6SDP2LKLKYYC4',
      Resources: [],
      CloudTrailEvent: event.cloudTrailEvent ?? JSON.stringify(record)
    })
  }

  /**
   * A Secrets Manager call the endpoint answered, as CloudTrail records it: the secret's id and
   * version as asked for, never a value (CloudTrail holds none).
   * @param {string} action @param {Record<string, unknown>} params @param {string} userAgent
   */
  recordCall(action, params, userAgent) {
    if (!this.recordCalls) return
    /** @type {Record<string, unknown>} */
    const requestParameters = {}
    for (const [from, to] of [
      ['SecretId', 'secretId'],
      ['VersionId', 'versionId'],
      ['VersionStage', 'versionStage'],
      ['ClientRequestToken', 'clientRequestToken']
    ])
      if (typeof params[from] === 'string') requestParameters[to] = params[from]
    this.add({ eventName: action, sourceIPAddress: '127.0.0.1', userAgent, requestParameters })
  }

  /** @param {Record<string, unknown>} params */
  lookupEvents(params) {
    const attributes = /** @type {{ AttributeKey?: string, AttributeValue?: string }[]} */ (
      params.LookupAttributes ?? []
    )
    if (attributes.length > 1) {
      throw new CloudTrailError(
        'InvalidLookupAttributesException',
        'You cannot specify more than one lookup attribute.'
      )
    }
    const start = typeof params.StartTime === 'number' ? params.StartTime : -Infinity
    const end = typeof params.EndTime === 'number' ? params.EndTime : Infinity
    if (start > end) {
      throw new CloudTrailError(
        'InvalidTimeRangeException',
        'Start time must be earlier than end time.'
      )
    }
    const [attribute] = attributes
    const field = attribute?.AttributeKey === 'EventSource' ? 'EventSource' : undefined
    if (attribute && !field)
      throw new Error(`local CloudTrail: lookup by ${attribute.AttributeKey} is not implemented`)
    const matching = this.events
      .filter(e => e.EventTime >= start && e.EventTime <= end)
      .filter(e => !field || e[field] === attribute.AttributeValue)
      .sort((a, b) => b.EventTime - a.EventTime)
    const size = Math.min(Number(params.MaxResults ?? PAGE), PAGE)
    const from = params.NextToken ? Number(Buffer.from(String(params.NextToken), 'base64url')) : 0
    const page = matching.slice(from, from + size)
    const next = from + size < matching.length ? from + size : undefined
    return {
      Events: page,
      ...(next !== undefined ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {})
    }
  }
}
