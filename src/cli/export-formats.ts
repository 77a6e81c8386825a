import { PYTHON_SPACE } from './dotenv.js'
import { environmentValueProblem, type SecretVariable } from './variables.js'

/**
 * The formats `export` writes, each quoted the way its own reader reads it back:
 * - dotenv: python-dotenv (src/dotenv/parser.py), which the reference document's app reads;
 * - docker: `docker run --env-file` (docker/cli pkg/kvfile): one line per variable, the value
 *   as it stands, no quotes, no escapes;
 * - shell: `export NAME='...'` for `.`/`source` in any POSIX shell;
 * - systemd: `EnvironmentFile=` (systemd's src/basic/env-file.c), double quotes with `\` before
 *   `\ " $` and backquote; the same text is a POSIX shell assignment too;
 * - json: one object of variable names and values.
 */
export const EXPORT_FORMATS = ['dotenv', 'docker', 'json', 'shell', 'systemd'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

interface Format {
  /** Why the format cannot hold the variable (its reader would read another value), if it cannot. */
  problem(variable: SecretVariable): string | undefined
  /** The file's text for the variables. */
  render(variables: readonly SecretVariable[]): string
}

const lines =
  (line: (variable: SecretVariable) => string) => (variables: readonly SecretVariable[]) =>
    variables.map(variable => `${line(variable)}\n`).join('')

// python-dotenv expands ${NAME} and ${NAME:-default} in every value, quoted or not, when it reads
// the file (dotenv_values and load_dotenv interpolate by default): this is its pattern
// (src/dotenv/variables.py), and nothing in the file's syntax keeps it literal.
export const DOTENV_VARIABLE = /\$\{[^}:]*(?::-[^}]*)?\}/

// Inside double quotes python-dotenv decodes \\, \", \n, \r (and \' \a \b \f \t \v), but its
// pattern for the quoted value takes a backslash before the closing quote for an escaped quote:
// a value ending in "\" cannot be quoted. Unquoted, a value is taken as it stands up to the end of
// the line, without white space around it, a " #" comment, or a quote first.
const DOTENV_UNQUOTED_UNSAFE = new RegExp(
  `^['"]|^[${PYTHON_SPACE}]|[${PYTHON_SPACE}]$|[${PYTHON_SPACE}]#|[\\r\\n]`,
  'u'
)
const DOTENV_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r'
}

function dotenvValue(value: string): string {
  if (value.endsWith('\\')) return value
  return `"${value.replace(/[\\"\n\r]/g, char => DOTENV_ESCAPES[char])}"`
}

/** docker reads the file with Go's bufio.Scanner: a line longer than its 64 KiB buffer fails. */
const DOCKER_MAX_LINE_BYTES = 64 * 1024 - 1

/** Code points systemd's utf8_is_valid() refuses, failing the whole file: the noncharacters. */
function hasNoncharacter(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0)!
    if ((code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) return true
  }
  return false
}

const FORMATS: Record<ExportFormat, Format> = {
  dotenv: {
    problem: ({ value }) => {
      if (DOTENV_VARIABLE.test(value))
        return 'holds "${...}", which python-dotenv replaces with another variable when it reads the file (no quoting keeps it)'
      if (value.endsWith('\\') && DOTENV_UNQUOTED_UNSAFE.test(value))
        return 'ends with a backslash, which python-dotenv cannot read back in quotes, and cannot stand unquoted either'
      return environmentValueProblem(value)
    },
    render: lines(({ name, value }) => `${name}=${dotenvValue(value)}`)
  },
  docker: {
    problem: ({ name, value }) => {
      if (/[\r\n]/.test(value))
        return 'holds a line break, and docker --env-file reads one line per variable, with no quoting'
      if (Buffer.byteLength(`${name}=${value}`) > DOCKER_MAX_LINE_BYTES)
        return `makes a line longer than docker --env-file reads (${DOCKER_MAX_LINE_BYTES} bytes)`
      return environmentValueProblem(value)
    },
    render: lines(({ name, value }) => `${name}=${value}`)
  },
  shell: {
    problem: ({ value }) => environmentValueProblem(value),
    render: lines(({ name, value }) => `export ${name}='${value.replaceAll("'", `'\\''`)}'`)
  },
  systemd: {
    problem: ({ value }) =>
      hasNoncharacter(value)
        ? 'holds a Unicode noncharacter (U+FDD0 to U+FDEF, U+FFFE, U+FFFF, ...), for which systemd refuses the whole file'
        : environmentValueProblem(value),
    render: lines(
      ({ name, value }) => `${name}="${value.replace(/[\\"`$]/g, char => `\\${char}`)}"`
    )
  },
  json: {
    problem: () => undefined,
    render: variables =>
      `${JSON.stringify(Object.fromEntries(variables.map(v => [v.name, v.value])), null, 2)}\n`
  }
}

/** Why `format` cannot hold the variable, or undefined when it can. */
export function formatProblem(format: ExportFormat, variable: SecretVariable): string | undefined {
  return FORMATS[format].problem(variable)
}

/** The variables as a file of `format` (every variable checked with formatProblem first). */
export function renderVariables(
  format: ExportFormat,
  variables: readonly SecretVariable[]
): string {
  return FORMATS[format].render(variables)
}

// .NET's TrimStart() (the runner's) removes what char.IsWhiteSpace calls white space: U+0085 too.
const RUNNER_LEADING_SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*/

/**
 * Whether the runner would read a workflow command in `text` printed to the job's log: a line that
 * starts with "::" once white space is trimmed, or "##[" anywhere. The runner reads the log line
 * by line, where "\r" ends a line as "\n" does.
 */
export function holdsRunnerCommand(text: string): boolean {
  return text
    .split(/\r\n|\r|\n/)
    .some(line => line.replace(RUNNER_LEADING_SPACE, '').startsWith('::') || line.includes('##['))
}
