import * as core from '@actions/core'
import { redact } from './log.js'

/** What the run did, phase by phase; ids, names and addresses only, never a secret value. */
export interface RunReport {
  secretsRead: { role: string; id: string; versionId: string }[]
  exportedKeys: string[]
  exportedEnv: boolean
  deploy?: { stack: string; instanceId: string; address: string }
  writeBack?: { key: string; changed: boolean; versionId: string }
  restart?: { host: string; unit: string; result: string }
  failure?: string
}

export function newReport(): RunReport {
  return { secretsRead: [], exportedKeys: [], exportedEnv: false }
}

const code = (text: string): string => `<code>${escapeHtml(text)}</code>`

function escapeHtml(text: string): string {
  // Redacted before escaping: the runner masks the summary, but not the HTML-escaped form of a value.
  return redact(text).replace(
    /[&<>"]/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c
  )
}

/** Writes the job summary, when the runner gave a summary file. */
export async function writeSummary(
  report: RunReport,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  if (!env.GITHUB_STEP_SUMMARY) return
  const summary = core.summary.addHeading('secrets-deploy-action', 3)
  if (report.failure)
    summary.addRaw(`<p><strong>Failed:</strong> ${escapeHtml(report.failure)}</p>`, true)
  if (report.secretsRead.length > 0) {
    summary.addTable([
      [
        { data: 'secret', header: true },
        { data: 'id', header: true },
        { data: 'version', header: true }
      ],
      ...report.secretsRead.map(s => [s.role, code(s.id), code(s.versionId)])
    ])
  }
  if (report.exportedKeys.length > 0) {
    const where = report.exportedEnv ? 'step outputs and environment variables' : 'step outputs'
    summary.addRaw(`<p>Exported as ${where}: ${report.exportedKeys.map(code).join(', ')}</p>`, true)
  }
  if (report.deploy) {
    const d = report.deploy
    summary.addRaw(
      `<p>Deployed stack ${code(d.stack)}: instance ${code(d.instanceId)} at ${code(d.address)}</p>`,
      true
    )
  }
  if (report.writeBack) {
    const w = report.writeBack
    summary.addRaw(
      w.changed
        ? `<p>Wrote the address into ${code(w.key)}: new secret version ${code(w.versionId)}</p>`
        : `<p>${code(w.key)} already held the address: the secret was not changed</p>`,
      true
    )
  }
  if (report.restart) {
    const r = report.restart
    summary.addRaw(
      `<p>Restart of ${code(r.unit)} on ${code(r.host)}: ${escapeHtml(r.result)}</p>`,
      true
    )
  }
  await summary.write()
}
