#!/usr/bin/env node
// Every local stand-in a full run of the action needs, as one program: the self-test workflow, the
// local demo (scripts/demo.js) and the test suite (__tests__/stand-ins.test.ts) all start them
// here, so that none of them can drift from the others unnoticed.
//
//   - the local AWS endpoint (Secrets Manager + EC2), seeded with the reference document's two
//     example secrets and one running instance at 127.0.0.1, whose console output carries the SSH
//     server's host key the way cloud-init prints it;
//   - a CDK app directory for the CDK CLI stand-in, whose stack output names that instance;
//   - an SSH server on 127.0.0.1 (test-support/sshd.js), logging in the current user: OpenSSH's
//     sshd run unprivileged (`--ssh openssh`), the in-process ssh2 server (`--ssh embedded`, no
//     OpenSSH needed), or OpenSSH's where it is installed and else the embedded one (`--ssh auto`;
//     REQUIRE_OPENSSH=1 makes a missing sshd an error).
//
// Commands:
//   serve --ssh embedded|openssh|auto [--github-env F] [--github-output F]
//       Runs in the foreground until SIGTERM or SIGINT, then removes everything it made. Once
//       ready it appends the environment a step needs (AWS_ENDPOINT_URL, AWS_REGION, stand-in keys,
//       STAND_INS_CONTROL_URL, STAND_INS_PID) to --github-env and the action's inputs (stack,
//       working-directory, cdk-command, ssh-private-key, ssh-port) to --github-output, in the
//       runner's file-command format (give $GITHUB_ENV and $GITHUB_OUTPUT); what has no file is
//       printed instead. (Not "--env-file": Node 20 takes that option for itself even after the
//       script name.)
//   start <serve's options> [--log-file F]
//       Runs `serve` in the background and returns once the stand-ins are ready.
//   check
//       After a run: the deployment secret's ec2_host is 127.0.0.1 with every other key intact,
//       and the service was restarted; with $ACTION_OUTPUTS (the step's outputs as JSON), also the
//       outputs. Reads $STAND_INS_CONTROL_URL. Exits 1, naming each problem, when anything is off.
//   stop
//       Sends SIGTERM to $STAND_INS_PID and waits until it has exited.
import { spawn } from 'node:child_process'
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { LocalAws } from './aws-endpoint.js'
import { createCdkApp } from './cdk-app.js'
import { cloudInitConsole } from './cloud-init.js'
import { EXAMPLE_APP, EXAMPLE_DEPLOYMENT } from './example-secrets.js'
import { formatFileCommand } from './runner.js'
import { startSshd } from './sshd.js'

const THIS_FILE = fileURLToPath(import.meta.url)

const STACK = 'FastAPIEC2Stack'
const INSTANCE_ID = 'i-0123456789abcdef0'
const ADDRESS = '127.0.0.1'
const DEPLOYMENT_SECRET = 'FastAPIDeploymentSecrets'
const APP_SECRET = 'FastAPIAppSecrets'
/** The action's default unit (input "service"). */
const SERVICE = 'fastapi'
const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 15_000

/**
 * @typedef {'embedded' | 'openssh' | 'auto'} SshKind
 *
 * @typedef {object} StandInsState what `check` needs to know, served at STAND_INS_CONTROL_URL/state
 * @property {string} instanceId
 * @property {string} address
 * @property {string} service
 * @property {string} deploymentSecretId
 * @property {{ versionId: string, values: Record<string, string> }} seeded the deployment secret
 *   as it was before the run
 * @property {{ versionId: string, values: Record<string, unknown> }} current the deployment
 *   secret's AWSCURRENT version now
 * @property {string[][]} calls commands the SSH server ran: program name, then arguments
 *
 * @typedef {object} StandIns
 * @property {Record<string, string>} env the environment for the action's step
 * @property {Record<string, string>} inputs the action's inputs (those without a fitting default)
 * @property {{ aws: string, ssh: string, sshUser: string, hostFingerprint: string, cdkApp: string }} endpoints
 * @property {() => StandInsState} state
 * @property {() => Promise<void>} stop stops every stand-in and removes what it made; idempotent
 */

/**
 * Starts every stand-in. On failure, whatever had started is stopped again.
 * @param {{ ssh: SshKind }} options
 * @returns {Promise<StandIns>}
 */
export async function startStandIns(options) {
  /** @type {(() => unknown)[]} */
  const cleanups = []
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    // Last started, first stopped; one failing cleanup must not keep the others from running.
    const results = await Promise.allSettled(cleanups.reverse().map(async cleanup => cleanup()))
    const failure = results.find(result => result.status === 'rejected')
    if (failure) throw failure.reason
  }

  try {
    const ssh = await startSshd(options.ssh === 'auto' ? {} : { server: options.ssh })
    cleanups.push(() => ssh.stop())

    const seededValues = { ...EXAMPLE_DEPLOYMENT, ec2_user: ssh.user }
    const aws = new LocalAws()
    const seededVersionId = aws.putSecret(DEPLOYMENT_SECRET, seededValues)
    aws.putSecret(APP_SECRET, EXAMPLE_APP)
    aws.addInstance({
      instanceId: INSTANCE_ID,
      publicIp: ADDRESS,
      privateIp: ADDRESS,
      tags: { 'aws:cloudformation:stack-name': STACK },
      consoleOutput: cloudInitConsole([ssh.hostPublicKey])
    })
    await aws.start()
    cleanups.push(() => aws.stop())

    const app = createCdkApp(
      { stacks: { [STACK]: { outputs: { InstanceId: INSTANCE_ID } } } },
      { node: process.execPath, record: false }
    )
    cleanups.push(() => app.remove())

    /** @returns {StandInsState} */
    const state = () => {
      const current = aws.secretValue(DEPLOYMENT_SECRET)
      return {
        instanceId: INSTANCE_ID,
        address: ADDRESS,
        service: SERVICE,
        deploymentSecretId: DEPLOYMENT_SECRET,
        seeded: { versionId: seededVersionId, values: seededValues },
        current: { versionId: current.versionId, values: current.json ?? {} },
        calls: ssh.calls()
      }
    }
    const control = await startControlServer(state)
    cleanups.push(() => control.close())

    return {
      env: { ...aws.environment(), STAND_INS_CONTROL_URL: control.url },
      inputs: {
        stack: STACK,
        'working-directory': app.dir,
        'cdk-command': app.command,
        'ssh-private-key': ssh.clientPrivateKey,
        'ssh-port': String(ssh.port)
      },
      endpoints: {
        aws: aws.url,
        ssh: `${ssh.host}:${ssh.port} (${ssh.server === 'openssh' ? 'OpenSSH sshd' : 'embedded ssh2 server'})`,
        sshUser: ssh.user,
        hostFingerprint: ssh.hostFingerprint,
        cdkApp: app.dir
      },
      state,
      stop
    }
  } catch (error) {
    await stop().catch(() => {})
    throw error
  }
}

/**
 * A loopback HTTP endpoint answering GET /state, for `check` in another process or step.
 * @param {() => StandInsState} state
 */
async function startControlServer(state) {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/state') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(state()))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise(resolve => server.close(() => resolve(undefined)))
    }
  }
}

/**
 * Whether a run did what the self-test expects. Messages name keys, never secret values.
 * @param {StandInsState} state
 * @param {Record<string, string>} [outputs] the action step's outputs
 * @returns {{ passed: string[], failed: string[] }}
 */
export function checkRun(state, outputs) {
  /** @type {string[]} */
  const passed = []
  /** @type {string[]} */
  const failed = []
  /** @param {boolean} ok @param {string} good @param {string} bad */
  const expect = (ok, good, bad) => (ok ? passed : failed).push(ok ? good : bad)
  const secret = `the deployment secret "${state.deploymentSecretId}"`
  const { seeded, current, address } = state

  expect(
    current.values.ec2_host === address,
    `${secret} has ec2_host ${address}`,
    `${secret} has ec2_host ${JSON.stringify(current.values.ec2_host)}, not ${address}: the address was not written back`
  )
  const otherKeys = Object.keys(seeded.values).filter(key => key !== 'ec2_host')
  const changed = otherKeys.filter(key => current.values[key] !== seeded.values[key])
  const added = Object.keys(current.values).filter(key => !(key in seeded.values))
  expect(
    changed.length === 0 && added.length === 0,
    `${secret} kept every other key (${otherKeys.join(', ')})`,
    `${secret} lost or changed keys: ${[...changed, ...added.map(key => `${key} (added)`)].join(', ')}`
  )
  expect(
    current.versionId !== seeded.versionId,
    `${secret} has a new current version, ${current.versionId}`,
    `${secret} is still at the seeded version ${seeded.versionId}`
  )

  const restartAt = state.calls.findIndex(call =>
    sameCall(call, ['systemctl', 'restart', '--', state.service])
  )
  const checkedAfter = state.calls
    .slice(restartAt + 1)
    .some(call => sameCall(call, ['systemctl', 'is-active', '--', state.service]))
  expect(
    restartAt >= 0 && checkedAfter,
    `the SSH server recorded "systemctl restart" and then "systemctl is-active" of ${state.service}`,
    `the SSH server recorded no restart of ${state.service} followed by "systemctl is-active"; it recorded: ${
      state.calls.map(call => call.join(' ')).join('; ') || 'nothing'
    }`
  )

  if (outputs) {
    /** @type {Record<string, string>} */
    const expected = {
      ...Object.fromEntries(otherKeys.map(key => [key, seeded.values[key]])),
      ec2_host: address,
      'instance-id': state.instanceId,
      'instance-ip': address,
      'secret-version-id': current.versionId,
      restarted: 'true'
    }
    const wrong = Object.keys(expected).filter(name => outputs[name] !== expected[name])
    expect(
      wrong.length === 0,
      `the step outputs ${Object.keys(expected).join(', ')} are as expected`,
      `the step outputs ${wrong.join(', ')} are not as expected (restarted: ${JSON.stringify(outputs.restarted)})`
    )
  }
  return { passed, failed }
}

/** @param {string[]} call @param {string[]} expected */
function sameCall(call, expected) {
  return call.length === expected.length && call.every((part, i) => part === expected[i])
}

// ---- command line -------------------------------------------------------------------------------

const USAGE = `Usage: node test-support/stand-ins.js <command> [options]
  serve --ssh embedded|openssh|auto [--github-env F] [--github-output F]   in the foreground
  start --ssh embedded|openssh|auto [--github-env F] [--github-output F] [--log-file F]   in the background
  check   (reads $STAND_INS_CONTROL_URL, and $ACTION_OUTPUTS if set)
  stop    (reads $STAND_INS_PID)`

class UsageError extends Error {}

/** @param {string[]} args */
async function main(args) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ssh: { type: 'string' },
      'github-env': { type: 'string' },
      'github-output': { type: 'string' },
      'log-file': { type: 'string' }
    }
  })
  const [command, ...extra] = positionals
  if (extra.length > 0) throw new UsageError(`Unexpected arguments: ${extra.join(' ')}`)
  switch (command) {
    case 'serve':
      return serve(sshKind(values.ssh), values)
    case 'start':
      sshKind(values.ssh)
      return startInBackground(args.slice(1), values['log-file'])
    case 'check':
      return check()
    case 'stop':
      return stopServing(process.env.STAND_INS_PID)
    default:
      throw new UsageError(command ? `Unknown command "${command}"` : 'No command given')
  }
}

/** @param {string | undefined} value @returns {SshKind} */
function sshKind(value) {
  if (value === 'embedded' || value === 'openssh' || value === 'auto') return value
  throw new UsageError(
    `--ssh must be embedded, openssh or auto, not ${JSON.stringify(value ?? '')}`
  )
}

/**
 * @param {SshKind} ssh
 * @param {{ 'github-env'?: string, 'github-output'?: string }} files
 */
async function serve(ssh, files) {
  const log = (/** @type {string} */ line) => process.stderr.write(`stand-ins: ${line}\n`)
  let standIns
  try {
    standIns = await startStandIns({ ssh })
  } catch (error) {
    process.send?.({ error: error instanceof Error ? error.message : String(error) })
    throw error
  }
  let stopping = false
  const shutdown = (/** @type {string} */ signal) => {
    if (stopping) return
    stopping = true
    log(`${signal}: stopping`)
    standIns.stop().then(
      () => process.exit(0),
      error => {
        log(`stopping failed: ${error instanceof Error ? error.message : error}`)
        process.exit(1)
      }
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)

  const env = { ...standIns.env, STAND_INS_PID: String(process.pid) }
  // The runner echoes a step's inputs in its log; a throwaway key, but a key all the same.
  let printed =
    process.env.GITHUB_ACTIONS === 'true'
      ? standIns.inputs['ssh-private-key']
          .split('\n')
          .filter(line => line.trim() !== '')
          .map(line => `::add-mask::${line}\n`)
          .join('')
      : ''
  if (files['github-env']) appendFileSync(files['github-env'], formatFileCommand(env))
  else printed += `# environment\n${formatFileCommand(env)}`
  if (files['github-output'])
    appendFileSync(files['github-output'], formatFileCommand(standIns.inputs))
  else printed += `# inputs of the action\n${formatFileCommand(standIns.inputs)}`
  const e = standIns.endpoints
  const summary =
    `Stand-ins ready (pid ${process.pid}): AWS endpoint ${e.aws}, SSH ${e.ssh} as ${e.sshUser}, ` +
    `CDK app ${e.cdkApp}.`
  if (process.send) {
    process.send({ ready: true, summary, printed })
  } else {
    process.stdout.write(`${summary}\n${printed}`)
  }
  log(summary)
}

/**
 * Runs `serve` detached, with its output in the log file (or nowhere), and returns once it
 * reports ready over an IPC channel, which is then closed so that this process can exit.
 * @param {string[]} serveArgs the options given to `start`
 * @param {string | undefined} logFile
 */
async function startInBackground(serveArgs, logFile) {
  const logFd = logFile ? openSync(logFile, 'a') : 'ignore'
  const child = spawn(process.execPath, [THIS_FILE, 'serve', ...serveArgs], {
    detached: true,
    stdio: ['ignore', logFd, logFd, 'ipc']
  })
  if (typeof logFd === 'number') closeSync(logFd)
  const seeLog = logFile ? ` (its log: ${logFile})` : ''
  /** @type {{ ready?: boolean, error?: string, summary?: string, printed?: string }} */
  const message = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      reject(new Error(`The stand-ins were not ready within ${READY_TIMEOUT_MS / 1000} s${seeLog}`))
    }, READY_TIMEOUT_MS)
    child.once('message', answer => {
      clearTimeout(timer)
      resolve(/** @type {any} */ (answer))
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`The stand-ins exited (${code ?? signal}) before they were ready${seeLog}`))
    })
  })
  child.removeAllListeners()
  child.disconnect()
  child.unref()
  if (!message.ready) throw new Error(`The stand-ins could not start: ${message.error}${seeLog}`)
  process.stdout.write(`${message.summary}\n${message.printed ?? ''}`)
}

async function check() {
  const controlUrl = process.env.STAND_INS_CONTROL_URL
  if (!controlUrl) {
    throw new UsageError('STAND_INS_CONTROL_URL is not set: start the stand-ins first.')
  }
  /** @type {StandInsState} */
  let state
  try {
    const response = await fetch(`${controlUrl}/state`)
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    state = /** @type {StandInsState} */ (await response.json())
  } catch (error) {
    throw new Error(
      `Could not ask the stand-ins at ${controlUrl} for their state (${error instanceof Error ? error.message : error}): are they still running?`,
      { cause: error }
    )
  }
  const outputs = process.env.ACTION_OUTPUTS ? JSON.parse(process.env.ACTION_OUTPUTS) : undefined
  const { passed, failed } = checkRun(state, outputs)
  for (const line of passed) process.stdout.write(`✓ ${line}\n`)
  for (const line of failed) process.stdout.write(`✗ ${line}\n`)
  if (!outputs) process.stdout.write('(ACTION_OUTPUTS is not set: the outputs were not checked)\n')
  if (failed.length > 0) {
    process.stderr.write(`The self-test failed: ${failed.length} check(s) did not pass.\n`)
    process.exitCode = 1
  } else {
    process.stdout.write('The self-test passed.\n')
  }
}

/** @param {string | undefined} pidText */
async function stopServing(pidText) {
  if (!pidText) {
    process.stdout.write('No stand-ins to stop: STAND_INS_PID is not set.\n')
    return
  }
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 1)
    throw new UsageError(`STAND_INS_PID is not a pid: ${pidText}`)
  if (!isRunning(pid)) {
    process.stdout.write(`The stand-ins (pid ${pid}) are not running.\n`)
    return
  }
  // A pid can be reused: signal it only if it is still this program.
  const commandLine = `/proc/${pid}/cmdline`
  if (existsSync(commandLine) && !readFileSync(commandLine, 'utf8').includes('stand-ins.js')) {
    throw new Error(`Process ${pid} is not the stand-ins; not stopping it.`)
  }
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (isRunning(pid)) {
    if (Date.now() > deadline) {
      throw new Error(
        `The stand-ins (pid ${pid}) did not exit within ${STOP_TIMEOUT_MS / 1000} s of SIGTERM.`
      )
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  process.stdout.write(`Stopped the stand-ins (pid ${pid}).\n`)
}

/** Alive and not a zombie: an exited process whose parent has not reaped it is as good as gone. */
function isRunning(/** @type {number} */ pid) {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = `/proc/${pid}/stat`
  if (!existsSync(stat)) return true
  // The state is the first field after the parenthesised command name.
  const afterName = readFileSync(stat, 'utf8').split(') ')[1] ?? ''
  return !afterName.startsWith('Z')
}

if (process.argv[1] === THIS_FILE) {
  main(process.argv.slice(2)).catch(error => {
    process.stderr.write(
      error instanceof UsageError
        ? `${error.message}\n${USAGE}\n`
        : `${error instanceof Error ? error.message : error}\n`
    )
    process.exit(error instanceof UsageError ? 2 : 1)
  })
}
