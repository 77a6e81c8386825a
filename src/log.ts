import * as core from '@actions/core'

/** Every value registered for masking, so that text the runner does not mask can be redacted. */
const registered = new Set<string>()

function register(value: string): void {
  if (value.trim() === '' || registered.has(value)) return
  registered.add(value)
  core.setSecret(value)
}

/**
 * Registers a value with the runner's log masking: the value as it is, trimmed (the runner masks a
 * value only in the exact form it was given, and programs print values trimmed), and each line of
 * a multi-line value (older runners mask only the whole value).
 */
export function maskSecret(value: string): void {
  register(value)
  register(value.trim())
  if (!/[\r\n]/.test(value)) return
  for (const line of value.split(/\r?\n|\r/)) register(line.trim())
}

/**
 * Replaces every registered value in text the action writes outside the log (the job summary, the
 * failure message), where an escaped form (HTML, JSON) would slip past the runner's masking.
 */
export function redact(text: string): string {
  let result = text
  for (const value of [...registered].sort((a, b) => b.length - a.length))
    result = result.split(value).join('***')
  return result
}

/**
 * Prints a line that came from another program (the CDK CLI, the instance). A line the runner would
 * read as a workflow command (`::set-output`, `::error::`, `::add-mask::`, `##[...]`) is shown, but
 * defused: an instance or a CDK app must not be able to set outputs or fail the step. The runner
 * also ends a line at a lone carriage return, so each such piece is checked on its own.
 */
export function printUntrusted(line: string): void {
  core.info(
    line
      .split(/(\r\n|\r|\n)/)
      .map(piece => (/^\s*(::|##\[)/.test(piece) ? `| ${piece}` : piece))
      .join('')
  )
}
