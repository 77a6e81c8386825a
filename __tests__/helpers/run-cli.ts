// Runs the committed command-line bundle as a user does: `node dist/cli/index.js ...` in a child
// process, pointed at the local AWS endpoint, with no AWS profile of the machine's in reach.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from '../../test-support/runner.js'
import type { LocalAws } from './local-aws.js'

export interface CliRun {
  code: number | null
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Everything a person would see. */
  output: string
  pid: number
}

export interface CliOptions {
  /** Standard input; closed at once when undefined. */
  input?: string
  env?: Record<string, string | undefined>
  /** Called once the process exists, with its pid. */
  onSpawn?: (pid: number) => void
  /** The Node that runs the bundle, and its options (default: this test's Node). */
  node?: string
  nodeArgs?: string[]
  cwd?: string
}

export const CLI_ENTRY = join(repoRoot, 'dist', 'cli', 'index.js')

export function runCli(
  aws: LocalAws | undefined,
  args: string[],
  options: CliOptions = {}
): Promise<CliRun> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: '/nonexistent',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    // The SDK's notice that its 2027 releases need Node 22 would otherwise open every stderr.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(aws ? aws.environment() : {}),
    ...options.env
  }
  const child = spawn(
    options.node ?? process.execPath,
    [...(options.nodeArgs ?? []), CLI_ENTRY, ...args],
    {
      cwd: options.cwd,
      env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
      stdio: ['pipe', 'pipe', 'pipe']
    }
  )
  options.onSpawn?.(child.pid ?? 0)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', chunk => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', chunk => (stderr += chunk))
  child.stdin.end(options.input ?? '')
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, output: stdout + stderr, pid: child.pid ?? 0 })
    )
  })
}
