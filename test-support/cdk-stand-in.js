#!/usr/bin/env node
// A stand-in for the AWS CDK CLI, for tests and local runs only: CloudFormation cannot be reached
// here. It accepts the real CLI's `deploy` arguments, prints deploy-like output, and writes the
// outputs file in the real CLI's format ({"<stack>": {"<OutputKey>": "<value>"}}). It also
// accepts `diff <stack>`: it prints the diff the config's "diff" names (cdk-diff-samples.js, in
// colour, as the real CLI prints it) and exits 0, as the real one does without --fail.
//
// What the "deployment" does comes from cdk-stand-in.json in the working directory (the CDK app):
//   { "stacks": { "<stack>": { "outputs": { "InstanceId": "i-..." } } },
//                              a stack may say "unchanged": true: the deploy is a no-op, printed
//                              as the real CLI prints one (" ✅  <stack> (no changes)")
//     "fail": { "exitCode": 1, "message": "..." },              optional: the deploy fails
//     "concurrentEdit": { "secretId": "...", "key": "...", "value": "..." },
//                              optional: another writer changes the secret while the deploy runs,
//                              through the real SDK, with a plain PutSecretValue
//     "print": ["..."],            optional: lines the CDK app prints while it deploys (or diffs)
//     "diff": "additions" | "update" | "replacement" | "none",  for cdk diff: what it prints
//                              ("none" when absent); "diffLines": ["..."] lines it adds to the
//                              diff's Resources section (the CDK app's construct ids are its own)
//     "outputsFile": "missing" | "other-stack",  optional: a CLI that exits 0 yet writes no
//                              outputs file, or writes one without this stack
//     "record": "<file>", "recordEnv": ["EC2_KEY_NAME"] }  optional: what it was given, for tests
//     "hang": { "pidFile": "<file>", "appIgnores": ["SIGINT"], "signalsFile": "<file>" }
//                              optional: the deployment never ends; like the real CLI it runs
//                              the CDK app as a child process (which ignores the signals listed,
//                              and records each SIGINT/SIGTERM it gets in signalsFile, by default
//                              app-signals.log), and writes both process ids to pidFile
//                              ({"cli": pid, "app": pid}) once both run
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync, existsSync, appendFileSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  diffWithAdditionsOnly,
  diffWithoutChanges,
  diffWithReplacement,
  diffWithUpdateOnly
} from './cdk-diff-samples.js'

const argv = process.argv.slice(2)
const config = existsSync('cdk-stand-in.json')
  ? JSON.parse(readFileSync('cdk-stand-in.json', 'utf8'))
  : {}

if (config.record) {
  const env = Object.fromEntries(
    (config.recordEnv ?? []).map((/** @type {string} */ name) => [name, process.env[name] ?? null])
  )
  appendFileSync(resolve(config.record), JSON.stringify({ argv: process.argv, env }) + '\n')
}

/**
 * The deployment (or the synthesis) never ends: like the real CLI, it runs the CDK app as a child
 * process, which records each SIGINT and SIGTERM it gets in signalsFile and lives on after the
 * ones it ignores. It says when its handlers are in place, so that no signal can come before them.
 * @param {NodeJS.WritableStream} log @param {string} progress the line printed once both run
 * @returns {Promise<never>}
 */
async function hang(log, progress) {
  const appSource = `
    const { appendFileSync } = require('node:fs')
    const ignored = ${JSON.stringify(config.hang.appIgnores ?? [])}
    for (const signal of ['SIGINT', 'SIGTERM'])
      process.on(signal, () => {
        appendFileSync(${JSON.stringify(resolve(config.hang.signalsFile ?? 'app-signals.log'))}, signal + '\\n')
        if (!ignored.includes(signal)) process.exit(1)
      })
    console.log('ready')
    setInterval(() => {}, 1000)`
  const app = spawn(process.execPath, ['-e', appSource], {
    stdio: ['ignore', 'pipe', 'ignore']
  })
  app.stdout.once('data', () => {
    writeFileSync(resolve(config.hang.pidFile), JSON.stringify({ cli: process.pid, app: app.pid }))
    log.write(`${progress} (waiting on the app, pid ${app.pid})\n`)
  })
  // The real CLI stops on SIGINT by Node's default; so does this stand-in, leaving its child.
  return new Promise(() => setInterval(() => {}, 1000))
}

const [command, stack, ...rest] = argv
if (!['deploy', 'diff'].includes(command) || !stack || stack.startsWith('-')) {
  process.stderr.write(
    `Usage: cdk deploy|diff <stack> [options] (this stand-in knows only those; got: ${argv[0] ?? 'nothing'})\n`
  )
  process.exit(1)
}
if (command === 'diff') {
  // Options of cdk deploy only: given to cdk diff, the action built the wrong command line.
  for (const flag of ['--outputs-file', '--require-approval']) {
    if (rest.includes(flag)) {
      process.stderr.write(`cdk diff takes no ${flag}\n`)
      process.exit(1)
    }
  }
  const out = rest.includes('--ci') ? process.stdout : process.stderr
  out.write(`\n✨  Synthesis time: 0.42s\n\n`)
  for (const line of config.print ?? []) out.write(`${line}\n`)
  if (config.hang) await hang(out, `${stack}: synthesizing`)
  if (!config.stacks?.[stack]) {
    out.write(`❌ No stacks match the name(s) ${stack}\n`)
    process.exit(1)
  }
  const samples = {
    additions: diffWithAdditionsOnly,
    update: diffWithUpdateOnly,
    replacement: diffWithReplacement,
    none: diffWithoutChanges
  }
  /** @type {keyof typeof samples} */
  const name = config.diff ?? 'none'
  const lines = samples[name](stack).split('\n')
  const at = lines.findIndex(line => line.includes('Resources'))
  if (config.diffLines) lines.splice(at >= 0 ? at + 1 : 1, 0, ...config.diffLines)
  // Exiting before a pipe took all of a long diff would cut it.
  await new Promise(resolve => out.write(lines.join('\n') + '\n', resolve))
  process.exit(0)
}
const option = (/** @type {string} */ name) => {
  const at = rest.indexOf(name)
  return at >= 0 ? rest[at + 1] : undefined
}
if (option('--require-approval') !== 'never' && !process.stdin.isTTY) {
  process.stderr.write(
    '❌ Unable to prompt for approval: the terminal is not a TTY (TtyNotAttached).\n'
  )
  process.exit(1)
}
const log = rest.includes('--ci') ? process.stdout : process.stderr

log.write(
  `\n✨  Synthesis time: 0.42s\n\n${stack}: start: Building ${stack} Template\n${stack}: deploying... [1/1]\n`
)

for (const line of config.print ?? []) log.write(`${line}\n`)

if (config.hang) await hang(log, `${stack}: CREATE_IN_PROGRESS AWS::EC2::Instance`)

if (config.concurrentEdit) {
  const { SecretsManagerClient, GetSecretValueCommand, PutSecretValueCommand } =
    await import('@aws-sdk/client-secrets-manager')
  const client = new SecretsManagerClient({})
  const { secretId, key, value } = config.concurrentEdit
  const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }))
  const edited = { ...JSON.parse(current.SecretString ?? '{}'), [key]: value }
  await client.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(edited) })
  )
  client.destroy()
}

const known = config.stacks?.[stack]
if (config.fail || !known) {
  const message =
    config.fail?.message ?? `No stack found matching '${stack}'. Use "list" to print manifest`
  process.stderr.write(
    `\n ❌  ${stack} failed: Error: ${message}\n    at deployStack (aws-cdk/lib/index.js:1:1)\n\n❌ Deployment failed: Error: ${message}\n`
  )
  process.exit(config.fail?.exitCode ?? 1)
}

const outputs = known.outputs ?? {}
// The real CLI prints no changeset line for a stack whose template and parameters are unchanged.
log.write(
  known.unchanged
    ? `\n ✅  ${stack} (no changes)\n\n✨  Deployment time: 0.31s\n\n`
    : `${stack}: creating CloudFormation changeset...\n\n ✅  ${stack}\n\n✨  Deployment time: 1.5s\n\n`
)
// The real CLI's outputs block (aws-cdk-cli, packages/aws-cdk/lib/cli/cdk-toolkit.ts, deploy()):
//   info('Outputs:')
//   for (const name of Object.keys(deployResult.outputs).sort())
//     info(`${chalk.cyan(stack.id)}.${chalk.cyan(name)} = ${chalk.underline(chalk.cyan(value))}`)
//   info('Stack ARN:')
// in colour where chalk sees a terminal or FORCE_COLOR (chalk's level 1: cyan is ESC[36m ... ESC[39m,
// underline ESC[4m ... ESC[24m).
const colour = Boolean(process.env.FORCE_COLOR) && process.env.FORCE_COLOR !== '0'
const cyan = (/** @type {string} */ text) => (colour ? `\u001b[36m${text}\u001b[39m` : text)
const underline = (/** @type {string} */ text) => (colour ? `\u001b[4m${text}\u001b[24m` : text)
if (Object.keys(outputs).length > 0) {
  log.write('Outputs:\n')
  for (const name of Object.keys(outputs).sort())
    log.write(`${cyan(stack)}.${cyan(name)} = ${underline(cyan(outputs[name]))}\n`)
}
log.write(
  `Stack ARN:\narn:aws:cloudformation:us-east-1:123456789012:stack/${stack}/0a1b2c3d\n\n✨  Total time: 1.9s\n\n`
)
const outputsFile = option('--outputs-file') ?? option('-O')
if (outputsFile && config.outputsFile !== 'missing') {
  const name = config.outputsFile === 'other-stack' ? `${stack}-Other` : stack
  writeFileSync(outputsFile, JSON.stringify({ [name]: outputs }, null, 2))
}
