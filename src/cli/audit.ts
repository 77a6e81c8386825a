import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager'
import { paginateLookupEvents, type Event } from '@aws-sdk/client-cloudtrail'
import { InvalidArgumentError } from 'commander'
import { describeAwsError } from '../aws/errors.js'
import { quoteUntrusted } from '../lib/log.js'
import { secretCall } from '../secrets/read.js'
import type { Session, SecretRef } from './context.js'
import { printJson, shown, table, type Io } from './io.js'

// `secrets-deploy audit`: who read or changed a secret, from CloudTrail's event history (the last
// 90 days of management events in the region). LookupEvents takes one lookup attribute and is
// limited to 2 requests a second, so the command asks for Secrets Manager's events (EventSource)
// and keeps those whose requestParameters.secretId names the secret, by name or ARN. CloudTrail
// holds no secret values; of each record only the columns below are read and shown, each as
// untrusted text (whoever can call Secrets Manager in the account chose its user agent).

export const AUDIT_EVENTS = ['read', 'write', 'all'] as const
export type AuditEvents = (typeof AUDIT_EVENTS)[number]

export interface AuditOptions {
  /** How far back, in milliseconds (--since). */
  since: number
  event: AuditEvents
  json?: boolean
}

/** CloudTrail's event history keeps 90 days. */
const HISTORY_DAYS = 90
const DAY_MS = 24 * 3600 * 1000
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3600_000, d: DAY_MS }
/** A record larger than this is not parsed (CloudTrail's own records are a few KiB). */
const MAX_RECORD_CHARS = 256 * 1024

/** --since: 30m, 12h, 7d, up to CloudTrail's 90 days. */
export function parseSince(text: string): number {
  const match = /^(\d{1,6})([mhd])$/.exec(text.trim())
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN
  if (!(ms > 0)) {
    throw new InvalidArgumentError(
      `give a duration such as 30m, 12h or 7d (minutes, hours, days), not ${JSON.stringify(text)}.`
    )
  }
  if (ms > HISTORY_DAYS * DAY_MS) {
    throw new InvalidArgumentError(
      `CloudTrail's event history keeps ${HISTORY_DAYS} days: give at most ${HISTORY_DAYS}d (for older events, query a trail's logs).`
    )
  }
  return ms
}

/** One event as the command shows it: only these fields of the record are ever read. */
export interface AuditEntry {
  time: string
  event: string
  readOnly: boolean
  principal: string
  /** An assumed role's session name (configure-aws-credentials' role-session-name). */
  sessionName: string
  sourceAddress: string
  userAgent: string
}

/** The parts of a CloudTrail record the command reads. */
interface TrailRecord {
  userIdentity?: { arn?: unknown; type?: unknown }
  sourceIPAddress?: unknown
  userAgent?: unknown
  readOnly?: unknown
  requestParameters?: { secretId?: unknown } | null
}

const text = (value: unknown, maxBytes = 256): string =>
  typeof value === 'string' ? quoteUntrusted(value, maxBytes) : ''

/** Whether a secretId as the caller gave it (name, ARN, or ARN without its suffix) is this secret. */
function namesSecret(secretId: unknown, name: string, arn: string): boolean {
  if (typeof secretId !== 'string' || secretId === '') return false
  return secretId === name || secretId === arn || (arn !== '' && secretId === arn.slice(0, -7))
}

function entryOf(event: Event, name: string, arn: string): AuditEntry | undefined {
  const json = event.CloudTrailEvent ?? ''
  if (json.length > MAX_RECORD_CHARS) return undefined
  let record: TrailRecord
  try {
    record = JSON.parse(json) as TrailRecord
  } catch {
    return undefined
  }
  if (!namesSecret(record.requestParameters?.secretId, name, arn)) return undefined
  const principal = text(record.userIdentity?.arn, 512)
  const session = /:assumed-role\/[^/]+\/(.+)$/.exec(principal)?.[1] ?? ''
  return {
    time: event.EventTime?.toISOString() ?? '',
    event: text(event.EventName, 128),
    readOnly: event.ReadOnly === 'true' || record.readOnly === true,
    principal,
    sessionName: session,
    sourceAddress: text(record.sourceIPAddress, 128),
    userAgent: text(record.userAgent, 256)
  }
}

const wanted = (entry: AuditEntry, events: AuditEvents) =>
  events === 'all' || (events === 'read') === entry.readOnly

/** The secret's name and ARN, so that events naming it either way are found. */
async function identify(
  session: Session,
  secret: SecretRef
): Promise<{ name: string; arn: string }> {
  try {
    const answer = await session.client.send(new DescribeSecretCommand({ SecretId: secret.id }))
    return { name: answer.Name ?? secret.id, arn: answer.ARN ?? '' }
  } catch (error) {
    throw describeAwsError(
      error,
      secretCall('DescribeSecret', secret.role, secret.id, secret.notFoundHint)
    )
  }
}

/** Lists the secret's reads and writes (as --event asks), newest first. */
export async function auditCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  options: AuditOptions
): Promise<void> {
  const { name, arn } = await identify(session, secret)
  const client = await session.clients.cloudTrail()
  const since = new Date(Date.now() - options.since)
  const entries: AuditEntry[] = []
  try {
    const pages = paginateLookupEvents(
      { client },
      {
        LookupAttributes: [
          { AttributeKey: 'EventSource', AttributeValue: 'secretsmanager.amazonaws.com' }
        ],
        StartTime: since
      }
    )
    for await (const page of pages) {
      for (const event of page.Events ?? []) {
        const entry = entryOf(event, name, arn)
        if (entry && wanted(entry, options.event)) entries.push(entry)
      }
    }
  } catch (error) {
    throw describeAwsError(error, {
      action: 'cloudtrail:LookupEvents',
      subject: 'the event history',
      resource: '*'
    })
  }
  if (options.json) {
    printJson(io, {
      secret: { name: shown(name), arn: shown(arn) },
      since: since.toISOString(),
      events: entries
    })
  } else if (entries.length > 0) {
    const rows = entries.map(e => [
      e.time,
      e.event,
      e.principal + (e.sessionName ? ` (session ${e.sessionName})` : ''),
      e.sourceAddress,
      e.userAgent
    ])
    for (const line of table([['TIME', 'EVENT', 'WHO', 'SOURCE', 'CLIENT'], ...rows])) io.out(line)
  }
  const kind = options.event === 'all' ? 'reads and writes' : `${options.event}s`
  io.err(
    `${entries.length} ${kind} of "${shown(name)}" since ${since.toISOString()} (CloudTrail's event history; it holds no secret values).`
  )
}
