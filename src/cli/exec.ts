import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeSync } from 'node:fs'
import { constants } from 'node:os'
import { isatty } from 'node:tty'
import { ActionError } from '../lib/errors.js'
import { shown, type Io } from './io.js'
import type { SecretRef, Session } from './context.js'
import { findCommand } from './command-path.js'
import {
  checkValues,
  environmentValueProblem,
  secretVariables,
  type SecretVariable
} from './variables.js'

export interface ExecOptions {
  only?: string
  pristine?: boolean
  override?: boolean
}

/** What `--pristine` keeps of this process's environment, besides the secret's keys. */
export const PRISTINE_NAMES = ['PATH', 'HOME', 'LANG', 'TERM'] as const

/** The command's environment, and the variables it kept from `current` instead of the secret's. */
export interface CommandEnvironment {
  env: Record<string, string>
  kept: string[]
}

/**
 * The environment the command runs with: this process's (with `pristine`, only PATH, HOME, LANG
 * and TERM of it) and the secret's variables. A variable already set, even empty, is kept unless
 * `override`: whoever set it by hand meant it.
 */
export function commandEnvironment(
  variables: readonly SecretVariable[],
  current: NodeJS.ProcessEnv,
  options: Pick<ExecOptions, 'pristine' | 'override'>
): CommandEnvironment {
  const names = options.pristine ? PRISTINE_NAMES : Object.keys(current)
  const env: Record<string, string> = {}
  for (const name of names) {
    const value = current[name]
    if (value !== undefined) env[name] = value
  }
  const kept: string[] = []
  for (const { name, value } of variables) {
    if (Object.hasOwn(env, name) && !options.override) kept.push(name)
    else env[name] = value
  }
  return { env, kept }
}

function keptNotice(kept: readonly string[]): string[] {
  if (kept.length === 0) return []
  return [
    `Kept ${kept.join(', ')} as set in this environment, not the secret's value${kept.length > 1 ? 's' : ''} ` +
      '(--override uses the secret).'
  ]
}

/**
 * `exec`: runs the command with the secret's keys as environment variables. Where Node has
 * process.execve (22.15 and later, 24), the command replaces this process, so it keeps its pid
 * (systemd's main process is the service, and its notify socket and signals reach it); elsewhere
 * it runs as a child with signals forwarded and its exit passed on. Values go only into the
 * command's environment: never into an argv, a file or a message.
 */
export async function execCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  command: readonly string[],
  options: ExecOptions
): Promise<number> {
  const read = await session.read(secret)
  const variables = secretVariables(read, secret, options.only)
  checkValues(
    variables,
    secret,
    variable => environmentValueProblem(variable.value),
    'Leave it out with --only KEYS.'
  )
  const { env, kept } = commandEnvironment(variables, process.env, options)
  // PATH is never the secret's (env-names refuses it): the command is looked up where a shell would.
  const file = findCommand(command[0], env.PATH, process.cwd())
  session.clients.destroy()
  const notices = keptNotice(kept)
  if (typeof process.execve === 'function') return replaceProcess(file, command, env, notices)
  for (const notice of notices) io.err(notice)
  return runChild(file, command, env)
}

type StdioStream = NodeJS.WriteStream & {
  _handle?: { setBlocking?: (blocking: boolean) => number }
}

/**
 * process.execve with what it leaves to the caller done first: whatever this process wrote has
 * reached its file descriptors (nothing buffered survives the exec), standard output and error are
 * back in blocking mode (Node puts a pipe in non-blocking mode, which the new program would
 * inherit and many programs do not expect), and the notices are written synchronously.
 */
async function replaceProcess(
  file: string,
  argv: readonly string[],
  env: Record<string, string>,
  notices: readonly string[]
): Promise<never> {
  for (const stream of [process.stdout, process.stderr] as StdioStream[]) {
    if (stream.writableLength > 0) await once(stream, 'drain')
    stream._handle?.setBlocking?.(true)
  }
  for (const notice of notices) writeFully(2, `${notice}\n`)
  return process.execve!(file, [...argv], env)
}

function writeFully(fd: number, text: string): void {
  let rest = Buffer.from(text)
  try {
    while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest))
  } catch {
    // A notice that cannot be written (standard error closed) must not keep the command from running.
  }
}

/** Signals passed on to the command, as a supervisor sends them to this process. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']
/** Signals a terminal sends to its whole foreground process group, the command included. */
const FROM_TERMINAL: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT']

/**
 * Runs the command as a child where process.execve is missing: signals this process gets are
 * passed on (except, on a terminal, Ctrl-C and Ctrl-\, which the terminal already sent the
 * command, as sudo does), and its exit is this process's: the same exit code, or death by the same
 * signal (re-raised; 128 + its number where the signal does not end this process).
 */
async function runChild(
  file: string,
  argv: readonly string[],
  env: Record<string, string>
): Promise<number> {
  const child = spawn(file, argv.slice(1), { argv0: argv[0], env, stdio: 'inherit' })
  const onTerminal = isatty(0)
  const forward = (signal: NodeJS.Signals) => {
    if (onTerminal && FROM_TERMINAL.includes(signal)) return
    child.kill(signal)
  }
  for (const signal of FORWARDED) process.on(signal, forward)
  let code: number | null
  let signal: NodeJS.Signals | null
  try {
    ;[code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  } catch (error) {
    throw new ActionError(
      `Could not start "${shown(argv[0])}" (${(error as NodeJS.ErrnoException).code ?? 'unknown error'}).`
    )
  } finally {
    for (const forwarded of FORWARDED) process.off(forwarded, forward)
  }
  if (signal === null) return code ?? 1
  process.kill(process.pid, signal)
  // Still here: the signal does not end this process (Node ignores SIGPIPE, for one).
  await new Promise(resolve => setTimeout(resolve, 1000))
  return 128 + constants.signals[signal]
}
