import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as core from '@actions/core'
import * as exec from '@actions/exec'
import { splitArguments } from './command-line.js'
import { ActionError } from './errors.js'

export interface DeployOptions {
  stack: string
  workingDirectory: string
  cdkCommand: string
  cdkArgs: string
  /** The deployment secret as environment variables, for the CDK app; never put in argv. */
  secretEnv: Record<string, string>
  env: NodeJS.ProcessEnv
}

export interface CdkCommandLine {
  tool: string
  args: string[]
}

// The action owns these: another value would make it read the wrong file or wait for a prompt.
const OWNED_FLAGS = ['--outputs-file', '-O', '--require-approval', '--ci']

/** Builds the cdk deploy command line from the inputs; checked before anything is deployed. */
export function cdkDeployCommand(
  options: Pick<DeployOptions, 'cdkCommand' | 'cdkArgs' | 'stack'>,
  outputsFile: string
): CdkCommandLine {
  const [tool, ...toolArgs] = splitArguments(options.cdkCommand, 'cdk-command')
  if (!tool)
    throw new ActionError(
      'Input "cdk-command" is empty: give how to call the CDK CLI, e.g. "npx --no-install cdk".'
    )
  const extra = splitArguments(options.cdkArgs, 'cdk-args')
  const owned = extra.find(arg => OWNED_FLAGS.includes(arg.split('=')[0]))
  if (owned) {
    throw new ActionError(
      `Input "cdk-args" has ${owned.split('=')[0]}, which the action sets itself; remove it.`
    )
  }
  return {
    tool,
    args: [
      ...toolArgs,
      'deploy',
      options.stack,
      '--require-approval',
      'never',
      '--ci',
      '--outputs-file',
      outputsFile,
      ...extra
    ]
  }
}

/** Runs cdk deploy and returns the stack's outputs from the file the CLI wrote. */
export async function cdkDeploy(options: DeployOptions): Promise<Record<string, string>> {
  const cwd = resolve(options.workingDirectory)
  if (!existsSync(cwd)) {
    throw new ActionError(
      `Input "working-directory" is "${options.workingDirectory}", which does not exist.`
    )
  }
  const outputsFile = join(options.env.RUNNER_TEMP || tmpdir(), `cdk-outputs-${randomUUID()}.json`)
  const command = cdkDeployCommand(options, outputsFile)
  const tail = new OutputTail()
  core.startGroup(`cdk deploy ${options.stack}`)
  let exitCode: number
  try {
    exitCode = await exec.exec(command.tool, command.args, {
      cwd,
      env: { ...stringEnv(options.env), ...options.secretEnv },
      ignoreReturnCode: true,
      listeners: { stdline: line => tail.add(line), errline: line => tail.add(line) }
    })
  } catch (error) {
    // exec rejects when the tool cannot be started at all (not found, not executable).
    throw new ActionError(
      `Could not run "${command.tool}" from input "cdk-command" in "${options.workingDirectory}": ` +
        `${error instanceof Error ? error.message : String(error)}. Install the CDK CLI (npm i -D aws-cdk) or fix "cdk-command".`
    )
  } finally {
    core.endGroup()
  }
  try {
    if (exitCode !== 0) {
      throw new ActionError(
        `cdk deploy of stack "${options.stack}" failed with exit code ${exitCode}; nothing was written back or restarted. ` +
          `Its last error lines:\n${tail.errorLines()}`
      )
    }
    return await readStackOutputs(outputsFile, options.stack)
  } finally {
    await rm(outputsFile, { force: true })
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
      `cdk deploy wrote no outputs for stack "${stack}" (the file has ${names.length ? names.map(n => `"${n}"`).join(', ') : 'none'}). ` +
        'Check input "stack": it must name the stack that was deployed.'
    )
  }
  return outputs
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)
  )
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
