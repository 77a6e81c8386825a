// What the GitHub runner does around a JavaScript action, for the tests and the local demo (never
// bundled): run `node dist/index.js` with INPUT_* variables (action.yml's defaults filled in) and
// the file commands GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STEP_SUMMARY and GITHUB_STATE; read the
// `name<<DELIMITER` blocks back; apply `::add-mask::` to the log as the runner does.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

export const repoRoot = fileURLToPath(new URL('..', import.meta.url))

/**
 * @typedef {object} ActionMetadata
 * @property {Record<string, { default?: string, description: string, required?: boolean }>} inputs
 * @property {Record<string, { description: string }>} outputs
 */

/** @returns {ActionMetadata} */
export function actionMetadata() {
  return parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8'))
}

/**
 * INPUT_* variables for the given inputs, with action.yml's defaults for the rest. Like the
 * runner, a default's `${{ github.token }}` becomes the job's token (`githubToken`, empty when
 * not given); any other expression in a default is refused rather than passed on as text.
 * @param {Record<string, string>} inputs
 * @param {{ githubToken?: string }} [context]
 * @returns {Record<string, string>}
 */
export function inputEnvironment(inputs, context = {}) {
  /** @type {Record<string, string>} */
  const env = {}
  for (const [name, spec] of Object.entries(actionMetadata().inputs)) {
    const value = (spec.default ?? '').replace(
      /\$\{\{\s*github\.token\s*\}\}/g,
      context.githubToken ?? ''
    )
    if (value.includes('${{'))
      throw new Error(`the runner stand-in cannot evaluate the default of input ${name}: ${value}`)
    env[`INPUT_${name.toUpperCase()}`] = value
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  return env
}

/**
 * @typedef {object} BundleRun
 * @property {number | null} code
 * @property {string} stdout
 * @property {string} stderr
 * @property {Record<string, string>} outputs
 * @property {Record<string, string>} exportedEnv
 * @property {string} summary
 * @property {string} visibleLog stdout and stderr as the workflow log shows them: mask commands
 *   applied, then hidden
 * @property {Record<string, string>} state what the step saved for its post step (GITHUB_STATE),
 *   which the runner gives the post step as STATE_<name> variables
 * @property {string[]} masks every value registered with ::add-mask::
 * @property {NodeJS.Signals[]} signalsSent what the runner's cancellation sent, in order
 * @property {ObeyedCommand[]} commands every workflow command the runner would carry out
 */

/**
 * @typedef {object} RunOptions
 * @property {string} [cwd] the step's working directory; the repository by default
 * @property {string} [entry] the script to run; dist/index.js by default
 * @property {(line: string) => void} [onLogLine] each log line as the workflow log shows it, as
 *   it arrives (masks applied, ::add-mask:: lines left out)
 * @property {(line: string) => boolean} [cancelWhen] cancel the step, as the runner does, once a
 *   log line (as shown) matches
 * @property {(runner: { cancel: () => void, kill: (signal: NodeJS.Signals) => void }) => void} [onStart]
 *   called once the action runs, with a way to cancel it from elsewhere (an endpoint hook), or to
 *   send it one signal
 * @property {string} [githubToken] the job's token, what `${{ github.token }}` evaluates to
 */

/**
 * How the runner cancels a step (Runner.Worker's process invoker): SIGINT to the action's process
 * only, SIGTERM 7.5 s later if it still runs, then SIGKILL 2.5 s after that. Children are not
 * signalled: an action that leaves some has leaked them.
 */
export const RUNNER_CANCEL = { termAfterMs: 7500, killAfterMs: 2500 }

/**
 * @param {import('node:child_process').ChildProcess} child
 * @param {NodeJS.Signals[]} sent
 */
function runnerCancellation(child, sent) {
  let started = false
  /** @type {NodeJS.Timeout[]} */
  const timers = []
  const send = (/** @type {NodeJS.Signals} */ signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    sent.push(signal)
    child.kill(signal)
  }
  child.once('exit', () => timers.forEach(clearTimeout))
  return {
    kill: send,
    cancel() {
      if (started) return
      started = true
      send('SIGINT')
      timers.push(
        setTimeout(() => {
          send('SIGTERM')
          timers.push(setTimeout(() => send('SIGKILL'), RUNNER_CANCEL.killAfterMs))
        }, RUNNER_CANCEL.termAfterMs)
      )
    }
  }
}

/**
 * Runs the action like the runner: a child `node <entry>` with only the runner's variables, the
 * inputs and `env` (a variable set to undefined is removed).
 * @param {Record<string, string>} inputs
 * @param {Record<string, string | undefined>} [env]
 * @param {RunOptions} [options]
 * @returns {Promise<BundleRun>}
 */
export async function runAction(inputs, env = {}, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sda-run-'))
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_ENV: join(dir, 'env'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_STATE: join(dir, 'state')
  }
  for (const file of Object.values(files)) writeFileSync(file, '')
  const runnerTemp = join(dir, 'runner-temp')
  mkdirSync(runnerTemp)
  /** @type {Record<string, string>} */
  const childEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    RUNNER_TEMP: runnerTemp,
    GITHUB_ACTIONS: 'true',
    ...files,
    ...inputEnvironment(inputs, { githubToken: options.githubToken })
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name]
    else childEnv[name] = value
  }
  try {
    // ACTION_NODE: run the bundle on another Node.js than the tests' own (the runner's is 24).
    const child = spawn(
      process.env.ACTION_NODE || process.execPath,
      [options.entry ?? join(repoRoot, 'dist/index.js')],
      {
        cwd: options.cwd ?? repoRoot,
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    // Decoded as text per stream, so that a character split across two chunks stays whole.
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    let stdout = ''
    let stderr = ''
    /** @type {NodeJS.Signals[]} */
    const signalsSent = []
    const runner = runnerCancellation(child, signalsSent)
    options.onStart?.(runner)
    const { onLogLine, cancelWhen } = options
    const watch =
      onLogLine || cancelWhen
        ? (/** @type {string} */ line) => {
            onLogLine?.(line)
            if (cancelWhen?.(line)) runner.cancel()
          }
        : undefined
    const live = watch ? liveLog(watch) : undefined
    child.stdout.on('data', chunk => {
      stdout += chunk
      live?.stdout.write(chunk)
    })
    child.stderr.on('data', chunk => {
      stderr += chunk
      live?.stderr.write(chunk)
    })
    const code = await new Promise((resolve, reject) => {
      child.on('error', reject)
      child.on('close', resolve)
    })
    live?.stdout.end()
    live?.stderr.end()
    // stdout first: the tests read commands from it; stderr carries no command the action sends.
    const { masks, visible, commands } = applyMasks(stdout + stderr)
    return {
      code,
      stdout,
      stderr,
      outputs: parseFileCommand(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
      exportedEnv: parseFileCommand(readFileSync(files.GITHUB_ENV, 'utf8')),
      state: parseFileCommand(readFileSync(files.GITHUB_STATE, 'utf8')),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
      visibleLog: visible,
      masks,
      signalsSent,
      commands
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Two line splitters, one per stream, sharing one masker: like the runner, a value registered on
 * stdout is masked on stderr from then on.
 * @param {(line: string) => void} onLogLine
 */
function liveLog(onLogLine) {
  const masker = createLogMasker()
  const splitter = () => {
    let pending = ''
    /** @param {string} line */
    const emit = line => {
      // Like the runner (.NET's ReadLine), a lone carriage return ends a line too.
      for (const piece of line.replace(/\r$/, '').split('\r')) {
        const shown = masker.line(piece)
        if (shown !== undefined) onLogLine(shown)
      }
    }
    return {
      /** @param {string} chunk */
      write(chunk) {
        const lines = (pending + chunk).split('\n')
        pending = lines.pop() ?? ''
        lines.forEach(emit)
      },
      end() {
        if (pending !== '') emit(pending)
        pending = ''
      }
    }
  }
  return { stdout: splitter(), stderr: splitter() }
}

/**
 * Reads `name=value` and `name<<DELIMITER ... DELIMITER` entries, as the runner does.
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseFileCommand(text) {
  /** @type {Record<string, string>} */
  const result = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value = []
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i])
      if (i >= lines.length) throw new Error(`unterminated ${name}`)
      result[name] = value.join('\n')
    } else {
      const at = line.indexOf('=')
      result[line.slice(0, at)] = line.slice(at + 1)
    }
  }
  return result
}

/**
 * Entries for GITHUB_ENV or GITHUB_OUTPUT: `name=value`, or a `name<<DELIMITER` block for a value
 * of several lines, with a random delimiter that no value can contain by chance.
 * @param {Record<string, string>} values
 * @returns {string}
 */
export function formatFileCommand(values) {
  return Object.entries(values)
    .map(([name, value]) => {
      if (!/[\r\n]/.test(value)) return `${name}=${value}\n`
      const delimiter = `ghadelimiter_${randomUUID()}`
      return `${name}<<${delimiter}\n${value}\n${delimiter}\n`
    })
    .join('')
}

/** @param {string} data */
function unescapeCommandData(data) {
  return data.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/**
 * @typedef {object} ObeyedCommand a workflow command the runner would carry out
 * @property {string} name e.g. `set-output`, `add-mask`, `error`, `stop-commands`
 * @property {Record<string, string>} properties
 * @property {string} data
 * @property {string} line the log line it came from
 */

// What the runner registers (ActionCommandManager); any other name is plain text.
const RUNNER_COMMANDS = new Set([
  'set-env',
  'set-output',
  'save-state',
  'add-path',
  'add-mask',
  'add-matcher',
  'remove-matcher',
  'warning',
  'error',
  'notice',
  'debug',
  'group',
  'endgroup',
  'echo',
  'stop-commands'
])

// .NET's String.TrimStart() removes what char.IsWhiteSpace calls white space, which includes
// U+0085 (NEXT LINE), unlike JavaScript's \s; and it keeps U+FEFF, which \s removes.
const DOTNET_LEADING_SPACE =
  /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/

/**
 * Parses a log line the way the runner does (ActionCommand.TryParseV2, then the legacy
 * TryParse): `::name props::data` after .NET's TrimStart, or `##[name props]data` anywhere in
 * the line.
 * @param {string} line
 * @param {Set<string>} registered
 * @returns {ObeyedCommand | undefined}
 */
export function parseRunnerCommand(line, registered) {
  const trimmed = line.replace(DOTNET_LEADING_SPACE, '')
  if (trimmed.startsWith('::')) {
    const end = trimmed.indexOf('::', 2)
    if (end >= 0) {
      const info = trimmed.slice(2, end)
      const space = info.indexOf(' ')
      const name = space < 0 ? info : info.slice(0, space)
      if (registered.has(name)) {
        /** @type {Record<string, string>} */
        const properties = {}
        if (space >= 0) {
          for (const pair of info.slice(space + 1).split(',')) {
            const at = pair.indexOf('=')
            if (at > 0)
              properties[pair.slice(0, at).trim()] = unescapeCommandData(pair.slice(at + 1))
          }
        }
        return { name, properties, data: unescapeCommandData(trimmed.slice(end + 2)), line }
      }
    }
  }
  const prefix = line.indexOf('##[')
  if (prefix < 0) return undefined
  const bracket = line.indexOf(']', prefix)
  if (bracket < 0) return undefined
  const info = line.slice(prefix + 3, bracket)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!registered.has(name)) return undefined
  /** @type {Record<string, string>} */
  const properties = {}
  if (space >= 0) {
    for (const pair of info.slice(space + 1).split(';')) {
      const at = pair.indexOf('=')
      if (at > 0) properties[pair.slice(0, at).trim()] = pair.slice(at + 1)
    }
  }
  return { name, properties, data: line.slice(bracket + 1), line }
}

/**
 * The runner's handling of the log, one line at a time: workflow commands are carried out (and
 * recorded in `commands`), `::stop-commands::TOKEN` pauses them until `::TOKEN::`, `::add-mask::`
 * registers a value, and each registered value is replaced by *** wherever it occurs in later
 * lines.
 */
export function createLogMasker() {
  /** @type {string[]} */
  const masks = []
  /** @type {ObeyedCommand[]} */
  const commands = []
  const registered = new Set(RUNNER_COMMANDS)
  /** @type {string | undefined} */
  let stopToken
  /** @param {string} value */
  const add = value => {
    if (value.trim() !== '') masks.push(value)
  }
  return {
    masks,
    commands,
    add,
    /**
     * @param {string} line
     * @returns {string | undefined} the line as shown, or undefined for a line the log hides
     */
    line(line) {
      const command = parseRunnerCommand(line, registered)
      if (command && stopToken !== undefined) {
        if (command.name !== stopToken) return maskText(line)
        registered.delete(stopToken)
        stopToken = undefined
        return undefined
      }
      if (command) commands.push(command)
      if (command?.name === 'add-mask') {
        add(command.data)
        return undefined
      }
      if (command?.name === 'stop-commands') {
        stopToken = command.data
        registered.add(stopToken)
        return undefined
      }
      // The runner reads a workflow command before it masks: only the command's data is masked.
      const v2 = command && /^(::[A-Za-z-]+(?: [^:]*)?::)(.*)$/.exec(line)
      return v2 ? v2[1] + maskText(v2[2]) : maskText(line)
    }
  }

  /** @param {string} text */
  function maskText(text) {
    let masked = text
    // Longest first, so that a value containing another one is masked whole.
    for (const value of [...masks].sort((a, b) => b.length - a.length))
      masked = masked.split(value).join('***')
    return masked
  }
}

/**
 * A whole log as the workflow log shows it, and the workflow commands the runner carried out.
 * @param {string} log
 * @returns {{ masks: string[], visible: string, commands: ObeyedCommand[] }}
 */
export function applyMasks(log) {
  const masker = createLogMasker()
  const shown = []
  // Like the runner (.NET's ReadLine), a lone carriage return ends a line too.
  for (const line of log.split(/\r\n|\r|\n/)) {
    const visible = masker.line(line)
    if (visible !== undefined) shown.push(visible)
  }
  return { masks: masker.masks, visible: shown.join('\n'), commands: masker.commands }
}

/**
 * How the runner's log viewer presents a workflow command line: a group as a heading, an error or
 * warning as an annotation; debug lines are hidden unless step debugging is on.
 * @param {string} line a line that masking already went through
 * @returns {string | undefined} undefined when the viewer shows nothing for it
 */
export function presentLogLine(line) {
  const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line)
  if (!command) return line
  const [, name, data] = command
  const text = unescapeCommandData(data)
  switch (name) {
    case 'group':
      return `▶ ${text}`
    case 'endgroup':
    case 'debug':
      return undefined
    case 'error':
      return `Error: ${text}`
    case 'warning':
      return `Warning: ${text}`
    case 'notice':
      return `Notice: ${text}`
    default:
      return line
  }
}
