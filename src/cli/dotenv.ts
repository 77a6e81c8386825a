// A .env file read the way python-dotenv reads it (src/dotenv/parser.py, 1.2.2), which the
// reference document's app uses: the same grammar, the same escapes, so that what `import` takes
// from a file is what the app would have read from it, and what `export --format dotenv` writes
// reads back the same. Unlike python-dotenv, a line it would skip with a warning is an error here,
// and so is a name given twice (python-dotenv keeps the last): an import must not guess.

import { ActionError } from '../lib/errors.js'
import { shown } from './io.js'

/** One `NAME=value` of the file; `value` undefined for a name without "=". */
export interface DotenvBinding {
  name: string
  value: string | undefined
  /** 1-based, where the binding starts. */
  line: number
}

// Python's \s (str.isspace()): it has \x1c-\x1f and \x85, which JavaScript's \s lacks, and not
// \ufeff, which JavaScript's has. BLANK is parser.py's [^\S\r\n]: white space but line ends.
const BLANK =
  '\\t\\v\\f \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
/** Python's \\s, for a character class. */
export const PYTHON_SPACE = `${BLANK}\\r\\n`
const SPACE = PYTHON_SPACE
const sticky = (source: string) => new RegExp(source, 'uy')

// The patterns of parser.py, each as it is there.
const MULTILINE_WHITESPACE = sticky(`[${SPACE}]*`)
const EXPORT = sticky(`(?:export[${BLANK}]+)?`)
const SINGLE_QUOTED_KEY = sticky(`'([^']+)'`)
const UNQUOTED_KEY = sticky(`([^=#${SPACE}]+)`)
const WHITESPACE = sticky(`[${BLANK}]*`)
const EQUAL_SIGN = sticky(`(=[${BLANK}]*)`)
const SINGLE_QUOTED_VALUE = sticky(`'((?:\\\\'|[^'])*)'`)
const DOUBLE_QUOTED_VALUE = sticky(`"((?:\\\\"|[^"])*)"`)
const UNQUOTED_VALUE = sticky(`([^\\r\\n]*)`)
const COMMENT = sticky(`(?:[${BLANK}]*#[^\\r\\n]*)?`)
const END_OF_LINE = sticky(`[${BLANK}]*(?:\\r\\n|\\n|\\r|$)`)
const UNQUOTED_COMMENT = new RegExp(`[${SPACE}]+#.*`, 'su')
const TRAILING_SPACE = new RegExp(`[${SPACE}]+$`, 'u')
const DOUBLE_QUOTE_ESCAPES = /\\[\\'"abfnrtv]/g
const SINGLE_QUOTE_ESCAPES = /\\[\\']/g
const NEWLINE = /\r\n|\n|\r/g

const ESCAPED: Record<string, string> = {
  '\\\\': '\\',
  "\\'": "'",
  '\\"': '"',
  '\\a': '\x07',
  '\\b': '\b',
  '\\f': '\f',
  '\\n': '\n',
  '\\r': '\r',
  '\\t': '\t',
  '\\v': '\v'
}

class NoMatch extends Error {}

class Reader {
  position = 0
  constructor(readonly text: string) {}

  peek(count: number): string {
    return this.text.slice(this.position, this.position + count)
  }

  read(pattern: RegExp): string[] {
    pattern.lastIndex = this.position
    const match = pattern.exec(this.text)
    if (!match) throw new NoMatch()
    this.position += match[0].length
    return match.slice(1)
  }
}

function parseValue(reader: Reader): string {
  const char = reader.peek(1)
  if (char === "'") {
    const [value] = reader.read(SINGLE_QUOTED_VALUE)
    return value.replace(SINGLE_QUOTE_ESCAPES, escape => ESCAPED[escape])
  }
  if (char === '"') {
    const [value] = reader.read(DOUBLE_QUOTED_VALUE)
    return value.replace(DOUBLE_QUOTE_ESCAPES, escape => ESCAPED[escape])
  }
  if (char === '' || char === '\n' || char === '\r') return ''
  const [part] = reader.read(UNQUOTED_VALUE)
  return part.replace(UNQUOTED_COMMENT, '').replace(TRAILING_SPACE, '')
}

/**
 * The bindings of a .env file, in order. Throws an ActionError naming the line (never its text,
 * which holds a value) where python-dotenv would find no binding.
 */
export function parseDotenv(text: string, file: string): DotenvBinding[] {
  const reader = new Reader(text.replace(/^\ufeff/, ''))
  const bindings: DotenvBinding[] = []
  let line = 1
  const advance = (from: number) =>
    (line += (reader.text.slice(from, reader.position).match(NEWLINE) ?? []).length)
  while (reader.position < reader.text.length) {
    const start = reader.position
    try {
      reader.read(MULTILINE_WHITESPACE)
      advance(start)
      if (reader.position >= reader.text.length) break
      const bindingStart = reader.position
      const bindingLine = line
      reader.read(EXPORT)
      let name: string | undefined
      if (reader.peek(1) === "'") [name] = reader.read(SINGLE_QUOTED_KEY)
      else if (reader.peek(1) !== '#') [name] = reader.read(UNQUOTED_KEY)
      reader.read(WHITESPACE)
      let value: string | undefined
      if (reader.peek(1) === '=') {
        reader.read(EQUAL_SIGN)
        value = parseValue(reader)
      }
      reader.read(COMMENT)
      reader.read(END_OF_LINE)
      advance(bindingStart)
      if (name !== undefined) bindings.push({ name, value, line: bindingLine })
    } catch (error) {
      if (!(error instanceof NoMatch)) throw error
      throw new ActionError(
        `"${shown(file)}" line ${line} is not NAME=value as in a .env file (python-dotenv could not ` +
          'read it either: a quote not closed, say, or a name with a space); nothing was imported.'
      )
    }
  }
  return bindings
}
