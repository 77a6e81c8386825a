import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { addressesIn, maskAddress } from '../lib/addresses.js'
import { StoppedError, stopRequest, withTimeout } from '../lib/cancel.js'
import { stripAnsi } from './diff.js'
import { splitArguments } from './command-line.js'
import { ActionError } from '../lib/errors.js'
import { OutputTail } from '../lib/lines.js'
import { quoteUntrusted, UntrustedOutput, type Logger } from '../lib/log.js'
import { runProcessGroup, type ProcessGroupResult } from '../lib/process-group.js'

export interface DeployInputs {
  stack: string
  workingDirectory: string
  cdkCommand: string
  cdkArgs: string
}

/** What the CLI is run for: a deploy, or a preview of one (deploy: diff). */
export type CdkCommand = 'deploy' | 'diff'

/** Input "deploy": cdk deploy, cdk diff (a preview: nothing deployed, written back or restarted), or neither. */
export type DeployMode = CdkCommand | 'none'

/** A cdk deploy or diff, checked and ready to run: made before anything changes, run after the checks. */
export interface CdkDeployPlan {
  command: CdkCommand
  stack: string
  cwd: string
  tool: string
  args: string[]
  /** Where cdk deploy writes the stack's outputs; cdk diff writes none. */
  outputsFile?: string
}

// The action owns these: another value would make it read the wrong file, wait for a prompt, or
// (cdk diff --fail) fail the run because the stack differs. The CLI's parser also takes them in
// camel case and "-Ofile" form. cdk-args is shared by both commands, so both refuse all of them.
const OWNED_FLAGS = new Set(['outputsfile', 'requireapproval', 'ci', 'fail'])

function ownedFlag(arg: string): string | undefined {
  if (/^-O./.test(arg) || arg === '-O') return '-O'
  const name = /^--([^=]+)/.exec(arg)?.[1]
  return name && OWNED_FLAGS.has(name.replace(/-/g, '').toLowerCase()) ? `--${name}` : undefined
}

/**
 * Builds and checks the command line of cdk deploy or cdk diff from the inputs: the same CLI,
 * directory and cdk-args; only the flags the action owns differ (cdk diff takes no outputs file
 * and asks for no approval).
 */
export function planCdk(
  inputs: DeployInputs,
  env: NodeJS.ProcessEnv,
  command: CdkCommand
): CdkDeployPlan {
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
  if (command === 'diff') {
    const args = [...toolArgs, 'diff', inputs.stack, '--ci', ...extra]
    return { command, stack: inputs.stack, cwd, tool, args }
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
  return { command, stack: inputs.stack, cwd, tool, args, outputsFile }
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
const ACTION_ONLY = /^(INPUT_|STATE_|ACTIONS_)/i

/**
 * The CDK app's environment: the step's, less what only the action may see (above) and the step's
 * file commands, plus the deployment secret's declared keys (input "env-keys") as variables.
 * Names are compared without case: on Windows a variable is one whatever its case (the runner's
 * environment there ignores case too, so `Github_Output` can be the step's output file), and
 * elsewhere leaving out a lower-case twin of these names costs the app nothing.
 */
export function cdkEnvironment(
  env: NodeJS.ProcessEnv,
  secretEnv: Record<string, string>
): Record<string, string> {
  const kept = Object.entries(env).filter(
    (entry): entry is [string, string] =>
      entry[1] !== undefined &&
      !ACTION_ONLY.test(entry[0]) &&
      !STEP_FILES.includes(entry[0].toUpperCase())
  )
  return { ...Object.fromEntries(kept), ...secretEnv }
}

/** How cdk deploy runs: which addresses to mask before a line shows, and what stops it. */
export interface CdkRunOptions {
  /**
   * The addresses in a line the CLI printed that must be masked before the line shows (the CLI
   * prints stack outputs before the action knows which of them is the instance's address). They
   * are registered through maskAddress, which refuses networks and loopback addresses.
   */
  addressesToMask: (line: string) => string[]
  /** Aborting it stops the CLI and everything it started (see runProcessGroup). */
  signal: AbortSignal
  /** Seconds cdk deploy may take (input "deploy-timeout"); none: no limit. */
  timeoutSeconds?: number
  /** The program's logger: the CLI's output goes into a group of it. */
  log: Logger
}

/** What stopping the CLI part-way leaves behind. */
export const STOPPED_DEPLOY_STATE =
  'the CDK CLI and everything it started were stopped (SIGINT, then SIGTERM and SIGKILL if needed); ' +
  'the stack may be mid-update: check its events in CloudFormation before deploying again; nothing was written back or restarted'

/** What cdk deploy did. */
export interface CdkDeployResult {
  /** The stack's outputs, from the file the CLI wrote. */
  outputs: Record<string, string>
  /** False when the CLI reported the stack unchanged (" ✅  <stack> (no changes)"). */
  changed: boolean
}

// The CLI's line for a stack it left as it was: " ✅  <display name> (no changes)", where the
// display name is the stack's name, or "<Stage/Stack> (<Stage-Stack>)" inside a stage; in colour
// on a runner (it sees CI and GITHUB_ACTIONS). The CDK app could print the same line: it can only
// make the output read false, and the app is the workflow's own code.
const NO_CHANGES = /^\s*✅\s+(.+?) \(no changes\)\s*$/
/** Whether a line the CLI printed says that `stack` had no changes. */
export function saysNoChanges(line: string, stack: string): boolean {
  const name = NO_CHANGES.exec(stripAnsi(line))?.[1]
  return (
    name !== undefined &&
    (name === stack || name.startsWith(`${stack} (`) || name.endsWith(` (${stack})`))
  )
}

// How the CDK CLI prints a stack's outputs after a deploy (aws-cdk-cli, packages/aws-cdk/lib/cli/
// cdk-toolkit.ts, deploy()): "Outputs:", then one `${cyan(stack.id)}.${cyan(name)} = ${underline(
// cyan(value))}` per output, sorted by name, then "Stack ARN:". A value holding a line break goes on
// over the next lines, so every line up to "Stack ARN:" is part of the block.
const OUTPUTS_START = /^Outputs:$/
const OUTPUTS_END = /^Stack ARN:$/
const STACK_OUTPUT_LINE = /^\S+\.\S+ = /

/**
 * Reads the CDK CLI's output line by line and gives the IP addresses in its stack outputs block
 * (a bare address, or one inside a URL, a list, ...), colour codes or not, so that they can be
 * masked before the line shows.
 */
export class StackOutputAddresses {
  private inBlock = false

  addresses(line: string): string[] {
    const text = stripAnsi(line).trim()
    if (OUTPUTS_START.test(text)) {
      this.inBlock = true
      return []
    }
    if (OUTPUTS_END.test(text)) this.inBlock = false
    return this.inBlock || STACK_OUTPUT_LINE.test(text) ? addressesIn(text) : []
  }
}

/** What stopping cdk diff part-way leaves behind: nothing, it only reads. */
export const STOPPED_DIFF_STATE =
  'the CDK CLI and everything it started were stopped; cdk diff changes nothing: nothing was deployed, written back or restarted'

/**
 * Runs cdk deploy and returns the stack's outputs from the file the CLI wrote, and whether it
 * changed the stack. The CLI runs in a process group of its own, so that a cancelled run or input
 * "deploy-timeout" stops all of it.
 */
export async function cdkDeploy(
  plan: CdkDeployPlan,
  env: Record<string, string>,
  options: CdkRunOptions
): Promise<CdkDeployResult> {
  let changed = true
  try {
    await runCdk(plan, env, {
      ...options,
      onLine: line => {
        if (saysNoChanges(line, plan.stack)) changed = false
      }
    })
    return { outputs: await readStackOutputs(plan.outputsFile as string, plan.stack), changed }
  } finally {
    if (plan.outputsFile) await rm(plan.outputsFile, { force: true })
  }
}

/**
 * Runs the planned command (cdk deploy or cdk diff) and resolves once it exited 0. Every line it
 * prints goes to the log through UntrustedOutput, and to `options.onLine` when given.
 */
export async function runCdk(
  plan: CdkDeployPlan,
  env: Record<string, string>,
  options: CdkRunOptions & { onLine?: (line: string) => void }
): Promise<void> {
  // One pause of the runner's command processing around the whole run: no line the CLI prints is
  // obeyed as a workflow command, and the masks registered meanwhile lift it only for themselves.
  const out = new UntrustedOutput()
  const tail = new OutputTail()
  const limit = withTimeout(options.signal, options.timeoutSeconds, 'deploy-timeout')
  const name = `cdk ${plan.command}`
  const untouched =
    plan.command === 'diff'
      ? 'nothing was deployed, written back or restarted'
      : 'nothing was written back or restarted'
  options.log.startGroup(`${name} ${plan.stack}`)
  let result: ProcessGroupResult
  try {
    options.log.info(`[command]${plan.tool} ${plan.args.join(' ')}`)
    result = await out.around(() =>
      runProcessGroup({
        command: plan.tool,
        args: plan.args,
        cwd: plan.cwd,
        env,
        signal: limit.signal,
        onLine: line => {
          for (const address of options.addressesToMask(line))
            out.command(() => maskAddress(address))
          out.line(line)
          tail.add(line)
          options.onLine?.(line)
        }
      })
    )
  } catch (error) {
    // The tool cannot be started at all (not found, not executable).
    throw new ActionError(
      `Could not run "${plan.tool}" from input "cdk-command" in "${plan.cwd}": ` +
        `${quoteUntrusted(error instanceof Error ? error.message : String(error))}. Install the CDK CLI (npm i -D aws-cdk) or fix "cdk-command".`
    )
  } finally {
    limit.dispose()
    options.log.endGroup()
  }
  if (result.stopped) {
    throw new StoppedError(
      stopRequest(limit.signal),
      plan.command === 'diff' ? STOPPED_DIFF_STATE : STOPPED_DEPLOY_STATE
    )
  }
  if (result.exitCode !== 0) {
    const how =
      result.exitCode === null
        ? `was ended by ${result.exitSignal}`
        : `failed with exit code ${result.exitCode}`
    throw new ActionError(
      `${name} of stack "${plan.stack}" ${how}; ${untouched}. ` +
        missingCliHint(plan, tail) +
        `Its last error lines:\n${tail.errorLines()}`
    )
  }
}

// What npm prints when `npx --no-install cdk` finds no CDK CLI installed where it runs: it asks the
// registry about the package "cdk" and refuses to install it (offline, it has nothing cached).
const NPX_FOUND_NO_CLI =
  /npx canceled due to missing packages|code ENOTCACHED|could not determine executable to run/

/** When npx found no CDK CLI in the working directory: what to do about it, else nothing. */
export function missingCliHint(
  plan: Pick<CdkDeployPlan, 'tool' | 'cwd'>,
  tail: OutputTail
): string {
  if (!/^npx(\.cmd)?$/.test(basename(plan.tool)) || !NPX_FOUND_NO_CLI.test(tail.lastLines(40)))
    return ''
  return (
    `npx found no CDK CLI installed in "${plan.cwd}" (input "working-directory"). ` +
    "Add aws-cdk to the devDependencies of that directory's package.json (npm i -D aws-cdk there, commit " +
    'package.json and the lockfile, and run npm ci in that directory before this step), or set input ' +
    '"cdk-command" to a CDK CLI that is installed (e.g. "cdk" after npm i -g aws-cdk). '
  )
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
