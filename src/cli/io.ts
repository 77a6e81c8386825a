import { styleText } from 'node:util'
import { ActionError } from '../errors.js'
import { quoteUntrusted } from '../log.js'

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

export function verdict(io: Io, ok: boolean, text: string): string {
  return io.color ? styleText(ok ? 'green' : 'red', text) : text
}

/**
 * A key name, a version id or a stage as text for the terminal: whoever can write the secret
 * chooses key names, so control characters (a terminal's escape sequences) are taken out.
 */
export function shown(text: string): string {
  return quoteUntrusted(text, 256)
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
