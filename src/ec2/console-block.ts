import { ActionError } from '../lib/errors.js'

// The host key block cloud-init prints to an instance's console, as EC2 serves that console:
// what an instance prints there, which prints are trusted as its host keys, and which refused.

/** A host key fingerprint with the key type `ssh-keygen -l` names in parentheses: ED25519, ... */
export interface TypedFingerprint {
  type: string
  fingerprint: string
}

const BEGIN = '-----BEGIN SSH HOST KEY FINGERPRINTS-----'
const END = '-----END SSH HOST KEY FINGERPRINTS-----'

/**
 * How many bytes of console output EC2 keeps: "the most recent 64 KB". Whether a KB is 1000 or
 * 1024 bytes is not said, so a view of 64,000 bytes or more counts as one whose start may have
 * scrolled out.
 */
export const CONSOLE_BYTES_KEPT = 64_000

/**
 * A line of cloud-init's fingerprints block as it reaches the console. Since cloud-init 21.2
 * (tools/write-ssh-key-fingerprints) each line is a separate `logger -s -p user.info -t cloud-init`
 * call; before, the block went through one `logger -t ec2`. The parts, all but the tag optional:
 *   `[  115.600243] cloud-init[1097]: `  journald's copy of cloud-init's standard output, written
 *       where cloud-init could not write /dev/console itself (it then falls back to its output,
 *       which its systemd unit sends to journal+console)
 *   `<14>Apr 22 19:51:35 `  the syslog header util-linux's logger prints with -s (the day padded
 *       with a space; the seconds may tick between lines); older util-linux printed none
 *   `cloud-init: ` or `ec2: `  the tag
 */
const TAGGED_LINE = new RegExp(
  '^(?<journal>\\[ *\\d+\\.\\d{6}\\] (?<process>cloud-init\\[\\d+\\]): )?' +
    '(?:<(?<priority>\\d{1,3})>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\\d \\d\\d:\\d\\d:\\d\\d )?' +
    '(?<tag>cloud-init|ec2): (?<text>.*)$'
)
// "256 SHA256:... root@ip-10-0-1-7 (ED25519)", as ssh-keygen -l prints it.
const ENTRY = /^\d+ (SHA256:[A-Za-z0-9+/]{43}) .+ \(([A-Z0-9]+)\)$/

/** One view of an instance's console output: GetConsoleOutput with `Latest`, or the buffered one. */
export interface ConsoleView {
  instanceId: string
  name: 'Latest' | 'buffered'
  /** The output as AWS served it. */
  output: string
  /** Its size in bytes: at CONSOLE_BYTES_KEPT or more, its start may have scrolled out. */
  bytes: number
}

/** What a view of the console shows of cloud-init's host key block. */
export type ConsoleBlock =
  | { kind: 'none' }
  /** A BEGIN at `line` whose END is not printed yet. */
  | { kind: 'printing'; line: number }
  /** The block at `line` (the first, if the same block was printed again). */
  | { kind: 'block'; line: number; keys: TypedFingerprint[]; identity: string }
  /** Only the end of a block, at the start of a full view: its BEGIN scrolled out. */
  | { kind: 'cut'; line: number }

interface TaggedLine {
  /** The prefix without its timestamps: lines of one block share it. */
  source: string
  text: string
}

function taggedLine(line: string): TaggedLine | undefined {
  const groups = TAGGED_LINE.exec(line)?.groups
  if (!groups) return undefined
  const { process = '', priority = '', tag, text } = groups
  return { source: `${process}<${priority}>${tag}`, text: text.trimEnd() }
}

function entryOf(text: string): TypedFingerprint | undefined {
  const match = ENTRY.exec(text)
  return match ? { fingerprint: match[1], type: match[2] } : undefined
}

/**
 * Reads cloud-init's fingerprints block in one view of an instance's console output. Anything on
 * the instance can print to the console (user data, the app's install logs, a program printing a
 * block of its own), so the grammar is strict: a block is a BEGIN line, entry lines and an END
 * line, all with one prefix. Lines without a tag are skipped (kernel and systemd lines fall
 * between cloud-init's, and an untagged key proves nothing); a BEGIN inside an open block, a
 * tagged line inside a block that is not one of its entries, an END without a BEGIN, or two
 * different blocks refuse the console. A BEGIN whose END has not come yet is still being printed.
 *
 * A view may cut lines. The last one may still be being printed (unless the output ends with a
 * line break): in a block, what it would refuse only leaves the block unfinished. The first line
 * of a full view (EC2 keeps the last 64 KB) is cut wherever the byte count fell, and is not read.
 * A full view may also start inside a block: entries and an END before any BEGIN at its start are
 * the tail of a block whose BEGIN scrolled out. That is not a block (its first keys may be gone),
 * and as cloud-init prints its block once, a whole block after it refuses the console: the cut
 * one may be cloud-init's.
 */
export function hostKeyBlockInConsole(view: ConsoleView): ConsoleBlock {
  const lines = view.output.split(/\r\n|\n|\r/)
  const full = view.bytes >= CONSOLE_BYTES_KEPT
  let open: { line: number; source: string; keys: TypedFingerprint[] } | undefined
  let found: FoundBlock | undefined
  let cut: Extract<ConsoleBlock, { kind: 'cut' }> | undefined
  // While no BEGIN and no other tagged line came: the source of the entries a full view starts with.
  let tail: { source: string | undefined } | undefined = full ? { source: undefined } : undefined
  const last = lines.length - 1
  for (let i = full ? 1 : 0; i < lines.length; i++) {
    const at = i + 1
    const tagged = taggedLine(lines[i])
    if (!tagged) continue
    const { source, text } = tagged
    if (open) {
      const entry = source === open.source ? entryOf(text) : undefined
      if (entry) {
        open.keys.push(entry)
        continue
      }
      if (source !== open.source || text !== END) {
        if (i === last) break
        const seen =
          text === BEGIN
            ? `another BEGIN at line ${at}`
            : `line ${at} is tagged like cloud-init's lines but is neither a host key of the block nor its END`
        throw consoleRefused(view, `an unclosed block at line ${open.line} (${seen})`)
      }
      found = closedBlock(view, open, found, cut)
      open = undefined
      continue
    }
    if (text === BEGIN) {
      open = { line: at, source, keys: [] }
      tail = undefined
      continue
    }
    if (tail && entryOf(text) && (tail.source ?? source) === source) {
      tail.source = source
      continue
    }
    if (text === END) {
      if (tail && (tail.source ?? source) === source) {
        cut = { kind: 'cut', line: at }
        tail = undefined
        continue
      }
      throw consoleRefused(view, `an END without a BEGIN at line ${at}`)
    }
    // Other tagged lines outside a block: cloud-init's ##### frame, the empty line before it.
    tail = undefined
  }
  return (open && { kind: 'printing', line: open.line }) ?? found ?? cut ?? { kind: 'none' }
}

type FoundBlock = Extract<ConsoleBlock, { kind: 'block' }>

/**
 * The block that an END closes, which must be the only one: a second, different block (or any
 * block after the tail of one cut by the start of the view) refuses the console.
 */
function closedBlock(
  view: ConsoleView,
  open: { line: number; keys: TypedFingerprint[] },
  found: FoundBlock | undefined,
  cut: Extract<ConsoleBlock, { kind: 'cut' }> | undefined
): FoundBlock {
  const identity = open.keys
    .map(key => `${key.type} ${key.fingerprint}`)
    .sort()
    .join('\n')
  if (cut) {
    throw consoleRefused(
      view,
      `two blocks: the end of one at line ${cut.line}, whose start scrolled out of the 64 KB ` +
        `the console keeps, and another at line ${open.line}`
    )
  }
  if (found && found.identity !== identity) {
    throw consoleRefused(view, `two different blocks (at lines ${found.line} and ${open.line})`)
  }
  return found ?? { kind: 'block', line: open.line, keys: open.keys, identity }
}

/** The refusal of a console that cannot tell which host key is the instance's, and what to do. */
export function consoleRefused(
  where: { instanceId: string; name?: ConsoleView['name'] },
  what: string
): ActionError {
  const subject = where.name
    ? `The ${where.name} view of the console output of instance ${where.instanceId}`
    : `The console output of instance ${where.instanceId}`
  return new ActionError(
    `${subject} holds ${what}, so it cannot tell which host key is the instance's: anything ` +
      'running on the instance can print there. Pin the host key with input ' +
      '"ssh-host-fingerprint" (run "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" on the ' +
      'instance, or read it from a console output you trust).'
  )
}
