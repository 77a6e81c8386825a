import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as core from '@actions/core'
import * as exec from '@actions/exec'
import { splitArguments } from './command-line.js'
import { ActionError } from './errors.js'
import { printUntrusted, quoteUntrusted } from './log.js'

export interface DeployInputs {
  stack: string
  workingDirectory: string
  cdkCommand: string
  cdkArgs: string
}

/** A cdk deploy, checked and ready to run: made before anything changes, run after the checks. */
export interface CdkDeployPlan {
  stack: string
  cwd: string
  tool: string
  args: string[]
  outputsFile: string
}

// The action owns these: another value would make it read the wrong file or wait for a prompt.
// The CLI's parser also takes them in camel case and "-Ofile" form.
const OWNED_FLAGS = new Set(['outputsfile', 'requireapproval', 'ci'])

function ownedFlag(arg: string): string | undefined {
  if (/^-O./.test(arg) || arg === '-O') return '-O'
  const name = /^--([^=]+)/.exec(arg)?.[1]
  return name && OWNED_FLAGS.has(name.replace(/-/g, '').toLowerCase()) ? `--${name}` : undefined
}

/** Builds and checks the cdk deploy command line from the inputs. */
export function planCdkDeploy(inputs: DeployInputs, env: NodeJS.ProcessEnv): CdkDeployPlan {
  const [tool, ...toolArgs] = splitArguments(inputs.cdkCommand, 'cdk-command')
  if (!tool) {
    throw new ActionError(
      'Input "cdk-command" is empty: give how to call the CDK CLI, e.g. "npx --no-install cdk".'
    )
  }
  const extra = splitArguments(inputs.cdkArgs, 'cdk-args')
  const owned = extra.map(ownedFlag).find(flag => flag !== undefined)
  if (owned)
    throw new ActionError(`Input "cdk-args" has ${owned}, which the action sets itself; remove it.`)
  const cwd = resolve(inputs.workingDirectory)
  if (!existsSync(cwd)) {
    throw new ActionError(
      `Input "working-directory" is "${inputs.workingDirectory}", which does not exist.`
    )
  }
  const outputsFile = join(env.RUNNER_TEMP || tmpdir(), `cdk-outputs-${randomUUID()}.json`)
  const args = [
    ...toolArgs,
    'deploy',
    inputs.stack,
    '--require-approval',
    'never',
    '--ci',
    '--outputs-file',
    outputsFile,
    ...extra
  ]
  return { stack: inputs.stack, cwd, tool, args, outputsFile }
}

// The step's file commands: a CDK app that wrote to them could set the action's outputs.
const STEP_FILES = [
  'GITHUB_OUTPUT',
  'GITHUB_ENV',
  'GITHUB_PATH',
  'GITHUB_STATE',
  'GITHUB_STEP_SUMMARY'
]

// Variables a plain `run: npx cdk deploy` step never gets, and the CDK app has no use for: the
// runner's tokens for the cache, artifacts and OIDC (cache poisoning, uploads, ID tokens for other
// audiences), the action's inputs (the SSH key is one) and its saved state.
const ACTION_ONLY = /^(INPUT_|STATE_|ACTIONS_)/

/**
 * The CDK app's environment: the step's, less what only the action may see (above) and the step's
 * file commands, plus the deployment secret's declared keys (input "env-keys") as variables.
 */
export function cdkEnvironment(
  env: NodeJS.ProcessEnv,
  secretEnv: Record<string, string>
): Record<string, string> {
  const kept = Object.entries(env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined && !ACTION_ONLY.test(entry[0]) && !STEP_FILES.includes(entry[0])
  )
  return { ...Object.fromEntries(kept), ...secretEnv }
}

/**
 * Runs cdk deploy and returns the stack's outputs from the file the CLI wrote. Each line it prints
 * goes through `onLine` first, so that a value can be masked before the line shows.
 */
export async function cdkDeploy(
  plan: CdkDeployPlan,
  env: Record<string, string>,
  onLine: (line: string) => void
): Promise<Record<string, string>> {
  const tail = new OutputTail()
  const print = (line: string) => {
    onLine(line)
    printUntrusted(line)
    tail.add(line)
  }
  core.startGroup(`cdk deploy ${plan.stack}`)
  let exitCode: number
  try {
    core.info(`[command]${plan.tool} ${plan.args.join(' ')}`)
    exitCode = await exec.exec(plan.tool, plan.args, {
      cwd: plan.cwd,
      env,
      silent: true,
      ignoreReturnCode: true,
      listeners: { stdline: print, errline: print }
    })
  } catch (error) {
    // exec rejects when the tool cannot be started at all (not found, not executable).
    throw new ActionError(
      `Could not run "${plan.tool}" from input "cdk-command" in "${plan.cwd}": ` +
        `${error instanceof Error ? error.message : String(error)}. Install the CDK CLI (npm i -D aws-cdk) or fix "cdk-command".`
    )
  } finally {
    core.endGroup()
  }
  try {
    if (exitCode !== 0) {
      throw new ActionError(
        `cdk deploy of stack "${plan.stack}" failed with exit code ${exitCode}; nothing was written back or restarted. ` +
          `Its last error lines:\n${tail.errorLines()}`
      )
    }
    return await readStackOutputs(plan.outputsFile, plan.stack)
  } finally {
    await rm(plan.outputsFile, { force: true })
  }
}

async function readStackOutputs(file: string, stack: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw new ActionError(
      `cdk deploy of stack "${stack}" exited 0 but wrote no outputs file; check that input "cdk-command" runs the CDK CLI v2.`
    )
  }
  let all: Record<string, Record<string, string>>
  try {
    all = JSON.parse(text) as Record<string, Record<string, string>>
  } catch {
    throw new ActionError(
      `The outputs file cdk deploy wrote for stack "${stack}" is not valid JSON.`
    )
  }
  // The file is keyed by stack name; a stack inside a stage has id "Stage/Stack" and name "Stage-Stack".
  const outputs = all[stack] ?? all[stack.replace(/\//g, '-')]
  if (typeof outputs !== 'object' || outputs === null) {
    const names = Object.keys(all)
    throw new ActionError(
      `cdk deploy wrote no outputs for stack "${stack}" (the file has ${
        names.length
          ? names
              .slice(0, 20)
              .map(n => `"${quoteUntrusted(n, 200)}"`)
              .join(', ')
          : 'none'
      }). ` + 'Check input "stack": it must name the stack that was deployed.'
    )
  }
  return outputs
}

/** Keeps the last lines of a long output, to quote the ones that tell why a deploy failed. */
class OutputTail {
  private readonly lines: string[] = []
  add(line: string): void {
    this.lines.push(line)
    if (this.lines.length > 200) this.lines.shift()
  }
  errorLines(count = 10): string {
    const meaningful = this.lines.filter(line => line.trim() !== '')
    const errors = meaningful.filter(line => /error|fail|❌|denied|exception/i.test(line))
    return (errors.length ? errors : meaningful).slice(-count).join('\n') || '(no output)'
  }
}
