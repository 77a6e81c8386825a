import * as core from '@actions/core'
import { truncateUtf8 } from '../lib/lines.js'
import { escapeHtml, inline, plainText } from '../lib/html.js'
import { redact, shownVersionId } from '../lib/log.js'
import { formatSeconds } from '../lib/text.js'
import type { PreviewReport } from '../phases/preview.js'
import type { RotationReport } from '../phases/rotate.js'
import type { IngressReport } from '../phases/ingress.js'
import { SUMMARY_LINES, type InstanceFailureLogs } from '../restart/failure-logs.js'

/** What the run did, phase by phase; ids, names and addresses only, never a secret value. */
export interface RunReport extends RotationReport, IngressReport {
  secretsRead: { role: string; id: string; versionId: string }[]
  exportedKeys: string[]
  /** The environment variables exported for later steps (export-env). */
  exportedEnv: string[]
  deploy?: { stack: string; instanceId: string; address: string }
  writeBack?: { key: string; changed: boolean; versionId: string }
  /** deploy: diff: what cdk diff said would change. */
  preview?: PreviewReport
  failure?: string
}

export function newReport(): RunReport {
  return { secretsRead: [], exportedKeys: [], exportedEnv: [] }
}

/** GitHub drops a step summary over 1 MiB; the failure is the only part that can be long. */
const MAX_FAILURE_BYTES = 16 * 1024
/**
 * The preview's diff, escaped: whole up to this (a pull-request comment links here for the part it
 * cannot hold), and the rest of a preview's summary stays far below GitHub's 1 MiB.
 */
const MAX_PREVIEW_BYTES = 768 * 1024

/** Ids, versions and names the action built or the workflow gave: shown as they are. */
const code = (text: string): string => `<code>${inline(text)}</code>`

/**
 * A secret version id: whoever may write the secret chooses it (ClientRequestToken), so it is
 * shown as the log shows it (shownVersionId), and escaped like any text.
 */
const version = (versionId: string): string => code(shownVersionId(versionId))

/** Text that may quote a value (an address from the secret, what a program printed). */
const quoted = (text: string): string => inline(redact(text))

/**
 * The failure message in a <pre> block: CommonMark ends that kind of HTML block only at its
 * closing tag, which escaping keeps out of the text, so no line of it can become markdown.
 */
function failureBlock(message: string): string {
  // The blank line ends the <p> block, so that <pre> starts a block of its own (a <p> block would
  // end at the first blank line of the message, and the rest would render as markdown).
  return `<p><strong>Failed:</strong></p>\n\n${preBlock(message, MAX_FAILURE_BYTES)}`
}

/**
 * Text of many lines as one <pre> block (see failureBlock): redacted, escaped, and then bounded,
 * so that escaping (up to six times the size) cannot take the summary past GitHub's limit.
 */
function preBlock(text: string, maxBytes: number): string {
  const escaped = escapeHtml(plainText(text))
  let cut = truncateUtf8(escaped, maxBytes)
  // Not in the middle of an entity: "&am" would show as text.
  if (cut !== escaped && cut.lastIndexOf('&') > cut.lastIndexOf(';'))
    cut = cut.slice(0, cut.lastIndexOf('&'))
  return `<pre>${cut === escaped ? escaped : `${cut}\n[... cut at ${maxBytes} bytes]`}</pre>`
}

/** At most this many failed instances' journals in the summary; the log has every one. */
const FAILURE_LOGS_SHOWN = 3

/**
 * Input "failure-logs": the last lines of each failed instance's journal (or why there are none),
 * lines the instance chose, so redacted (shownLine) and escaped in a <pre> block.
 */
function failureLogsBlock(entries: InstanceFailureLogs[]): string {
  const blocks = entries.slice(0, FAILURE_LOGS_SHOWN).map(({ where, logs }) => {
    const subject = `${code(logs.unit)} on ${quoted(where)}`
    if (logs.unreadable) return `<p>Journal of ${subject}: ${quoted(logs.unreadable)}</p>`
    const last = logs.journal.slice(-SUMMARY_LINES)
    return (
      `<p>The last ${last.length} journal lines of ${subject}:</p>\n\n` +
      preBlock(redact(last.join('\n')), MAX_FAILURE_BYTES)
    )
  })
  const more = entries.length - FAILURE_LOGS_SHOWN
  if (more > 0) blocks.push(`<p>${more} more failed instances: their journals are in the log.</p>`)
  return blocks.join('\n\n')
}

/** deploy: diff: the verdict, a warning per resource replaced or destroyed, the diff folded. */
function previewBlock(p: PreviewReport): string {
  const risks = p.risks.map(risk => `<p>:warning: ${quoted(risk)}</p>`).join('\n')
  return (
    `<p>cdk diff of stack ${code(p.stack)}: ${quoted(p.verdict)}; nothing was deployed</p>\n` +
    (risks ? `${risks}\n` : '') +
    // The whole diff, not the `diff` output's first 64 KiB. Blank lines around <pre>, for the
    // same reason as in failureBlock.
    `<details><summary>The diff</summary>\n\n${preBlock(p.whole, MAX_PREVIEW_BYTES)}\n\n</details>`
  )
}

/** Writes the job summary, when the runner gave a summary file. */
export async function writeSummary(
  report: RunReport,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return
  const summary = core.summary.addHeading('secrets-deploy-action', 3)
  if (report.failure) summary.addRaw(failureBlock(report.failure), true)
  if (report.failure && report.failureLogs)
    summary.addRaw(failureLogsBlock(report.failureLogs), true)
  secretsSection(summary, report)
  if (report.preview) summary.addRaw(previewBlock(report.preview), true)
  deploySection(summary, report)
  if (report.fleet) fleetSection(summary, report.fleet)
  if (report.outOfService) summary.addRaw(outOfServiceLine(report.outOfService), true)
  if (report.rotation) summary.addRaw(rotationLine(report.rotation), true)
  await summary.write()
}

/** Input "rotate": key names and versions only, never a value. */
function rotationLine(r: NonNullable<RunReport['rotation']>): string {
  const undone = r.undone
    ? `; undone: the old values are back in version ${version(r.undone.versionId)}, ${quoted(r.undone.restartedAgain)}`
    : ''
  return `<p>Rotated ${r.keys.map(code).join(', ')} of the app secret ${code(r.secretId)}: version ${version(r.versionId)}${undone}</p>`
}

type Summary = typeof core.summary

/** Which secret versions were read, and what became outputs and variables. */
function secretsSection(summary: Summary, report: RunReport): void {
  if (report.secretsRead.length > 0) {
    summary.addTable([
      [
        { data: 'secret', header: true },
        { data: 'id', header: true },
        { data: 'version', header: true }
      ],
      ...report.secretsRead.map(s => [inline(s.role), code(s.id), version(s.versionId)])
    ])
  }
  if (report.exportedKeys.length > 0) {
    summary.addRaw(
      `<p>Exported as step outputs: ${report.exportedKeys.map(code).join(', ')}</p>`,
      true
    )
  }
  if (report.exportedEnv.length > 0) {
    summary.addRaw(
      `<p>Exported as environment variables: ${report.exportedEnv.map(code).join(', ')}</p>`,
      true
    )
  }
}

/** The deploy, the write-back and a single host's restart. */
function deploySection(summary: Summary, report: RunReport): void {
  if (report.deploy) {
    const d = report.deploy
    summary.addRaw(
      `<p>Deployed stack ${code(d.stack)}: instance ${code(d.instanceId)} at <code>${quoted(d.address)}</code></p>`,
      true
    )
  }
  if (report.writeBack) {
    const w = report.writeBack
    summary.addRaw(
      w.changed
        ? `<p>Wrote the address into ${code(w.key)}: new secret version ${version(w.versionId)}</p>`
        : `<p>${code(w.key)} already held the address: the secret was not changed</p>`,
      true
    )
  }
  if (report.ingress) {
    const i = report.ingress
    summary.addRaw(
      `<p>Opened security group ${code(i.groupId)} to ${code(i.cidr)} on TCP port ${i.port} for ` +
        `this run (rule ${code(i.ruleId)}): ` +
        (i.closed ? 'closed again' : '<strong>not closed</strong>; the post step tries again') +
        '</p>',
      true
    )
  }
  if (report.restart) {
    const r = report.restart
    summary.addRaw(
      `<p>Restart of ${code(r.unit)} on <code>${quoted(r.host)}</code>: ${quoted(r.result)}</p>`,
      true
    )
  }
}

/** A fleet's restart: one row per instance. */
function fleetSection(summary: Summary, f: NonNullable<RunReport['fleet']>): void {
  const ok = f.results.filter(r => r.status === 'Success').length
  summary.addRaw(
    `<p>Restart of ${code(f.unit)} ${f.via === 'ssh' ? 'over SSH' : `with SSM Run Command ${f.commandIds.map(code).join(', ')}`}: ` +
      `${ok} of ${f.results.length} instances succeeded</p>`,
    true
  )
  const releases = f.results.some(r => r.release !== undefined)
  const gated = f.results.some(r => r.drained !== undefined)
  summary.addTable([
    [
      'instance',
      'status',
      'exit code',
      'duration',
      ...(releases ? ['release'] : []),
      ...(gated ? ['drained in', 'healthy after'] : [])
    ].map(data => ({ data, header: true })),
    ...f.results.map(r => [
      code(r.instanceId),
      inline(r.status),
      // An empty cell would come out as an unclosed <td> from core.summary.
      r.exitCode === undefined ? '-' : inline(String(r.exitCode)),
      r.durationMs === undefined ? '-' : inline(formatSeconds(r.durationMs)),
      ...(releases ? [quoted(r.release ?? '-')] : []),
      ...(gated ? [inline(r.drained ?? '-'), inline(r.healthyAfter ?? '-')] : [])
    ])
  ])
}

/** Behind target groups: which instances the run left deregistered. */
function outOfServiceLine(o: NonNullable<RunReport['outOfService']>): string {
  const groups = o.groupArns.map(code).join(', ')
  return o.instanceIds.length === 0
    ? `<p>Every instance is back in target group ${groups}</p>`
    : `<p><strong>Out of target group ${groups}</strong> (deregistered, taking no traffic): ${o.instanceIds.map(code).join(', ')}</p>`
}
