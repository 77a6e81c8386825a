import { truncateUtf8 } from './lines.js'
import { CONTROL, redact } from './log.js'

// Text from outside the action inside HTML that GitHub renders (the job summary, a pull-request
// comment): escaped, and on one line where a blank line would end the HTML block.

const MAX_VALUE_BYTES = 512

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c
  )
}

/**
 * One value inside the summary's HTML: on one line (a blank line would end the HTML block and
 * let what follows render as markdown), without control characters, bounded, escaped.
 */
export function inline(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(CONTROL, '')
  const cut = truncateUtf8(flat, MAX_VALUE_BYTES)
  return escapeHtml(cut === flat ? flat : `${cut} [...]`)
}

/** Text of many lines for a block of its own: redacted, `\n` line ends, no control characters. */
export function plainText(text: string): string {
  return redact(text)
    .replace(/\r\n|\r/g, '\n')
    .replace(CONTROL, '')
}
