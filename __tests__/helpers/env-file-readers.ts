// The programs that read the files `secrets-deploy export` writes, to read them back in the tests:
// the real ones where this machine has them (python-dotenv, bash), and for docker and systemd,
// whose readers need a daemon or a running service manager, their parsers carried over line by
// line from their sources (the commits are named below), each checked against samples from the
// project's own tests.
import { spawnSync } from 'node:child_process'

/** python3 with python-dotenv (Debian: apt-get install python3-dotenv), or undefined. */
export const PYTHON_DOTENV: string | undefined = (() => {
  const found = spawnSync('python3', ['-c', 'import dotenv'], { stdio: 'ignore' })
  return found.status === 0 ? 'python3' : undefined
})()

export const SKIP_WITHOUT_PYTHON_DOTENV =
  '(skipped: python3 cannot import dotenv; apt-get install python3-dotenv, as .ci/run does)'

/** What python-dotenv's dotenv_values() reads from the file, as the app's settings would. */
export function readWithPythonDotenv(file: string): Record<string, string | null> {
  const run = spawnSync(
    PYTHON_DOTENV ?? 'python3',
    [
      '-c',
      'import json, sys\nfrom dotenv import dotenv_values\nprint(json.dumps(dotenv_values(sys.argv[1])))',
      file
    ],
    // interpolation looks names up in the environment: keep it to what python needs.
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }
  )
  if (run.status !== 0) throw new Error(`python-dotenv failed: ${run.stderr}`)
  return JSON.parse(run.stdout)
}

/** python-dotenv's own parser (dotenv.parser.parse_stream) on `text`: [key, value, error] each. */
export function parseWithPythonDotenv(
  texts: string[]
): [string | null, string | null, boolean][][] {
  const run = spawnSync(
    PYTHON_DOTENV ?? 'python3',
    [
      '-c',
      'import io, json, sys\nfrom dotenv.parser import parse_stream\n' +
        'print(json.dumps([[[b.key, b.value, b.error] for b in parse_stream(io.StringIO(t))] for t in json.load(sys.stdin)]))'
    ],
    { encoding: 'utf8', input: JSON.stringify(texts) }
  )
  if (run.status !== 0) throw new Error(`python-dotenv failed: ${run.stderr}`)
  return JSON.parse(run.stdout)
}

/** The environment a POSIX shell has after `set -a; . file`, as the program it then runs sees it. */
export function readWithShell(file: string): Record<string, string> {
  const run = spawnSync(
    'bash',
    [
      '-c',
      'set -a; . "$1" || exit 9; exec "$2" -e "process.stdout.write(JSON.stringify(process.env))"',
      'sh',
      file,
      process.execPath
    ],
    { encoding: 'utf8', env: {} }
  )
  if (run.status !== 0) throw new Error(`bash could not read ${file}: ${run.stderr}`)
  return JSON.parse(run.stdout)
}

/**
 * docker/cli pkg/kvfile/kvfile.go (commit 28f756087eea), parseKeyValueFile, which
 * `docker run --env-file` uses (opts.ReadKVEnvStrings, with os.LookupEnv for a bare name): Go's
 * bufio.Scanner splits lines at "\n" and drops one "\r" before it; a line longer than 64 KiB is an
 * error; the BOM goes; leading white space goes; "#" lines and empty lines are skipped; the rest of
 * the line after the first "=" is the value, as it stands.
 */
export function readDockerEnvFile(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const pieces = text.split('\n')
  if (pieces[pieces.length - 1] === '') pieces.pop()
  pieces.forEach((piece, index) => {
    let line = piece.endsWith('\r') ? piece.slice(0, -1) : piece
    if (Buffer.byteLength(line) + 1 > 64 * 1024) throw new Error('bufio.Scanner: token too long')
    if (index === 0) line = line.replace(/^\ufeff/, '')
    // strings.TrimLeftFunc(line, unicode.IsSpace)
    line = line.replace(
      /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/,
      ''
    )
    if (line.length === 0 || line[0] === '#') return
    const at = line.indexOf('=')
    const key = at < 0 ? line : line.slice(0, at)
    if (key.length === 0) throw new Error(`no variable name on line '${line}'`)
    if (/[ \t]/.test(key)) throw new Error(`variable '${key}' contains whitespaces`)
    if (at >= 0) result[key] = line.slice(at + 1)
  })
  return result
}

/**
 * systemd's src/basic/env-file.c (commit 0002453b101d), parse_env_file_internal() with
 * load_env_file_push(), what the service manager reads an EnvironmentFile= with: its states, each
 * as there. Then as exec_context_load_environment() keeps them: a later assignment replaces an
 * earlier one, and invalid UTF-8 fails the file.
 */
export function readSystemdEnvFile(text: string): Record<string, string> {
  const WHITESPACE = ' \t\n\r'
  const NEWLINE = '\n\r'
  const COMMENTS = '#;'
  const SHELL_NEED_ESCAPE = '"\\`$'
  type State =
    | 'PRE_KEY'
    | 'KEY'
    | 'PRE_VALUE'
    | 'VALUE'
    | 'VALUE_ESCAPE'
    | 'SINGLE_QUOTE_VALUE'
    | 'DOUBLE_QUOTE_VALUE'
    | 'DOUBLE_QUOTE_VALUE_ESCAPE'
    | 'COMMENT'
    | 'COMMENT_ESCAPE'
  const result: Record<string, string> = {}
  let state: State = 'PRE_KEY'
  let key = ''
  let value = ''
  let lastKeyWhitespace = -1
  let lastValueWhitespace = -1
  const push = () => {
    if (lastKeyWhitespace >= 0) key = key.slice(0, lastKeyWhitespace)
    for (const char of key + value) {
      const code = char.codePointAt(0)!
      if (
        (code >= 0xd800 && code <= 0xdfff) ||
        (code >= 0xfdd0 && code <= 0xfdef) ||
        (code & 0xfffe) === 0xfffe
      )
        throw new Error(`invalid UTF-8 for key ${key}`)
    }
    result[key] = value
    key = ''
    value = ''
  }
  for (const c of text) {
    switch (state) {
      case 'PRE_KEY':
        if (COMMENTS.includes(c)) state = 'COMMENT'
        else if (!WHITESPACE.includes(c)) {
          state = 'KEY'
          lastKeyWhitespace = -1
          key += c
        }
        break
      case 'KEY':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          key = ''
        } else if (c === '=') {
          state = 'PRE_VALUE'
          lastValueWhitespace = -1
        } else {
          if (!WHITESPACE.includes(c)) lastKeyWhitespace = -1
          else if (lastKeyWhitespace < 0) lastKeyWhitespace = key.length
          key += c
        }
        break
      case 'PRE_VALUE':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          push()
        } else if (c === "'") state = 'SINGLE_QUOTE_VALUE'
        else if (c === '"') state = 'DOUBLE_QUOTE_VALUE'
        else if (c === '\\') state = 'VALUE_ESCAPE'
        else if (!WHITESPACE.includes(c)) {
          state = 'VALUE'
          value += c
        }
        break
      case 'VALUE':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY'
          if (lastValueWhitespace >= 0) value = value.slice(0, lastValueWhitespace)
          push()
        } else if (c === '\\') {
          state = 'VALUE_ESCAPE'
          lastValueWhitespace = -1
        } else {
          if (!WHITESPACE.includes(c)) lastValueWhitespace = -1
          else if (lastValueWhitespace < 0) lastValueWhitespace = value.length
          value += c
        }
        break
      case 'VALUE_ESCAPE':
        state = 'VALUE'
        if (!NEWLINE.includes(c)) value += c
        break
      case 'SINGLE_QUOTE_VALUE':
        if (c === "'") state = 'PRE_VALUE'
        else value += c
        break
      case 'DOUBLE_QUOTE_VALUE':
        if (c === '"') state = 'PRE_VALUE'
        else if (c === '\\') state = 'DOUBLE_QUOTE_VALUE_ESCAPE'
        else value += c
        break
      case 'DOUBLE_QUOTE_VALUE_ESCAPE':
        state = 'DOUBLE_QUOTE_VALUE'
        if (SHELL_NEED_ESCAPE.includes(c)) value += c
        else if (c !== '\n') value += `\\${c}`
        break
      case 'COMMENT':
        if (c === '\\') state = 'COMMENT_ESCAPE'
        else if (NEWLINE.includes(c)) state = 'PRE_KEY'
        break
      case 'COMMENT_ESCAPE':
        state = NEWLINE.includes(c) ? 'PRE_KEY' : 'COMMENT'
        break
    }
  }
  if (
    [
      'PRE_VALUE',
      'VALUE',
      'VALUE_ESCAPE',
      'SINGLE_QUOTE_VALUE',
      'DOUBLE_QUOTE_VALUE',
      'DOUBLE_QUOTE_VALUE_ESCAPE'
    ].includes(state)
  ) {
    if (state === 'VALUE' && lastValueWhitespace >= 0) value = value.slice(0, lastValueWhitespace)
    push()
  }
  return result
}
