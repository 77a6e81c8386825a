import { describeRisk, parseCdkDiff, riskyChanges, verdict } from '../cdk/diff.js'
import { runCdk, type CdkDeployPlan, type CdkRunOptions } from '../cdk/run.js'
import { ActionError } from '../lib/errors.js'
import { OUTPUTS } from '../lib/output-names.js'
import { truncateUtf8 } from '../lib/lines.js'
import { quoteUntrusted, redact, type StepOutputs } from '../lib/log.js'

/** What the summary shows of a preview: built from the CLI's text, which is untrusted. */
export interface PreviewReport {
  stack: string
  verdict: string
  /** One line per resource replaced or destroyed (describeRisk). */
  risks: string[]
  /** The diff text without colour codes, redacted, at most MAX_DIFF_BYTES. */
  text: string
  /** The same, whole (up to what is collected): for the summary and the pull-request comment. */
  whole: string
}

/**
 * The `diff` output and the summary's copy of it. A step output may hold 1 MiB and a job summary
 * as much in all; a diff larger than this is cut, saying so, and the log has all of it.
 */
export const MAX_DIFF_BYTES = 64 * 1024
/** What is kept of the CLI's output to parse: far more than any stack's diff, still bounded. */
const MAX_COLLECTED_BYTES = 4 * 1024 * 1024

/**
 * Runs cdk diff of the planned stack (deploy: diff) and reports what would change: outputs
 * `changes` and `diff`, a warning per resource replaced or destroyed, and with `failOnReplace` a
 * failure naming them. Nothing is deployed, written back or restarted.
 */
export async function previewStack(
  plan: CdkDeployPlan,
  env: Record<string, string>,
  options: CdkRunOptions & {
    outputs: StepOutputs
    failOnReplace: boolean
    onReport: (report: PreviewReport) => void
  }
): Promise<void> {
  const lines: string[] = []
  let collected = 0
  let overflow = false
  await runCdk(plan, env, {
    ...options,
    onLine: line => {
      collected += Buffer.byteLength(line) + 1
      if (collected <= MAX_COLLECTED_BYTES) lines.push(line)
      else overflow = true
    }
  })
  const output = lines.join('\n')
  const diff = parseCdkDiff(output)
  // The diff starts at "Stack <name>"; what comes before is the synthesis' own chatter.
  const start = diff.text.split('\n').findIndex(line => /^Stack \S/.test(line))
  const body = (start > 0 ? diff.text.split('\n').slice(start).join('\n') : diff.text).trim()
  // The output may end up in a pull-request comment: no registered value goes with it.
  const clean = redact(body)
  const cut = truncateUtf8(clean, MAX_DIFF_BYTES)
  const text =
    cut === clean && !overflow
      ? clean
      : `${cut}\n[... cut at ${MAX_DIFF_BYTES} bytes; the step's log has the whole diff]`
  const risky = riskyChanges(diff)
  const report: PreviewReport = {
    stack: plan.stack,
    verdict: verdict(diff),
    risks: risky.map(describeRisk),
    text,
    whole: clean
  }
  options.onReport(report)
  options.outputs.set(OUTPUTS.changes, String(diff.changes))
  options.outputs.set(OUTPUTS.diff, text)
  options.log.info(
    `cdk diff of stack "${plan.stack}": ${quoteUntrusted(report.verdict)}. Nothing was deployed, written back or restarted.`
  )
  for (const risk of report.risks) options.log.warning(quoteUntrusted(risk))
  if (options.failOnReplace && risky.length > 0) {
    throw new ActionError(
      `cdk diff of stack "${plan.stack}" replaces or destroys ${risky.length} resource${risky.length === 1 ? '' : 's'}: ` +
        `${risky.map(r => quoteUntrusted(`${r.type} ${r.id}`, 300)).join(', ')}. ` +
        'Input "fail-on-replace" is true: review the change, or set fail-on-replace: false to let it pass.'
    )
  }
}
