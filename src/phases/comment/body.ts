import {
  parseCdkDiff,
  riskOf,
  riskyChanges,
  stripAnsi,
  type ResourceChange
} from '../../cdk/diff.js'
import { escapeHtml, inline, plainText } from '../../lib/html.js'

/**
 * GitHub refuses a comment body over 65,536 characters (its 422 says so; it was also measured to
 * take up to 262,144 UTF-8 bytes). The body is measured in UTF-16 code units, never fewer than
 * either count (a code point is one or two units, at most three UTF-8 bytes per unit).
 */
export const MAX_COMMENT_LENGTH = 65_536

/** What a pull-request comment of a preview is made of. */
export interface DiffComment {
  stack: string
  /** Input "comment-key": one more comment per stack, for a workflow that previews it twice. */
  key: string
  /** The verdict line (cdk/diff.ts verdict). */
  verdict: string
  /** The whole diff as the CDK CLI printed it, without colour codes: untrusted text. */
  diff: string
  /** The run, whose job summary holds the whole diff. */
  runUrl?: string
  /** The pull request's head commit the diff is of. */
  commit?: string
}

/** Rows of the table of replaced and destroyed resources, and its share of the comment. */
const MAX_TABLE_ROWS = 25
const MAX_TABLE_LENGTH = 8 * 1024
/** A table cell's text before escaping. */
const MAX_CELL_CHARACTERS = 200

/**
 * The hidden first line that finds the comment again: one per stack and comment key. Encoded, so
 * that no name can end the HTML comment (`-->`) or the line.
 */
export function commentMarker(stack: string, key: string): string {
  const keyPart = key ? ` key=${encodeURIComponent(key)}` : ''
  return `<!-- secrets-deploy-action diff stack=${encodeURIComponent(stack)}${keyPart} -->`
}

/**
 * A code fence no line of `text` can close: longer than its longest run of backticks (CommonMark
 * closes a fence only with one at least as long; backslash escapes do nothing inside).
 */
export function fenceFor(text: string): string {
  let longest = 0
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length)
  return '`'.repeat(Math.max(3, longest + 1))
}

const count = (n: number) => n.toLocaleString('en-US')
const kilobytes = (text: string) => `${count(Math.ceil(Buffer.byteLength(text) / 1024))} KB`
const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`

/** One table cell: on one line, bounded, escaped, in <code> (where GitHub links no @mention). */
function cell(text: string): string {
  const chars = [...text]
  const shown =
    chars.length > MAX_CELL_CHARACTERS ? chars.slice(0, MAX_CELL_CHARACTERS).join('') : text
  return `<td><code>${inline(shown === text ? text : `${shown} [...]`)}</code></td>`
}

/**
 * The replaced and destroyed resources as an HTML table, each row on one line (a blank line would
 * end the HTML block and let a cell render as markdown), bounded in rows and in size.
 */
function riskTable(risky: ResourceChange[]): string {
  if (risky.length === 0) return ''
  const lines = ['<table>', '<tr><th>resource</th><th>type</th><th>what happens</th></tr>']
  let length = lines.join('\n').length
  let shown = 0
  for (const resource of risky) {
    const row = `<tr>${cell(resource.id)}${cell(resource.type)}<td>${riskOf(resource)}</td></tr>`
    if (shown === MAX_TABLE_ROWS || length + row.length > MAX_TABLE_LENGTH) break
    lines.push(row)
    length += row.length + 1
    shown++
  }
  if (shown < risky.length)
    lines.push(
      `<tr><td colspan="3">and ${count(risky.length - shown)} more: see the diff</td></tr>`
    )
  lines.push('</table>')
  return lines.join('\n')
}

/** Where the diff may be cut: before a line that starts a resource, a section or a blank line. */
function isBoundary(line: string): boolean {
  // Details (" └─ [~] ImageId") are indented; tables are drawn with box characters.
  return !/^[\s\u2500-\u257f]/.test(line)
}

/** The diff as a fenced block of `lines`. */
function fencedBlock(lines: string[]): string {
  const content = lines.join('\n')
  const fence = fenceFor(content)
  return `${fence}text\n${content}${lines.length ? '\n' : ''}${fence}`
}

interface Cut {
  keptLines: number
  leftLines: number
  totalLines: number
  leftText: string
  leftResources: number
  totalResources: number
}

/** The marker, the heading, the verdict and the table of replaced and destroyed resources. */
function commentHead(comment: DiffComment, parsed: ReturnType<typeof parseCdkDiff>): string[] {
  const head = [
    commentMarker(comment.stack, comment.key),
    `#### cdk diff of stack <code>${inline(comment.stack)}</code>` +
      (comment.key ? ` (<code>${inline(comment.key)}</code>)` : ''),
    '',
    `**${inline(comment.verdict)}.** Nothing was deployed: this is a preview (\`deploy: diff\`).`
  ]
  const table = riskTable(riskyChanges(parsed))
  if (table) head.push('', table)
  return head
}

function commentFooter(comment: DiffComment): string {
  if (!comment.runUrl && !comment.commit) return '<sub>Updated on each push.</sub>'
  const parts = [
    comment.commit ? `Commit ${comment.commit.slice(0, 7)}` : '',
    comment.runUrl ? `[run](${comment.runUrl})` : ''
  ]
  return `<sub>${parts.filter(Boolean).join(', ')}; updated on each push.</sub>`
}

/**
 * How many of the diff's lines fit in `budget` characters beyond an empty block. The block grows
 * with each line, and so does its fence: the longest prefix that fits, ending at a resource
 * boundary when one does (else at a line's end).
 */
function linesThatFit(lines: string[], budget: number): number {
  let size = 0
  let longestRun = 0
  let fitsAtLine = 0
  let fitsAtBoundary = 0
  for (let i = 0; i < lines.length; i++) {
    size += lines[i].length + 1
    for (const run of lines[i].match(/`+/g) ?? []) longestRun = Math.max(longestRun, run.length)
    const fence = Math.max(3, longestRun + 1)
    // Beyond the empty block's cost (two fences of three, "text", one line end).
    if (size + 2 * (fence - 3) > budget) break
    fitsAtLine = i + 1
    if (i + 1 === lines.length || isBoundary(lines[i + 1])) fitsAtBoundary = i + 1
  }
  return fitsAtBoundary > 0 ? fitsAtBoundary : fitsAtLine
}

/**
 * The comment: the marker, the verdict, the table of replaced and destroyed resources, the diff
 * in a collapsed block, and a footer. Every masked value is `***`; no text of the diff reaches the
 * comment outside its fenced block or a table cell's <code>. When the whole would pass
 * `maxLength`, the diff is cut at a resource boundary, with a line saying how much was left out
 * and a link to the run's summary.
 */
export function buildDiffComment(comment: DiffComment, maxLength = MAX_COMMENT_LENGTH): string {
  const text = plainText(stripAnsi(comment.diff)).replace(/\n+$/, '')
  const lines = text === '' ? [] : text.split('\n')
  const parsed = parseCdkDiff(text)
  const head = commentHead(comment, parsed)
  const where = comment.runUrl ? `[the run's summary](${comment.runUrl})` : "this run's job summary"
  const footer = commentFooter(comment)

  const compose = (kept: string[], cut?: Cut): string => {
    const summary = cut
      ? `The diff: the first ${count(cut.keptLines)} of ${plural(cut.totalLines, 'line')}`
      : `The diff: ${plural(lines.length, 'line')}`
    const note = cut
      ? [
          '',
          `**The diff is cut here**: ${plural(cut.leftLines, 'more line')} ` +
            `(${kilobytes(cut.leftText)}), with ${count(cut.leftResources)} of its ` +
            `${plural(cut.totalResources, 'resource change')}, did not fit in a comment ` +
            `(GitHub takes ${count(maxLength)} characters). The whole diff is in ${where}.`
        ]
      : []
    return [
      ...head,
      '',
      `<details><summary>${escapeHtml(summary)}</summary>`,
      '',
      fencedBlock(kept),
      '',
      '</details>',
      ...note,
      '',
      footer
    ].join('\n')
  }

  const whole = compose(lines)
  if (whole.length <= maxLength) return whole

  const cutAt = (kept: number): Cut => ({
    keptLines: kept,
    leftLines: lines.length - kept,
    totalLines: lines.length,
    leftText: lines.slice(kept).join('\n'),
    leftResources:
      parsed.resources.length - parseCdkDiff(lines.slice(0, kept).join('\n')).resources.length,
    totalResources: parsed.resources.length
  })
  // Each number of the summary line and the note is at most the total it is counted in: with the
  // totals in their place, they cost the most they can.
  const largest: Cut = { ...cutAt(0), keptLines: lines.length }
  const fixed = compose([], largest).length
  const budget = maxLength - fixed
  let kept = linesThatFit(lines, budget)
  let result = compose(lines.slice(0, kept), cutAt(kept))
  // Guards the arithmetic above: drop lines until it fits (never more than a few).
  while (result.length > maxLength && kept > 0) {
    kept--
    result = compose(lines.slice(0, kept), cutAt(kept))
  }
  return result
}
