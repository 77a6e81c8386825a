import { randomBytes } from 'node:crypto'
import { quote } from 'shell-quote'
import { OutputTail, truncateUtf8 } from '../lib/lines.js'
import { CONTROL, redact, UntrustedOutput, type Logger, type LogWriter } from '../lib/log.js'
import type { UnitName } from './script.js'

// When a restart or its health check fails, the action reads why from the instance itself, as
// the reference document's troubleshooting list tells users to: `systemctl status <unit>` and the
// unit's last journal lines, over the same SSH connection or in the same Run Command. All of it is
// untrusted text: the instance, and the app that wrote its journal, chose every byte.

/** The journal lines asked for, and those the summary shows. */
export const JOURNAL_LINES = 50
export const SUMMARY_LINES = 10
/** Each remote command of the collection is stopped after this long (coreutils' timeout). */
const COMMAND_SECONDS = 20
/** What is kept of each part; a journal of one 10 MiB line must not fill the runner's memory. */
const STATUS_BYTES = 16 * 1024
const JOURNAL_BYTES = 64 * 1024
const LINE_BYTES = 1024
/** The collection stops reading after this much (the SSH channel is closed). */
export const MAX_READ_BYTES = 1024 * 1024

/** What the instance said about the unit, ready to show (each line redacted and bounded). */
export interface FailureLogs {
  unit: string
  status: string[]
  journal: string[]
  /** Instead of journal lines: why there are none (the login user may not read the journal). */
  unreadable?: string
  /** Why the text is incomplete, when it is. */
  cut?: string
}

/** A failed instance's logs, as the summary names it. */
export interface InstanceFailureLogs {
  where: string
  logs: FailureLogs
}

/** A random token that marks where each part of the collection starts in the remote output. */
export function failureLogsMarker(): string {
  return `sda-logs-${randomBytes(12).toString('hex')}`
}

/**
 * The collection as one shell line: the unit's status, then its journal through `sudo -n` (the
 * login user may not read the system journal) or, when sudo refuses (a narrow sudoers rule may
 * allow only the restart), as the login user. Built from the checked unit name only.
 */
export function failureLogsCommand(unit: UnitName, marker: string): string {
  const limit = `timeout ${COMMAND_SECONDS}`
  const journal = quote(['journalctl', '-u', unit, '-n', String(JOURNAL_LINES), '--no-pager'])
  const part = (name: string) => `printf '\\n%s\\n' '${marker} ${name}'`
  return [
    part('status'),
    `${limit} ${quote(['systemctl', 'status', '--no-pager', '--', unit])} 2>&1`,
    part('journal'),
    `{ ${limit} sudo -n ${journal} 2>/dev/null || ${limit} ${journal}; } 2>&1`,
    part('end')
  ].join('; ')
}

/** Credentials in a URL (postgres://user:pass@host): the journal holds what the app printed. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s/@]+)@/gi

/** One remote line as the log and the summary show it: redacted, one line, bounded. */
export function shownLine(line: string): string {
  const clean = redact(line).replace(URL_CREDENTIALS, '$1$2:***@').replace(CONTROL, '')
  const cut = truncateUtf8(clean, LINE_BYTES)
  return cut === clean ? clean : `${cut} [... cut at ${LINE_BYTES} bytes]`
}

// journalctl's notices when the user may not read the journal (systemd, src/shared/journal-util.c).
const UNREADABLE = [
  /^Hint: You are currently not seeing messages from /,
  /^No journal files were opened due to insufficient permissions/
]
/** journalctl's own lines around the entries, which say nothing about the unit. */
const JOURNAL_FRAME = /^(-- No entries --|-- (Journal|Logs) begins? .* --|\s+Users in |\s+Pass -q )/

/**
 * Reads the collection's output line by line (split and cut by the caller): the lines before the
 * first marker are not its own (Run Command's output of the restart), the rest are sorted into
 * the status and the journal, each kept within its budget.
 */
export class FailureLogCollector {
  private part: 'before' | 'status' | 'journal' | 'end' = 'before'
  private readonly status = new OutputTail(STATUS_BYTES)
  private readonly journal = new OutputTail(JOURNAL_BYTES)
  private readonly pattern: RegExp
  private hint = false
  private bytes = 0
  /** The lines before the first marker, for a caller that reads them too. */
  readonly before: string[] = []

  constructor(
    private readonly unit: string,
    marker: string
  ) {
    this.pattern = new RegExp(`^${marker} (status|journal|end)$`)
  }

  /** Whether any of the collection's output arrived. */
  get started(): boolean {
    return this.part !== 'before'
  }

  /** Counts what was read, so that the caller can stop reading at MAX_READ_BYTES. */
  get readBytes(): number {
    return this.bytes
  }

  line(text: string): void {
    const marker = this.pattern.exec(text)
    if (marker) {
      this.part = marker[1] as 'status' | 'journal' | 'end'
      return
    }
    if (this.part === 'before') {
      this.before.push(text)
      return
    }
    this.bytes += Buffer.byteLength(text) + 1
    if (this.part === 'status') this.status.add(text)
    if (this.part !== 'journal') return
    if (UNREADABLE.some(pattern => pattern.test(text))) this.hint = true
    else if (!JOURNAL_FRAME.test(text)) this.journal.add(text)
  }

  /** The collection as the log and the summary show it; `cut` says why it is incomplete. */
  collected(cut?: string): FailureLogs {
    const lines = (tail: OutputTail) =>
      tail
        .all()
        .map(shownLine)
        .filter((line, i, all) => line !== '' || (i > 0 && i < all.length - 1))
    const journal = this.hint ? [] : lines(this.journal)
    const { unit } = this
    const dropped = this.status.dropped + this.journal.dropped
    return {
      unit,
      status: lines(this.status),
      journal,
      ...(journal.length === 0
        ? {
            unreadable: this.hint
              ? `The journal of "${unit}" is not readable by the login user (journalctl: "not seeing messages from other users and the system"), and "sudo -n journalctl" was refused: add the user to the group systemd-journal, or allow it "sudo journalctl -u ${unit}".`
              : `journalctl printed nothing for "${unit}": the login user may not read its journal (add it to the group systemd-journal), or the unit logged nothing.`
          }
        : {}),
      ...(cut || dropped > 0
        ? { cut: cut ?? `${dropped} earlier lines were dropped to keep the last ones` }
        : {}),
      ...(this.part !== 'end' && !cut ? { cut: 'the instance stopped answering mid-way' } : {})
    }
  }
}

/** The collection's output as a transport got it in one piece (Run Command's stdout). */
export function collectFromText(
  text: string,
  unit: string,
  marker: string
): { before: string; logs?: FailureLogs } {
  const collector = new FailureLogCollector(unit, marker)
  for (const line of text.split(/\r\n|\r|\n/)) collector.line(line)
  const before = collector.before.join('\n')
  return collector.started ? { before, logs: collector.collected() } : { before }
}

/** One collapsed log group: the unit's status and journal, as untrusted output. */
export function printFailureLogs(
  log: Logger,
  where: string,
  logs: FailureLogs,
  write?: LogWriter
): void {
  log.startGroup(`"${logs.unit}" on ${where}: systemctl status and journalctl`)
  const output = new UntrustedOutput(write)
  output.open()
  try {
    output.line(`$ systemctl status ${logs.unit} --no-pager`)
    for (const line of logs.status) output.line(line)
    output.line(`$ journalctl -u ${logs.unit} -n ${JOURNAL_LINES} --no-pager`)
    for (const line of logs.journal) output.line(line)
  } finally {
    output.close()
  }
  if (logs.unreadable) log.info(logs.unreadable)
  if (logs.cut) log.info(`[Output cut: ${logs.cut}.]`)
  log.endGroup()
}
