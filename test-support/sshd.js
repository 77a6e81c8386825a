// A real OpenSSH server on 127.0.0.1 for integration tests, with stand-ins for `sudo` and
// `systemctl` that record how they were called. Plain JavaScript so that shell scripts can run it
// with `node` as well as jest. Test support only: nothing under src/ may import it.
//
// Needs root (it starts sshd and creates the test user) and /usr/sbin/sshd.

import { execFile, spawn } from 'node:child_process'
import { constants, readFileSync } from 'node:fs'
import {
  access,
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  truncate,
  writeFile
} from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

const SSHD = '/usr/sbin/sshd'
/** The account every fixture logs in as; each fixture has its own keys, stand-ins and records. */
export const TEST_USER = 'sdfixture'
// StrictModes refuses an AuthorizedKeysFile below a group- or world-writable directory such as
// /tmp, so fixtures live under a root-owned 0755 directory instead.
const FIXTURE_ROOT = '/run/secrets-deploy-sshd-fixtures'
// Separates recorded arguments: a character no test argument contains.
const FIELD = '\x1f'
const HANG_SECONDS = 300

/**
 * How the stand-ins behave; every field falls back to a successful restart of an active unit.
 * @typedef {object} Behaviour
 * @property {number} [restartExitCode] exit code of `systemctl restart`
 * @property {string} [restartStderr] what `systemctl restart` writes to stderr
 * @property {string} [activeState] what `systemctl is-active` prints; anything but "active" exits 3
 * @property {'restart' | 'is-active'} [hangOn] the verb that prints "hanging" and then never ends
 */

/**
 * @typedef {object} SshdOptions
 * @property {number} [startDelayMs] start sshd only after this delay; until then the port refuses
 * @property {string} [authorizedKey] public key line to authorize instead of the generated client key
 */

/**
 * @typedef {object} SshdFixture
 * @property {string} host
 * @property {number} port
 * @property {string} user
 * @property {string} clientPrivateKey OpenSSH ed25519 private key, not encrypted
 * @property {string} hostPublicKey the host key's `.pub` line
 * @property {string} hostFingerprint `SHA256:...` as `ssh-keygen -lf` prints it
 * @property {string} callsFile where the stand-ins record their calls
 * @property {() => string[][]} calls recorded calls, oldest first: program name, then arguments
 * @property {() => string} serverLog what sshd logged (LogLevel VERBOSE), e.g. "Accepted publickey"
 * @property {() => Promise<void>} clearCalls forgets the calls recorded so far
 * @property {(behaviour: Behaviour) => Promise<void>} setBehaviour replaces the current behaviour
 * @property {Promise<void>} listening settles once the port accepts connections
 * @property {() => Promise<void>} stop kills sshd and anything left hanging, removes the files
 */

/**
 * Generates an ed25519 key pair with ssh-keygen in a temporary directory, which it removes again.
 * @param {{ passphrase?: string, comment?: string }} [options]
 * @returns {Promise<{ privateKey: string, publicKey: string }>}
 */
export async function generateKeyPair(options = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-fixture-key-'))
  try {
    const file = path.join(dir, 'key')
    const comment = options.comment ?? 'sshd-fixture'
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      options.passphrase ?? '',
      '-C',
      comment,
      '-f',
      file
    ])
    return {
      privateKey: await readFile(file, 'utf8'),
      publicKey: (await readFile(`${file}.pub`, 'utf8')).trim()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The fingerprint `ssh-keygen -lf` prints for a public key file.
 * @param {string} publicKeyFile
 * @returns {Promise<string>}
 */
export async function keygenFingerprint(publicKeyFile) {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', publicKeyFile])
  const fingerprint = stdout.split(' ')[1]
  if (!fingerprint?.startsWith('SHA256:'))
    throw new Error(`Unexpected ssh-keygen -lf output: ${stdout}`)
  return fingerprint
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now.
 * @returns {Promise<number>}
 */
export async function freePort() {
  const server = net.createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const address = server.address()
  await new Promise(resolve => server.close(() => resolve(undefined)))
  if (address === null || typeof address === 'string') throw new Error('No TCP port was assigned')
  return address.port
}

/**
 * Starts sshd on 127.0.0.1 and a free port. Several fixtures may run at once, also in parallel
 * jest workers: they share only the test user.
 * @param {SshdOptions} [options]
 * @returns {Promise<SshdFixture>}
 */
export async function startSshd(options = {}) {
  await requireSshd()
  await mkdir('/run/sshd', { recursive: true })
  await ensureTestUser()
  await mkdir(FIXTURE_ROOT, { recursive: true, mode: 0o755 })
  const dir = await mkdtemp(path.join(FIXTURE_ROOT, 'sshd-'))
  await chmod(dir, 0o755)

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let sshd
  /** @type {NodeJS.Timeout | undefined} */
  let delayedStart
  let stopped = false
  const killOnExit = () => sshd?.kill('SIGKILL')
  const files = fixtureFiles(dir)

  const stop = async () => {
    stopped = true
    clearTimeout(delayedStart)
    process.off('exit', killOnExit)
    if (sshd && sshd.exitCode === null && sshd.signalCode === null) {
      const exited = new Promise(resolve => sshd?.once('exit', resolve))
      sshd.kill('SIGTERM')
      await exited
    }
    await killHungStandIns(files.hungPids)
    await rm(dir, { recursive: true, force: true })
  }

  try {
    const hostKey = path.join(dir, 'ssh_host_ed25519_key')
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'sshd-fixture-host',
      '-f',
      hostKey
    ])
    const client = await generateKeyPair({ comment: 'sshd-fixture-client' })
    const port = await freePort()
    await writeStandIns(files)
    await writeFile(files.authorizedKeys, `${options.authorizedKey ?? client.publicKey}\n`, {
      mode: 0o644
    })
    await writeFile(files.config, sshdConfig(port, hostKey, files), { mode: 0o644 })
    await run(SSHD, ['-t', '-f', files.config])

    const launch = async () => {
      if (stopped) return
      sshd = spawn(SSHD, ['-D', '-f', files.config, '-E', files.log], { stdio: 'ignore' })
      process.once('exit', killOnExit)
      await waitForPort(port, sshd, files.log)
    }
    /** @type {Promise<void>} */
    let listening
    if (options.startDelayMs === undefined) {
      listening = launch()
      await listening
    } else {
      listening = new Promise((resolve, reject) => {
        delayedStart = setTimeout(() => launch().then(resolve, reject), options.startDelayMs)
      })
      // A test that never awaits `listening` must not see an unhandled rejection from it.
      listening.catch(() => {})
    }

    return {
      host: '127.0.0.1',
      port,
      user: TEST_USER,
      clientPrivateKey: client.privateKey,
      hostPublicKey: (await readFile(`${hostKey}.pub`, 'utf8')).trim(),
      hostFingerprint: await keygenFingerprint(`${hostKey}.pub`),
      callsFile: files.calls,
      calls: () => readCalls(files.calls),
      serverLog: () => readFileSync(files.log, 'utf8'),
      clearCalls: () => truncate(files.calls),
      setBehaviour: behaviour => writeFile(files.behaviour, behaviourScript(behaviour)),
      listening,
      stop
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** @param {string} dir */
function fixtureFiles(dir) {
  return {
    dir,
    bin: path.join(dir, 'bin'),
    config: path.join(dir, 'sshd_config'),
    log: path.join(dir, 'sshd.log'),
    authorizedKeys: path.join(dir, 'authorized_keys'),
    calls: path.join(dir, 'calls'),
    behaviour: path.join(dir, 'behaviour.sh'),
    hungPids: path.join(dir, 'hung.pids')
  }
}

async function requireSshd() {
  try {
    await access(SSHD, constants.X_OK)
  } catch {
    throw new Error(
      `${SSHD} is missing. Install OpenSSH's server: ` +
        'apt-get update && apt-get install -y --no-install-recommends openssh-server'
    )
  }
}

/** Creates the test user if needed and unlocks it: with UsePAM no, sshd refuses locked accounts. */
async function ensureTestUser() {
  if (!(await userExists())) {
    try {
      await run('useradd', ['--create-home', '--shell', '/bin/sh', TEST_USER])
    } catch (error) {
      // Another jest worker may have created it at the same moment.
      if (!(await userExists())) throw error
    }
  }
  for (let attempt = 1; (await shadowPassword()).startsWith('!'); attempt++) {
    try {
      await run('usermod', ['-p', '*', TEST_USER])
    } catch (error) {
      // usermod fails while a parallel worker holds the lock on /etc/shadow.
      if (attempt >= 20) throw error
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

async function userExists() {
  try {
    await run('id', ['-u', TEST_USER])
    return true
  } catch {
    return false
  }
}

async function shadowPassword() {
  const { stdout } = await run('getent', ['shadow', TEST_USER])
  return stdout.split(':')[1] ?? ''
}

/**
 * @param {number} port
 * @param {string} hostKey
 * @param {ReturnType<typeof fixtureFiles>} files
 */
function sshdConfig(port, hostKey, files) {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${path.join(files.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${files.authorizedKeys}`,
    `AllowUsers ${TEST_USER}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes yes',
    'PrintMotd no',
    'LogLevel VERBOSE',
    // Per fixture, unlike ~/.ssh/environment, so parallel fixtures keep their own stand-ins.
    `SetEnv PATH=${files.bin}:/usr/bin:/bin`,
    ''
  ].join('\n')
}

/** @param {ReturnType<typeof fixtureFiles>} files */
async function writeStandIns(files) {
  await mkdir(files.bin, { mode: 0o755 })
  const prelude = [
    '#!/bin/sh',
    `record() { { printf '%s${FIELD}' "\${0##*/}" "$@"; printf '\\n'; } >> ${shellQuote(files.calls)}; }`,
    `hang() { echo hanging; echo $$ >> ${shellQuote(files.hungPids)}; exec sleep ${HANG_SECONDS}; }`,
    'record "$@"',
    ''
  ].join('\n')
  // sudo: drops -n and runs the command as the same user, so systemctl is found on PATH again.
  const sudo = `${prelude}
while [ $# -gt 0 ]; do
  case "$1" in
    -n) shift ;;
    --) shift; break ;;
    -*) echo "sudo stand-in: unsupported option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
exec "$@"
`
  const systemctl = `${prelude}
. ${shellQuote(files.behaviour)}
case "$1" in
  restart)
    [ "$HANG_ON" = restart ] && hang
    [ -n "$RESTART_STDERR" ] && printf '%s\\n' "$RESTART_STDERR" >&2
    exit "$RESTART_EXIT_CODE" ;;
  is-active)
    [ "$HANG_ON" = is-active ] && hang
    echo "$ACTIVE_STATE"
    [ "$ACTIVE_STATE" = active ] && exit 0
    exit 3 ;;
  *) echo "systemctl stand-in: unsupported verb $1" >&2; exit 1 ;;
esac
`
  await writeFile(path.join(files.bin, 'sudo'), sudo, { mode: 0o755 })
  await writeFile(path.join(files.bin, 'systemctl'), systemctl, { mode: 0o755 })
  await writeFile(files.behaviour, behaviourScript({}), { mode: 0o644 })
  // The stand-ins run as the test user and append to these.
  for (const file of [files.calls, files.hungPids]) {
    await writeFile(file, '', { mode: 0o644 })
    await chown(file, ...(await testUserIds()))
  }
}

/** @returns {Promise<[number, number]>} */
async function testUserIds() {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async flag => Number((await run('id', [flag, TEST_USER])).stdout.trim()))
  )
  return [uid, gid]
}

/** @param {Behaviour} behaviour */
function behaviourScript(behaviour) {
  const exitCode = behaviour.restartExitCode ?? 0
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
    throw new Error(`restartExitCode must be an integer from 0 to 255, not ${exitCode}`)
  }
  return [
    `RESTART_EXIT_CODE=${exitCode}`,
    `RESTART_STDERR=${shellQuote(behaviour.restartStderr ?? '')}`,
    `ACTIVE_STATE=${shellQuote(behaviour.activeState ?? 'active')}`,
    `HANG_ON=${shellQuote(behaviour.hangOn ?? '')}`,
    ''
  ].join('\n')
}

/** @param {string} value */
function shellQuote(value) {
  return `'${value.replaceAll("'", "'\\''")}'`
}

/**
 * @param {string} file
 * @returns {string[][]}
 */
function readCalls(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(line => line !== '')
    .map(line => line.split(FIELD).slice(0, -1))
}

/**
 * Resolves once the port accepts a TCP connection; fails with sshd's log if sshd exits first.
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} sshd
 * @param {string} logFile
 */
async function waitForPort(port, sshd, logFile) {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (sshd.exitCode !== null || sshd.signalCode !== null) {
      const log = await readFile(logFile, 'utf8').catch(() => '')
      throw new Error(`sshd exited (${sshd.exitCode ?? sshd.signalCode}) before listening:\n${log}`)
    }
    if (await accepts(port)) return
    if (Date.now() > deadline)
      throw new Error(`sshd did not listen on 127.0.0.1:${port} within 10 s`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/**
 * Whether something accepts TCP connections on 127.0.0.1:port.
 * @param {number} port
 * @returns {Promise<boolean>}
 */
export function accepts(port) {
  return new Promise(resolve => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * Stand-ins told to hang outlive the SSH session that started them; end them with the fixture.
 * @param {string} pidFile
 */
async function killHungStandIns(pidFile) {
  const pids = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n').filter(Boolean)
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {
      // Already gone, e.g. ended by the client's signal request.
    }
  }
}
