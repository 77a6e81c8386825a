// Replays a job of one of the repository's workflows here, step by step, the way the runner would:
// `run:` scripts through bash with GITHUB_ENV and GITHUB_OUTPUT files (what a step appends to
// GITHUB_ENV reaches the later steps' environment), and `uses: ./` through the bundle. So a test
// runs the workflow's own commands, not a copy of them that could drift.
//
// Only what these workflows need: steps that set up the machine (checkout, setup-node, npm ci,
// apt-get) are skipped, since the test suite already runs on a set-up machine; expressions may
// only read step outputs (`steps.<id>.outputs.<name>`, `toJSON(steps.<id>.outputs)`) and
// `if:` may only be always() or failure().
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { parseFileCommand, repoRoot, runBundle, type BundleRun } from './run-bundle.js'

export interface WorkflowStep {
  id?: string
  name?: string
  uses?: string
  run?: string
  with?: Record<string, string>
  env?: Record<string, string>
  if?: string
}

export interface ReplayedStep {
  step: WorkflowStep
  code: number | null
  /** A run: step's stdout and stderr; for `uses: ./`, the bundle's visible log. */
  log: string
  outputs: Record<string, string>
  /** For `uses: ./` only. */
  bundle?: BundleRun
}

export function workflowSteps(file: string, job: string): WorkflowStep[] {
  const workflow = parse(readFileSync(join(repoRoot, '.github/workflows', file), 'utf8'))
  const steps = workflow.jobs?.[job]?.steps
  if (!Array.isArray(steps)) throw new Error(`${file} has no job "${job}" with steps`)
  return steps
}

/** Steps that prepare the machine; here it is prepared already. */
export function isSetupStep(step: WorkflowStep): boolean {
  if (step.uses) return step.uses !== './'
  return /\bnpm ci\b|\bapt-get\b/.test(step.run ?? '')
}

/**
 * Replays the job's steps in order. `baseEnv` is the machine's environment for run: steps (e.g.
 * PATH, TMPDIR); the bundle gets only what the runner gives an action, plus GITHUB_ENV's entries.
 */
export async function replayJob(
  steps: WorkflowStep[],
  baseEnv: Record<string, string>
): Promise<ReplayedStep[]> {
  const runnerTemp = mkdtempSync(join(tmpdir(), 'sda-replay-'))
  const outputsOf: Record<string, Record<string, string>> = {}
  let jobEnv: Record<string, string> = {}
  let failed = false
  const replayed: ReplayedStep[] = []
  try {
    for (const step of steps) {
      if (isSetupStep(step) || !shouldRun(step, failed)) continue
      const result = step.uses
        ? await replayAction(step, outputsOf, jobEnv)
        : await replayRun(step, outputsOf, { ...baseEnv, ...jobEnv, RUNNER_TEMP: runnerTemp })
      jobEnv = { ...jobEnv, ...result.envAdded }
      if (step.id) outputsOf[step.id] = result.replayed.outputs
      if (result.replayed.code !== 0) failed = true
      replayed.push(result.replayed)
    }
    return replayed
  } finally {
    rmSync(runnerTemp, { recursive: true, force: true })
  }
}

function shouldRun(step: WorkflowStep, failed: boolean): boolean {
  const condition = step.if?.replace(/^\$\{\{\s*|\s*\}\}$/g, '').trim()
  if (condition === undefined) return !failed
  if (condition === 'always()') return true
  if (condition === 'failure()') return failed
  throw new Error(`Cannot replay the condition "${step.if}" of step "${step.name}"`)
}

/** Resolves the expressions these workflows use; anything else is an error, not a guess. */
function resolve(text: string, outputsOf: Record<string, Record<string, string>>): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression)
    if (output) return outputsOf[output[1]]?.[output[2]] ?? ''
    const all = /^toJSON\(steps\.([\w-]+)\.outputs\)$/.exec(expression)
    if (all) return JSON.stringify(outputsOf[all[1]] ?? {}, null, 2)
    throw new Error(`Cannot replay the expression \${{ ${expression} }}`)
  })
}

function resolveAll(
  values: Record<string, string> | undefined,
  outputsOf: Record<string, Record<string, string>>
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values ?? {}).map(([name, value]) => [name, resolve(String(value), outputsOf)])
  )
}

async function replayAction(
  step: WorkflowStep,
  outputsOf: Record<string, Record<string, string>>,
  jobEnv: Record<string, string>
) {
  const bundle = await runBundle(resolveAll(step.with, outputsOf), {
    ...jobEnv,
    ...resolveAll(step.env, outputsOf)
  })
  return {
    replayed: { step, code: bundle.code, log: bundle.visibleLog, outputs: bundle.outputs, bundle },
    envAdded: bundle.exportedEnv
  }
}

async function replayRun(
  step: WorkflowStep,
  outputsOf: Record<string, Record<string, string>>,
  env: Record<string, string>
) {
  const dir = mkdtempSync(join(tmpdir(), 'sda-step-'))
  const files = { GITHUB_ENV: join(dir, 'env'), GITHUB_OUTPUT: join(dir, 'output') }
  for (const file of Object.values(files)) writeFileSync(file, '')
  try {
    // The runner's default shell on Linux: bash --noprofile --norc -eo pipefail {0}.
    const child = spawn(
      'bash',
      ['--noprofile', '--norc', '-eo', 'pipefail', '-c', resolve(step.run ?? '', outputsOf)],
      {
        cwd: repoRoot,
        env: { ...env, ...files, GITHUB_ACTIONS: 'true', ...resolveAll(step.env, outputsOf) },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let log = ''
    child.stdout.on('data', chunk => (log += chunk))
    child.stderr.on('data', chunk => (log += chunk))
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.on('error', reject)
      child.on('close', resolvePromise)
    })
    return {
      replayed: {
        step,
        code,
        log,
        outputs: parseFileCommand(readFileSync(files.GITHUB_OUTPUT, 'utf8'))
      },
      envAdded: parseFileCommand(readFileSync(files.GITHUB_ENV, 'utf8'))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
