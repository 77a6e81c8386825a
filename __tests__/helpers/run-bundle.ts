// Runs the committed bundle the way the GitHub runner does: `node dist/index.js` in a child
// process, inputs as INPUT_* variables (action.yml defaults filled in, as the runner does), and
// the file commands GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

interface ActionMetadata {
  inputs: Record<string, { default?: string; description: string; required?: boolean }>
  outputs: Record<string, { description: string }>
}

export function actionMetadata(): ActionMetadata {
  return parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as ActionMetadata
}

/** INPUT_* variables for the given inputs, with action.yml's defaults for the rest. */
export function inputEnvironment(inputs: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, spec] of Object.entries(actionMetadata().inputs)) {
    env[`INPUT_${name.toUpperCase()}`] = spec.default ?? ''
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  return env
}

export interface BundleRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  exportedEnv: Record<string, string>
  summary: string
  /** stdout and stderr as the workflow log shows them: mask commands applied, then hidden. */
  visibleLog: string
  /** Every value registered with ::add-mask::. */
  masks: string[]
}

export async function runBundle(
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  options: { cwd?: string; entry?: string } = {}
): Promise<BundleRun> {
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
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    RUNNER_TEMP: runnerTemp,
    GITHUB_ACTIONS: 'true',
    ...files,
    ...inputEnvironment(inputs)
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name]
    else childEnv[name] = value
  }
  try {
    const child = spawn(process.execPath, [options.entry ?? join(repoRoot, 'dist/index.js')], {
      cwd: options.cwd ?? repoRoot,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => (stdout += chunk))
    child.stderr.on('data', chunk => (stderr += chunk))
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.on('error', reject)
      child.on('close', resolvePromise)
    })
    const { masks, visible } = applyMasks(stdout + stderr)
    return {
      code,
      stdout,
      stderr,
      outputs: parseFileCommand(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
      exportedEnv: parseFileCommand(readFileSync(files.GITHUB_ENV, 'utf8')),
      summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
      visibleLog: visible,
      masks
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Reads `name=value` and `name<<DELIMITER ... DELIMITER` entries, as the runner does. */
export function parseFileCommand(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value: string[] = []
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

function unescapeCommandData(data: string): string {
  return data.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/**
 * What the runner does with a log: `::add-mask::` lines register a value and are not shown; each
 * registered value is replaced by *** wherever it occurs in later lines.
 */
export function applyMasks(log: string): { masks: string[]; visible: string } {
  const masks: string[] = []
  const shown: string[] = []
  for (const line of log.split('\n')) {
    const mask = /^::add-mask::(.*)$/.exec(line)
    if (mask) {
      const value = unescapeCommandData(mask[1])
      if (value.trim() !== '') masks.push(value)
      continue
    }
    let masked = line
    for (const value of [...masks].sort((a, b) => b.length - a.length))
      masked = masked.split(value).join('***')
    shown.push(masked)
  }
  return { masks, visible: shown.join('\n') }
}

/** The pieces of a secret value someone could read in a log: the value and each non-blank line. */
export function readablePieces(value: string): string[] {
  return [value, ...value.split(/\r?\n|\r/).map(line => line.trim())].filter(
    piece => piece.length >= 3
  )
}

/** Values built to slip past naive masking. */
export const HOSTILE_VALUES: Record<string, string> = {
  multi_line: 'first-line-secret\n  second line, indented  \nthird-line-secret',
  padded: '  padded-secret-value  ',
  json_inside: '{"nested":"json-inner-secret","list":[1,2]}',
  percent_colons: '100%25 sure %0A ::error::not-a-command ::add-mask:: %%',
  non_ascii: 'pässwörd-密码-🔑-secret',
  quotes_dollar: `it's "quoted" $HOME \${{ secrets.X }} \`uname\` secret`
}
