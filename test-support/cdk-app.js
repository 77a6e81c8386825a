// A CDK app directory for the CDK stand-in (test-support/cdk-stand-in.js): cdk.json plus the
// stand-in's description of what the deployment does (cdk-stand-in.json).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import shellQuote from 'shell-quote'

const STAND_IN = fileURLToPath(new URL('./cdk-stand-in.js', import.meta.url))

/**
 * @typedef {object} StandInConfig
 * @property {Record<string, { outputs?: Record<string, string>, unchanged?: boolean }>} [stacks]
 *   unchanged: the deploy is a no-op (" ✅  <stack> (no changes)")
 * @property {{ exitCode?: number, message: string }} [fail]
 * @property {{ secretId: string, key: string, value: string }} [concurrentEdit]
 * @property {string[]} [print] lines the CDK app prints while it deploys (or diffs)
 * @property {'additions' | 'update' | 'replacement' | 'none'} [diff] what cdk diff prints
 * @property {string[]} [diffLines] lines cdk diff adds to its Resources section
 * @property {'missing' | 'other-stack'} [outputsFile] exit 0 without an outputs file, or with one
 *   that lacks the stack
 * @property {string[]} [recordEnv]
 * @property {{ pidFile: string, appIgnores?: string[], signalsFile?: string }} [hang] the
 *   deployment never ends; the CLI and its app write their pids to pidFile, the app the signals
 *   it gets to signalsFile
 */

/**
 * @typedef {object} CdkApp
 * @property {string} dir
 * @property {string} command the value for input cdk-command
 * @property {() => { argv: string[], env: Record<string, string | null> }[]} invocations what
 *   each run of the stand-in was given: its argv and the variables named in recordEnv
 * @property {() => void} remove deletes the directory
 */

/**
 * @param {StandInConfig} config
 * @param {{ node?: string, record?: boolean }} [options] node: the Node.js binary in cdk-command
 *   ("node" from PATH by default); record: false to keep no invocations (the stand-in then writes
 *   nothing into the directory, which another user may own)
 * @returns {CdkApp}
 */
export function createCdkApp(config, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sda-cdk-app-'))
  // Readable by everyone: the stand-ins may run as root and the action as the runner's user.
  chmodSync(dir, 0o755)
  const record = options.record === false ? undefined : join(dir, 'invocations.jsonl')
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.js' }), { mode: 0o644 })
  writeFileSync(join(dir, 'cdk-stand-in.json'), JSON.stringify({ ...config, record }), {
    mode: 0o644
  })
  return {
    dir,
    // Quoted: the action splits cdk-command like a shell would.
    command: shellQuote.quote([options.node ?? 'node', STAND_IN]),
    invocations: () =>
      record && existsSync(record)
        ? readFileSync(record, 'utf8')
            .trim()
            .split('\n')
            .map(line => JSON.parse(line))
        : [],
    remove: () => rmSync(dir, { recursive: true, force: true })
  }
}
