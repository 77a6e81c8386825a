import { randomBytes } from 'node:crypto'
import * as core from '@actions/core'
import { MAX_LINE_BYTES, truncateUtf8 } from './lines.js'

/** Every value registered for masking, so that text the runner does not mask can be redacted. */
const registered = new Set<string>()

/** Shorter values would hide every occurrence of common text in the log ("e", "22", "prod"). */
export const MIN_MASK_LENGTH = 4

/**
 * Why a value is not registered as a mask, or undefined when it is: the runner would then hide
 * that text everywhere in the log, and GitHub drops any job output that contains it (a `true`
 * mask would drop `restarted`).
 */
export function unmaskableReason(value: string): string | undefined {
  const trimmed = value.trim()
  if (trimmed === '') return undefined
  if (/^(true|false|yes|no|on|off|null)$/i.test(trimmed)) return 'a boolean'
  if (/^[-+]?\d+(\.\d+)?$/.test(trimmed)) return 'a plain number'
  if (trimmed.length < MIN_MASK_LENGTH) return `shorter than ${MIN_MASK_LENGTH} characters`
  return undefined
}

/**
 * How a registered value reaches the runner's masking. The command line has no runner: there an
 * `::add-mask::` line would print the value itself, so it keeps the values for redact() only.
 */
let announce: (value: string) => void = value => core.setSecret(value)

/** For programs that do not run under the runner: register values for redact(), print nothing. */
export function keepMasksLocal(): void {
  announce = () => undefined
}

function register(value: string): void {
  if (value.trim() === '' || unmaskableReason(value) || registered.has(value)) return
  registered.add(value)
  announce(value)
}

/**
 * Registers a value with the runner's log masking: the value as it is, trimmed (the runner masks a
 * value only in the exact form it was given, and programs print values trimmed), and each line of
 * a multi-line value (older runners mask only the whole value). Values too short or too common to
 * be a secret are left out (see unmaskableReason); the caller warns about them.
 */
export function maskSecret(value: string): void {
  register(value)
  register(value.trim())
  if (!/[\r\n]/.test(value)) return
  for (const line of value.split(/\r?\n|\r/)) register(line.trim())
}

/**
 * Replaces every registered value in text that may quote one: what other programs or AWS said,
 * before it goes into the failure message or the job summary, where an escaped form (HTML, JSON)
 * would slip past the runner's masking.
 */
export function redact(text: string): string {
  let result = text
  for (const value of [...registered].sort((a, b) => b.length - a.length))
    result = result.split(value).join('***')
  return result
}

// The runner reads "##[command]" anywhere in a line (its legacy syntax); a zero-width space
// between the two characters keeps the text readable and the command dead.
const LEGACY_COMMAND = /##\[/g
const DEFUSED_LEGACY = '#\u200b#['

/** Control characters other than tab (ANSI colour sequences keep their ESC only in the log). */
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g

/**
 * Makes text from outside the action (an AWS error, an SSH server's message, a program's stderr)
 * safe to quote inside one of the action's own messages: one line, no control characters, no
 * legacy workflow command, at most `maxBytes`, redacted of registered values.
 */
export function quoteUntrusted(text: string, maxBytes = 2048): string {
  const flat = redact(text)
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(CONTROL, '')
    .replace(LEGACY_COMMAND, DEFUSED_LEGACY)
  const cut = truncateUtf8(flat, maxBytes)
  const bounded = cut === flat ? flat : `${cut} [... cut at ${maxBytes} bytes]`
  // Quoted text can end up at the start of a line (a message of its own, a table cell): the
  // runner trims leading white space and obeys "::" there, so a zero-width space goes first.
  return /^\s*::/.test(bounded) ? `\u200b${bounded}` : bounded
}

// AWS documents a ClientRequestToken (a version id) as 32 to 64 characters and no character set;
// the ids AWS itself makes are UUIDs. Anything else is shown quoted, as untrusted text.
const PLAIN_VERSION_ID = /^[A-Za-z0-9_-]{32,64}$/

/**
 * A secret version id for a message, the summary or the command line's output: as it is when it
 * has the shape AWS makes, else JSON-quoted untrusted text (whoever may write the secret chooses
 * the id of the version they write, newlines and command syntax included).
 */
export function shownVersionId(versionId: string): string {
  return PLAIN_VERSION_ID.test(versionId)
    ? versionId
    : JSON.stringify(quoteUntrusted(versionId, 128))
}

/**
 * Where a message goes, decided in one place: the action's logger writes workflow commands (an
 * annotation for a warning), the command line's writes plain text to standard error and keeps
 * standard output for results. Every phase is given the logger of its program; only this module
 * and the action's entry (src/action/) import @actions/core.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  error(message: string): void
  notice(message: string): void
  debug(message: string): void
  /** A collapsible group in the job's log, until endGroup; plain lines elsewhere. */
  startGroup(title: string): void
  endGroup(): void
}

/** Where a phase's results go: the step's outputs (GITHUB_OUTPUT) for the action. */
export interface StepOutputs {
  set(name: string, value: string): void
}

/** The action's logger: @actions/core's workflow commands in the job's log. */
export const actionLogger: Logger = {
  info: message => core.info(message),
  warning: message => core.warning(message),
  error: message => core.error(message),
  notice: message => core.notice(message),
  debug: message => core.debug(message),
  startGroup: title => core.startGroup(title),
  endGroup: () => core.endGroup()
}

/** A logger whose warnings name what they are about ("i-0abc...: ..."), for one of many at once. */
export function withPrefix(log: Logger, prefix: string): Logger {
  return { ...log, warning: message => log.warning(`${prefix}${message}`) }
}

/** The action's step outputs. */
export const actionOutputs: StepOutputs = {
  set: (name, value) => core.setOutput(name, value)
}

/**
 * What the step leaves for its own `post:` step: the runner keeps each value saved here (the
 * GITHUB_STATE file) and gives it to the post step as the variable STATE_<name>.
 */
export interface StepState {
  save(name: string, value: string): void
}

/** The action's state for its post step. */
export const actionState: StepState = {
  save: (name, value) => core.saveState(name, value)
}

/** Writes a line to the log as is (tests replace it). */
export type LogWriter = (line: string) => void

const stdoutWriter: LogWriter = line => process.stdout.write(`${line}\n`)

/** Where another program's lines go: the log, paused (UntrustedOutput), or a collector. */
export interface UntrustedSink {
  line(text: string): void
  around<T>(stream: () => Promise<T>): Promise<T>
}

/**
 * The log while another program's output streams through it (the CDK CLI, a remote command).
 * The runner obeys workflow commands in any log line, and its parser accepts more forms than a
 * pattern can safely catch (leading characters .NET trims, "##[" anywhere in the line), so the
 * stream is wrapped in the runner's own `::stop-commands::<token>`: until `::<token>::` it obeys
 * no command, and the token is random, so the output cannot end the pause. The action's own
 * commands (a mask, a warning) run in `command()`, which lifts the pause around them.
 */
export class UntrustedOutput implements UntrustedSink {
  private token: string | undefined

  constructor(private readonly write: LogWriter = stdoutWriter) {}

  /** Starts the pause; idempotent. */
  open(): void {
    if (this.token) return
    this.token = randomBytes(16).toString('hex')
    this.write(`::stop-commands::${this.token}`)
  }

  /** Ends the pause; idempotent. */
  close(): void {
    if (!this.token) return
    this.write(`::${this.token}::`)
    this.token = undefined
  }

  /** Prints one line of untrusted output: bounded in length, its legacy commands broken. */
  line(text: string): void {
    const wasOpen = this.token !== undefined
    this.open()
    const cut = truncateUtf8(text, MAX_LINE_BYTES)
    const shown = cut === text ? text : `${cut} [... cut at ${MAX_LINE_BYTES} bytes]`
    for (const piece of shown.split(/\r\n|\r|\n/))
      this.write(piece.replace(LEGACY_COMMAND, DEFUSED_LEGACY))
    if (!wasOpen) this.close()
  }

  /** Runs one of the action's own workflow commands with the pause lifted around it. */
  command(action: () => void): void {
    const wasOpen = this.token !== undefined
    this.close()
    try {
      action()
    } finally {
      if (wasOpen) this.open()
    }
  }

  /** Runs `stream` with the pause on, and always ends the pause afterwards. */
  async around<T>(stream: () => Promise<T>): Promise<T> {
    this.open()
    try {
      return await stream()
    } finally {
      this.close()
    }
  }
}
