import { StringDecoder } from 'node:string_decoder'

/** The longest line kept from another program's output; the rest of it is dropped, not buffered. */
export const MAX_LINE_BYTES = 8 * 1024

/**
 * Splits a byte stream (a child process's or a remote command's output) into lines, in time
 * linear in its size and memory bounded by `maxLineBytes`: a line longer than that is cut, and
 * the cut says how many bytes were dropped. Multi-byte characters stay whole; `\r\n`, `\n` and a
 * lone `\r` end a line (the runner also ends a log line at a lone carriage return).
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private pending = ''
  private pendingBytes = 0
  private dropped = 0
  private lastWasCr = false

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES
  ) {}

  write(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk)
    if (text === '') return
    // The \n of a \r\n pair split across two chunks ends no second line.
    if (this.lastWasCr && text.charCodeAt(0) === 10) text = text.slice(1)
    this.lastWasCr = false
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.emit(text.slice(start, i))
      if (c === 13) {
        if (i + 1 === text.length) this.lastWasCr = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    if (start < text.length) this.append(text.slice(start))
  }

  /** Emits what is left after the last line break. */
  end(): void {
    this.append(this.decoder.end())
    if (this.pending !== '' || this.dropped > 0) this.emit('')
  }

  private append(piece: string): void {
    if (piece === '') return
    if (this.dropped > 0) {
      this.dropped += Buffer.byteLength(piece)
      return
    }
    const room = this.maxLineBytes - this.pendingBytes
    const bytes = Buffer.byteLength(piece)
    if (bytes <= room) {
      this.pending += piece
      this.pendingBytes += bytes
      return
    }
    const kept = truncateUtf8(piece, room)
    this.pending += kept
    this.pendingBytes += Buffer.byteLength(kept)
    this.dropped = bytes - Buffer.byteLength(kept)
  }

  private emit(rest: string): void {
    this.append(rest)
    const line =
      this.dropped > 0
        ? `${this.pending} [... ${this.dropped} more bytes of this line cut]`
        : this.pending
    this.pending = ''
    this.pendingBytes = 0
    this.dropped = 0
    this.onLine(line)
  }
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return ''
  if (Buffer.byteLength(text) <= maxBytes) return text
  let cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8')
  // A character split by the cut decodes as U+FFFD: drop it.
  if (cut.endsWith('\uFFFD') && !text.startsWith(cut)) cut = cut.slice(0, -1)
  return cut
}

/**
 * Keeps the last lines of a long output within a byte budget, to quote the ones that tell why a
 * command failed.
 */
export class OutputTail {
  private readonly lines: string[] = []
  private bytes = 0
  /** Lines dropped from the front to stay within the budget. */
  dropped = 0

  constructor(private readonly maxBytes = 64 * 1024) {}

  add(line: string): void {
    this.lines.push(line)
    this.bytes += Buffer.byteLength(line) + 1
    while (this.bytes > this.maxBytes && this.lines.length > 1) {
      this.bytes -= Buffer.byteLength(this.lines.shift() ?? '') + 1
      this.dropped++
    }
  }

  /** Every line kept, blank ones included. */
  all(): string[] {
    return [...this.lines]
  }

  /** The last `count` lines, or the last lines that look like errors when there are some. */
  errorLines(count = 10): string {
    const meaningful = this.lines.filter(line => line.trim() !== '')
    const errors = meaningful.filter(line => /error|fail|❌|denied|exception/i.test(line))
    return (errors.length ? errors : meaningful).slice(-count).join('\n') || '(no output)'
  }

  /** The last `count` non-blank lines. */
  lastLines(count: number): string {
    return this.lines
      .filter(line => line.trim() !== '')
      .slice(-count)
      .join('\n')
  }
}
