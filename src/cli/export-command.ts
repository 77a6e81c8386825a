import { spawnSync } from 'node:child_process'
import { basename, dirname, resolve } from 'node:path'
import { isatty } from 'node:tty'
import { ActionError } from '../lib/errors.js'
import { shownVersionId } from '../lib/log.js'
import { secretSubject } from '../secrets/read.js'
import type { SecretRef, Session } from './context.js'
import {
  EXPORT_FORMATS,
  formatProblem,
  holdsRunnerCommand,
  renderVariables,
  type ExportFormat
} from './export-formats.js'
import { writePrivateFile } from './files.js'
import { inertJson, shown, type Io } from './io.js'
import { checkValues, secretVariables, type SecretVariable } from './variables.js'

export interface ExportOptions {
  format: ExportFormat
  out?: string
  only?: string
  reveal?: boolean
  force?: boolean
}

/** Where standard output goes, which decides whether values may be printed there. */
export interface StandardOutput {
  terminal: boolean
  /** GITHUB_ACTIONS=true: a workflow step, whose standard output is the job's log. */
  workflowLog: boolean
}

export function standardOutput(): StandardOutput {
  return { terminal: isatty(1), workflowLog: process.env.GITHUB_ACTIONS === 'true' }
}

/**
 * Refuses, before anything is read, to print values where someone would see them by accident: in
 * a workflow step's log without --reveal, and on a terminal without --reveal (a pipe or a file is
 * what `export ... > file` or `| tool` asked for).
 */
export function checkStandardOutput(where: StandardOutput, reveal: boolean | undefined): void {
  if (reveal) return
  if (where.workflowLog) {
    throw new ActionError(
      "In a workflow step (GITHUB_ACTIONS=true) standard output is the job's log, and the values would be in it, " +
        'unmasked: give --out FILE (e.g. under $RUNNER_TEMP), or --reveal if printing them is what you mean.'
    )
  }
  if (where.terminal) {
    throw new ActionError(
      'Standard output is a terminal: give --out FILE to write the values to a file, or --reveal to print them.'
    )
  }
}

/**
 * Whether git would take `file` into a commit: it is inside a work tree and not ignored (a file
 * git tracks counts as not ignored). False outside a work tree and where git is missing.
 */
export function committable(file: string): boolean {
  const path = resolve(file)
  const check = spawnSync(
    'git',
    ['-c', 'core.fsmonitor=false', 'check-ignore', '-q', '--', basename(path)],
    { cwd: dirname(path), stdio: 'ignore' }
  )
  // 0: ignored; 1: not ignored; 128: not in a work tree.
  return check.status === 1
}

const others = (format: ExportFormat) => EXPORT_FORMATS.filter(f => f !== format).join(', ')

/** `export`: the secret's keys as environment variables in a file format, to --out or stdout. */
export async function exportCommand(
  session: Session,
  io: Io,
  secret: SecretRef,
  options: ExportOptions,
  where: StandardOutput = standardOutput()
): Promise<void> {
  if (options.out === undefined) checkStandardOutput(where, options.reveal)
  const read = await session.read(secret)
  const variables = secretVariables(read, secret, options.only)
  checkValues(
    variables,
    secret,
    variable => formatProblem(options.format, variable),
    `Leave it out with --only KEYS, or choose another --format (${others(options.format)}).`
  )
  if (options.out === undefined) return printVariables(io, secret, options.format, variables, where)
  await writePrivateFile(options.out, renderVariables(options.format, variables), {
    replace: options.force,
    exists: `"${shown(options.out)}" already exists; export never replaces a file without --force.`
  })
  io.err(
    `Wrote ${variables.length} variable${variables.length === 1 ? '' : 's'} of the ${secretSubject(secret.role, shown(secret.id))} ` +
      `(version ${shownVersionId(read.versionId)}) to "${shown(options.out)}" (${options.format}, mode 0600).`
  )
  if (committable(options.out)) {
    io.err(
      `warning: "${shown(options.out)}" is in a git work tree and not ignored: add it to .gitignore, or a commit ` +
        'may carry the values with it.'
    )
  }
}

function printVariables(
  io: Io,
  secret: SecretRef,
  format: ExportFormat,
  variables: readonly SecretVariable[],
  where: StandardOutput
): void {
  if (where.workflowLog) {
    // Printed in the job's log (--reveal): no value may end up read as a workflow command.
    for (const variable of variables) {
      if (format !== 'json' && holdsRunnerCommand(renderVariables(format, [variable]))) {
        throw new ActionError(
          `Key "${variable.key}" (${variable.name}) of the ${secretSubject(secret.role, shown(secret.id))} would print a line ` +
            'the runner reads as a workflow command ("::" at a line\'s start, or "##["): write it to a file with --out FILE.'
        )
      }
    }
  }
  if (format === 'json') {
    // Inert whatever the values hold: "#" and "[" are written \u0023 and \u005b (JSON reads them back).
    io.out(inertJson(Object.fromEntries(variables.map(v => [v.name, v.value]))))
    return
  }
  const text = renderVariables(format, variables)
  if (text !== '') io.out(text.replace(/\n$/, ''))
}
