import { styleText } from 'node:util'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted, type Logger } from '../lib/log.js'

/** Secrets Manager's limit for a secret string: a larger value could never be stored. */
const MAX_VALUE_BYTES = 65536

/** Where the command line writes and reads; tests run the real bundle, so this is the process. */
export interface Io {
  out(line: string): void
  err(line: string): void
  /** Colour only when a person reads the output (a TTY, NO_COLOR unset). */
  color: boolean
  /** A value from standard input, or from a prompt that does not echo when stdin is a TTY. */
  readValue(prompt: string): Promise<string>
}

export function processIo(): Io {
  return {
    out: line => process.stdout.write(`${line}\n`),
    err: line => process.stderr.write(`${line}\n`),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    readValue: prompt => (process.stdin.isTTY ? promptHidden(prompt) : readStdin())
  }
}

export function bold(io: Io, text: string): string {
  return io.color ? styleText('bold', text) : text
}

export function passOrFail(io: Io, ok: boolean, text: string): string {
  return io.color ? styleText(ok ? 'green' : 'red', text) : text
}

/**
 * A key name, a version id or a stage as text for the terminal: whoever can write the secret
 * chooses key names, so control characters (a terminal's escape sequences) are taken out.
 */
export function shown(text: string): string {
  return quoteUntrusted(text, 256)
}

/**
 * The command line's logger: plain text on standard error, each message one line after a fixed
 * word, so that standard output holds only results. A warning said once is not repeated (reading
 * each version of a secret would say the same one for every version).
 */
export function cliLogger(io: Io): Logger {
  const warned = new Set<string>()
  return {
    info: message => io.err(messageLine(message)),
    warning: message => {
      if (warned.has(message)) return
      warned.add(message)
      io.err(`warning: ${messageLine(message)}`)
    },
    error: message => io.err(`error: ${messageLine(message)}`),
    notice: message => io.err(messageLine(message)),
    // The command line has no debug output, and no groups to fold.
    debug: () => undefined,
    startGroup: title => io.err(messageLine(title)),
    endGroup: () => undefined
  }
}

/** A message as one line of plain text: untrusted parts it quotes cannot start a line or break one. */
const messageLine = (message: string) => quoteUntrusted(message, 4096)

// Inside JSON strings: "#" and "[" (the runner obeys "##[command]" anywhere in a line), and the
// characters a terminal or a line reader may act on that JSON.stringify leaves as they are.
const UNSAFE_IN_JSON_STRING = /[#[\u007f-\u009f\u2028\u2029]/g
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g

/**
 * `value` as indented JSON that the runner cannot read a command in, whatever its strings hold:
 * no string can start a line (JSON escapes every line break), and "#", "[" inside strings are
 * written as \u0023 and \u005b, which every JSON parser reads back as the same characters.
 */
export function inertJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(JSON_STRING, string =>
    string.replace(
      UNSAFE_IN_JSON_STRING,
      char => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`
    )
  )
}

/** Prints a command's result as JSON: every --json output goes through here. */
export function printJson(io: Io, value: unknown): void {
  io.out(inertJson(value))
}

/** Rows as aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = []
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)))
  return rows.map(row =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + ' '.repeat(widths[i] - [...cell].length)
      )
      .join('  ')
      .trimEnd()
  )
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_VALUE_BYTES) {
      throw new ActionError(
        `The value on standard input is longer than ${MAX_VALUE_BYTES} bytes, the most a secret can hold.`
      )
    }
    chunks.push(chunk)
  }
  // `echo value |` and here-strings add one newline that is not part of the value.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin
  // Echo goes off before the prompt shows, so nothing typed after the prompt is ever echoed.
  stdin.setRawMode(true)
  process.stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let value = ''
    const finish = (error?: Error) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(value)
    }
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish()
        if (char === '\u0003' || char === '\u0004')
          return finish(new ActionError('Cancelled; nothing was written.'))
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('')
        else value += char
      }
    }
    stdin.resume()
    stdin.on('data', onData)
  })
}
