// An SSH server on 127.0.0.1 for integration tests, with stand-ins for `sudo` and `systemctl`
// that record how they were called. Plain JavaScript so that shell scripts can run it with `node`
// as well as jest. Test support only: nothing under src/ may import it.
//
// Two servers, one interface:
//   - OpenSSH's sshd (SSHD_PATH, /usr/sbin/sshd by default), run unprivileged as the current user
//     with a config, host key and authorized keys of its own in a temporary directory;
//   - where that sshd is missing, the in-process ssh2 server (embedded-sshd.js), which runs each
//     command through /bin/sh -c with the same environment.
// Either way the login user is the current user, nothing is created outside the temporary
// directory (as root, sshd also needs its privilege separation directory, /run/sshd), and
// nothing keeps running after stop(). REQUIRE_OPENSSH=1 makes a missing sshd an error.

import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { constants, accessSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import ssh2 from 'ssh2'
import { startEmbeddedSshd } from './embedded-sshd.js'
import { withOwnDirectory } from './own-directory.js'

const run = promisify(execFile)

const DEFAULT_SSHD = '/usr/sbin/sshd'
const INSTALL =
  'apt-get install --no-install-recommends openssh-server (or set SSHD_PATH to an sshd)'
// Separates recorded arguments: a character no test argument contains.
const FIELD = '\x1f'
const HANG_SECONDS = 300
// Runs sshd ("$2" and on) in the foreground of a shell that stops it on SIGTERM, and also when the
// process that started it ("$1") is gone: a test run that is killed (Ctrl-C ends jest's workers
// without their exit handlers) must not leave an sshd listening. Exits with sshd's status.
const WATCHDOG = `parent=$1; shift
"$@" & sshd=$!
trap 'kill $sshd 2>/dev/null; wait $sshd; exit 0' TERM
while kill -0 "$parent" 2>/dev/null && kill -0 $sshd 2>/dev/null; do sleep 1 & wait $!; done
kill $sshd 2>/dev/null
wait $sshd`

/**
 * How the stand-ins behave; every field falls back to a successful restart of an active unit.
 * @typedef {object} Behaviour
 * @property {number} [restartExitCode] exit code of `systemctl restart`
 * @property {string} [restartStderr] what `systemctl restart` writes to stderr
 * @property {string} [activeState] what `systemctl is-active` prints; anything but "active" exits 3
 * @property {'restart' | 'is-active'} [hangOn] the verb that prints "hanging" and then never ends
 * @property {string} [onRestart] a shell command `systemctl restart` runs before it exits, as the
 *   service's start (ExecStart) does, e.g. read its secret; its output is discarded, and its exit
 *   code decides what `systemctl is-active` prints until the next restart: "active", or "failed"
 * @property {string} [status] what `systemctl status` prints (it exits 3, as for a failed unit);
 *   by default a failed unit's status (FAILED_STATUS)
 * @property {string} [journal] what `journalctl` prints to a reader allowed to read the journal
 * @property {number} [journalRepeat] print `journal` this many times (a journal of many MiB)
 * @property {boolean} [sudoRefusesJournal] `sudo -n journalctl` fails as sudo does when no rule
 *   allows it ("a password is required"); the restart through sudo still works
 * @property {boolean} [journalUnreadable] plain `journalctl` (not through sudo) prints what
 *   journalctl prints to a user outside the journal's groups: the hint and no entries
 */

/**
 * @typedef {'openssh' | 'embedded'} SshServerKind
 */

/**
 * @typedef {object} SshdOptions
 * @property {number} [startDelayMs] start the server only after this delay; until then the port
 *   refuses connections
 * @property {string} [authorizedKey] public key line to authorize instead of the generated client key
 * @property {SshServerKind} [server] which server to run; by default OpenSSH's where it is
 *   installed, else the embedded one (see sshServerChoice)
 * @property {string} [listenAddress] the loopback address to listen on, 127.0.0.1 by default: the
 *   action reaches every instance of a fleet on one port (input "ssh-port"), so fixtures standing
 *   for several instances share a port, each on its own address of 127.0.0.0/8, which never
 *   leaves the machine
 * @property {number} [port] the port, a free one by default
 * @property {string} [ownDirectory] an existing directory that this server's sessions see as one
 *   of their own (a private bind mount, in a mount namespace of the server's: needs root), as
 *   each instance of a fleet has its own disk; the fixture's `ownDirectoryFiles` is what it holds
 * @property {string[]} [extraConfig] more sshd_config lines (OpenSSH only), e.g. "AllowTcpForwarding no"
 */

/**
 * @typedef {object} SshdFixture
 * @property {SshServerKind} server which server runs
 * @property {string} host
 * @property {number} port
 * @property {string} user the login user: the current user
 * @property {string} clientPrivateKey OpenSSH ed25519 private key, not encrypted
 * @property {string} hostPublicKey the host key's `.pub` line
 * @property {string} hostFingerprint `SHA256:...` as `ssh-keygen -lf` prints it
 * @property {string} callsFile where the stand-ins record their calls
 * @property {() => string[][]} calls recorded calls, oldest first: program name, then arguments
 * @property {() => string} serverLog what the server logged, in sshd's words (LogLevel VERBOSE),
 *   e.g. "Accepted publickey"
 * @property {() => Promise<void>} clearCalls forgets the calls recorded so far
 * @property {(behaviour: Behaviour) => Promise<void>} setBehaviour replaces the current behaviour
 * @property {Promise<void>} listening settles once the port accepts connections
 * @property {string} [ownDirectoryFiles] with option ownDirectory: where its files really are
 * @property {() => Promise<void>} stop stops the server and anything left hanging, removes the files
 */

/**
 * Which server startSshd runs by default, and why: OpenSSH's sshd at SSHD_PATH (default
 * /usr/sbin/sshd) if it is executable, else the embedded one, unless REQUIRE_OPENSSH=1.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {{ server: SshServerKind, sshd: string, description: string }}
 */
export function sshServerChoice(env = process.env) {
  const sshd = sshdPathIn(env)
  if (isExecutable(sshd)) {
    return {
      server: 'openssh',
      sshd,
      description:
        `SSH tests: OpenSSH's sshd (${sshd}), unprivileged on 127.0.0.1. ` +
        'For the in-process ssh2 server instead: SSHD_PATH=/nonexistent.'
    }
  }
  if (env.REQUIRE_OPENSSH === '1') {
    throw new Error(
      `REQUIRE_OPENSSH=1, but ${sshd} is not an executable sshd. Install it: ${INSTALL}.`
    )
  }
  return {
    server: 'embedded',
    sshd,
    description:
      `SSH tests: the in-process ssh2 server (${sshd} is missing). ` +
      `For OpenSSH's sshd instead: ${INSTALL}.`
  }
}

/** @param {NodeJS.ProcessEnv} env */
function sshdPathIn(env) {
  return env.SSHD_PATH || DEFAULT_SSHD
}

/** @param {string} file */
function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Whether OpenSSH's ssh-keygen is on PATH. A machine with Node.js and nothing else has none: the
 * keys then come from ssh2 and fingerprints are computed here, and the few tests that compare
 * against ssh-keygen itself are skipped (they run wherever OpenSSH is, in CI among others).
 * @returns {Promise<boolean>}
 */
export async function hasSshKeygen() {
  keygenPresent ??= run(SSH_KEYGEN, ['-l', '-f', '/dev/null']).then(
    () => true,
    (/** @type {NodeJS.ErrnoException} */ error) => error.code !== 'ENOENT'
  )
  return keygenPresent
}
/** @type {Promise<boolean> | undefined} */
let keygenPresent
// SSH_KEYGEN_PATH=/nonexistent tries the path of a machine without OpenSSH's client.
const SSH_KEYGEN = process.env.SSH_KEYGEN_PATH || 'ssh-keygen'

/**
 * @typedef {object} KeyOptions
 * @property {'ed25519' | 'ecdsa' | 'rsa'} [type] ed25519 by default
 * @property {string} [passphrase]
 * @property {string} [comment]
 */

/**
 * Generates a key pair (ssh-keygen, or ssh2 without it) in a temporary directory, which it
 * removes again.
 * @param {KeyOptions} [options]
 * @returns {Promise<{ privateKey: string, publicKey: string, fingerprint: string }>}
 */
export async function generateKeyPair(options = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-fixture-key-'))
  try {
    const file = path.join(dir, 'key')
    await generateKeyFile(file, options)
    return {
      privateKey: await readFile(file, 'utf8'),
      publicKey: (await readFile(`${file}.pub`, 'utf8')).trim(),
      fingerprint: await keygenFingerprint(`${file}.pub`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * Writes `file` (private key, OpenSSH format) and `file.pub`.
 * @param {string} file
 * @param {KeyOptions} options
 */
async function generateKeyFile(file, options) {
  const type = options.type ?? 'ed25519'
  const comment = options.comment ?? 'sshd-fixture'
  const passphrase = options.passphrase ?? ''
  if (await hasSshKeygen()) {
    const size = type === 'rsa' ? ['-b', '2048'] : type === 'ecdsa' ? ['-b', '256'] : []
    await run(SSH_KEYGEN, ['-q', '-t', type, ...size, '-N', passphrase, '-C', comment, '-f', file])
    return
  }
  const { utils } = ssh2
  for (;;) {
    const pair = utils.generateKeyPairSync(type, {
      bits: type === 'rsa' ? 2048 : type === 'ecdsa' ? 256 : undefined,
      comment,
      ...(passphrase ? { passphrase, cipher: 'aes256-ctr', rounds: 16 } : {})
    })
    // ssh2 1.17 now and then writes an ed25519 key it cannot read back (mscdex/ssh2#1513).
    if (utils.parseKey(pair.private, passphrase || undefined) instanceof Error) continue
    await writeFile(file, pair.private, { mode: 0o600 })
    await writeFile(`${file}.pub`, `${pair.public}\n`, { mode: 0o644 })
    return
  }
}

/**
 * The fingerprint `ssh-keygen -lf` prints for a public key file (computed the same way, SHA-256
 * of the key blob in unpadded base64, where ssh-keygen is missing).
 * @param {string} publicKeyFile
 * @returns {Promise<string>}
 */
export async function keygenFingerprint(publicKeyFile) {
  if (!(await hasSshKeygen())) {
    const blob = Buffer.from((await readFile(publicKeyFile, 'utf8')).trim().split(' ')[1], 'base64')
    return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
  }
  const { stdout } = await run(SSH_KEYGEN, ['-l', '-E', 'sha256', '-f', publicKeyFile])
  const fingerprint = stdout.split(' ')[1]
  if (!fingerprint?.startsWith('SHA256:'))
    throw new Error(`Unexpected ssh-keygen -lf output: ${stdout}`)
  return fingerprint
}

/**
 * A TCP port on `host` (127.0.0.1 by default) that nothing listens on right now.
 * @param {string} [host]
 * @returns {Promise<number>}
 */
export async function freePort(host = '127.0.0.1') {
  const server = net.createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve(undefined))
  })
  const address = server.address()
  await new Promise(resolve => server.close(() => resolve(undefined)))
  if (address === null || typeof address === 'string') throw new Error('No TCP port was assigned')
  return address.port
}

/**
 * Starts an SSH server on 127.0.0.1 and a free port. Several fixtures may run at once, also in
 * parallel jest workers: each has its own directory, keys, stand-ins and records.
 * @param {SshdOptions} [options]
 * @returns {Promise<SshdFixture>}
 */
export async function startSshd(options = {}) {
  const server = options.server ?? sshServerChoice().server
  const sshdPath = sshdPathIn(process.env)
  if (server === 'openssh' && !isExecutable(sshdPath)) {
    throw new Error(`${sshdPath} is not an executable sshd. Install it: ${INSTALL}.`)
  }
  const user = userInfo().username
  const dir = await mkdtemp(path.join(tmpdir(), 'sshd-fixture-'))
  const files = fixtureFiles(dir)

  /** @type {{ stop: () => Promise<void> } | undefined} */
  let running
  /** @type {NodeJS.Timeout | undefined} */
  let delayedStart
  let stopped = false

  const stop = async () => {
    stopped = true
    clearTimeout(delayedStart)
    await running?.stop()
    await killHungStandIns(files.hungPids)
    await rm(dir, { recursive: true, force: true })
  }

  try {
    await generateKeyFile(files.hostKey, { comment: 'sshd-fixture-host' })
    await generateKeyFile(files.clientKey, { comment: 'sshd-fixture-client' })
    const clientPublicKey = (await readFile(`${files.clientKey}.pub`, 'utf8')).trim()
    const authorizedKey = options.authorizedKey ?? clientPublicKey
    const host = options.listenAddress ?? '127.0.0.1'
    const port = options.port ?? (await freePort(host))
    await writeStandIns(files)
    await writeFile(files.authorizedKeys, `${authorizedKey}\n`, { mode: 0o600 })
    await writeFile(files.log, '')

    /** @returns {Promise<{ stop: () => Promise<void> }>} */
    const startServer = async () => {
      if (server === 'openssh') {
        const config = sshdConfig(host, port, user, files) + (options.extraConfig ?? []).join('\n')
        await writeFile(files.config, `${config}\n`, { mode: 0o600 })
        return startOpenSsh(sshdPath, host, port, files, options.ownDirectory)
      }
      return startEmbeddedSshd({
        port,
        listenAddress: host,
        user,
        authorizedKey,
        hostPrivateKey: await readFile(files.hostKey, 'utf8'),
        env: loginEnvironment(user, files),
        logFile: files.log
      })
    }
    const launch = async () => {
      if (stopped) return
      running = await startServer()
      // stop() may have run while the server was starting.
      if (stopped) await running.stop()
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

    const hostPublicKeyFile = `${files.hostKey}.pub`
    return {
      server,
      host,
      port,
      user,
      clientPrivateKey: await readFile(files.clientKey, 'utf8'),
      hostPublicKey: (await readFile(hostPublicKeyFile, 'utf8')).trim(),
      hostFingerprint: await keygenFingerprint(hostPublicKeyFile),
      callsFile: files.calls,
      calls: () => readCalls(files.calls),
      serverLog: () => readFileSync(files.log, 'utf8'),
      clearCalls: () => truncate(files.calls),
      setBehaviour: async behaviour => {
        await writeFile(files.behaviour, behaviourScript(behaviour))
        await rm(files.unitState, { force: true })
      },
      listening,
      stop,
      ...(options.ownDirectory ? { ownDirectoryFiles: files.own } : {})
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * Whether 127.0.0.2 up to 127.0.0.<count> can be listened on. Linux routes all of 127.0.0.0/8 to
 * the loopback interface; macOS has only 127.0.0.1 unless aliases are added, and there the fleet
 * tests are skipped.
 * @param {number} count
 * @returns {Promise<boolean>}
 */
export async function loopbackAliasesWork(count) {
  for (let i = 2; i <= count; i++) {
    const server = net.createServer()
    const works = await new Promise(resolve => {
      server.once('error', () => resolve(false))
      server.listen(0, `127.0.0.${i}`, () => resolve(true))
    })
    await new Promise(resolve => server.close(() => resolve(undefined)))
    if (!works) return false
  }
  return true
}

/**
 * Starts `count` SSH servers standing for the instances of a fleet: each its own sshd, host key,
 * stand-ins and records, all on one port (the action's input "ssh-port" is one for the whole
 * fleet), the first on 127.0.0.1, the next on 127.0.0.2 and so on: loopback addresses, whose
 * traffic never leaves the machine. The client key is the first server's, authorized on all.
 * @param {number} count at most 254
 * @param {Omit<SshdOptions, 'listenAddress' | 'port' | 'authorizedKey'>} [options]
 * @returns {Promise<SshdFixture[]>}
 */
export async function startSshdFleet(count, options = {}) {
  const port = await freePort()
  /** @type {SshdFixture[]} */
  const fleet = []
  try {
    const first = await startSshd({ ...options, port })
    fleet.push(first)
    const { publicKey } = await publicKeyOf(first.clientPrivateKey)
    for (let i = 2; i <= count; i++)
      fleet.push(
        await startSshd({
          ...options,
          port,
          listenAddress: `127.0.0.${i}`,
          authorizedKey: publicKey
        })
      )
    return fleet
  } catch (error) {
    await Promise.all(fleet.map(fixture => fixture.stop()))
    throw error
  }
}

/**
 * The public key line of an unencrypted OpenSSH private key (ssh-keygen -y).
 * @param {string} privateKey
 * @returns {Promise<{ publicKey: string }>}
 */
async function publicKeyOf(privateKey) {
  const key = ssh2.utils.parseKey(privateKey)
  if (key instanceof Error) throw key
  const parsed = Array.isArray(key) ? key[0] : key
  return { publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` }
}

/** @param {string} dir */
function fixtureFiles(dir) {
  return {
    dir,
    bin: path.join(dir, 'bin'),
    config: path.join(dir, 'sshd_config'),
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    clientKey: path.join(dir, 'client_key'),
    log: path.join(dir, 'sshd.log'),
    authorizedKeys: path.join(dir, 'authorized_keys'),
    calls: path.join(dir, 'calls'),
    behaviour: path.join(dir, 'behaviour.sh'),
    unitState: path.join(dir, 'unit-state'),
    hungPids: path.join(dir, 'hung.pids'),
    own: path.join(dir, 'own')
  }
}

/**
 * The environment a command sees after logging in: the stand-ins first on PATH.
 * @param {string} user
 * @param {ReturnType<typeof fixtureFiles>} files
 * @returns {Record<string, string>}
 */
function loginEnvironment(user, files) {
  return {
    PATH: `${files.bin}:/usr/bin:/bin`,
    HOME: userInfo().homedir,
    USER: user,
    LOGNAME: user,
    SHELL: '/bin/sh'
  }
}

/**
 * @param {string} host
 * @param {number} port
 * @param {string} user
 * @param {ReturnType<typeof fixtureFiles>} files
 */
function sshdConfig(host, port, user, files) {
  return [
    `Port ${port}`,
    `ListenAddress ${host}`,
    `HostKey ${files.hostKey}`,
    `PidFile ${path.join(files.dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${files.authorizedKeys}`,
    `AllowUsers ${user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    // Unprivileged: no PAM session, and the temporary directory is world-writable /tmp below.
    'UsePAM no',
    'StrictModes no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    // One fixture may stand for many instances at once (the fleet benchmark): the default
    // (10:30:100) drops handshakes beyond ten at a time, which separate instances would not.
    'MaxStartups 200',
    // Per fixture, unlike ~/.ssh/environment, so parallel fixtures keep their own stand-ins.
    `SetEnv PATH=${loginEnvironment(user, files).PATH}`,
    ''
  ].join('\n')
}

/**
 * Starts sshd in the foreground as the current user; resolves once it listens.
 * @param {string} sshdPath
 * @param {string} host
 * @param {number} port
 * @param {ReturnType<typeof fixtureFiles>} files
 * @param {string} [ownDirectory] see SshdOptions
 * @returns {Promise<{ stop: () => Promise<void> }>}
 */
async function startOpenSsh(sshdPath, host, port, files, ownDirectory) {
  // As root, sshd insists on its privilege separation directory, which the package creates at
  // boot; a container that never booted may lack it.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  await run(sshdPath, ['-t', '-f', files.config])
  // The watchdog's pid is still sshd's: the mount's wrapper execs it.
  const server = ownDirectory
    ? withOwnDirectory(await mkdir(files.own).then(() => files.own), ownDirectory, [sshdPath])
    : [sshdPath]
  const sshd = spawn(
    '/bin/sh',
    [
      '-c',
      WATCHDOG,
      'sshd-watchdog',
      String(process.pid),
      ...server,
      '-D',
      '-f',
      files.config,
      '-E',
      files.log
    ],
    { stdio: 'ignore' }
  )
  const stopOnExit = () => sshd.kill('SIGTERM')
  process.once('exit', stopOnExit)
  const stop = async () => {
    process.off('exit', stopOnExit)
    if (sshd.exitCode === null && sshd.signalCode === null) {
      const exited = new Promise(resolve => sshd.once('exit', resolve))
      sshd.kill('SIGTERM')
      await exited
    }
  }
  try {
    await waitForPort(host, port, sshd, files.log)
  } catch (error) {
    await stop()
    throw error
  }
  return { stop }
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
  // SUDO_USER is what real sudo sets for the command: the journalctl stand-in reads it.
  const sudo = `${prelude}
. ${shellQuote(files.behaviour)}
export SUDO_USER="\${USER:-stand-in}"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) shift ;;
    --) shift; break ;;
    -*) echo "sudo stand-in: unsupported option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
if [ "$1" = journalctl ] && [ -n "$SUDO_REFUSES_JOURNAL" ]; then
  echo "sudo: a password is required" >&2; exit 1
fi
exec "$@"
`
  const systemctl = `${prelude}
. ${shellQuote(files.behaviour)}
case "$1" in
  restart)
    [ "$HANG_ON" = restart ] && hang
    if [ -n "$ON_RESTART" ]; then
      if /bin/sh -c "$ON_RESTART" >/dev/null 2>&1; then unit=active; else unit=failed; fi
      echo "$unit" > ${shellQuote(files.unitState)}
    fi
    [ -n "$RESTART_STDERR" ] && printf '%s\\n' "$RESTART_STDERR" >&2
    exit "$RESTART_EXIT_CODE" ;;
  is-active)
    [ "$HANG_ON" = is-active ] && hang
    [ -n "$ON_RESTART" ] && [ -s ${shellQuote(files.unitState)} ] && ACTIVE_STATE=$(cat ${shellQuote(files.unitState)})
    echo "$ACTIVE_STATE"
    [ "$ACTIVE_STATE" = active ] && exit 0
    exit 3 ;;
  status)
    printf '%s\\n' "$STATUS"
    exit 3 ;;
  *) echo "systemctl stand-in: unsupported verb $1" >&2; exit 1 ;;
esac
`
  // journalctl: the behaviour's journal to root (through sudo) or to a reader allowed to read
  // it; to anyone else what journalctl prints outside the journal's groups (JOURNAL_UNREADABLE).
  const journalctl = `${prelude}
. ${shellQuote(files.behaviour)}
if [ -z "$SUDO_USER" ] && [ -n "$JOURNAL_UNREADABLE" ]; then
  printf '%s\\n' "$JOURNAL_UNREADABLE" >&2
  echo "-- No entries --"
  exit 0
fi
i=0
while [ "$i" -lt "$JOURNAL_REPEAT" ]; do printf '%s\\n' "$JOURNAL"; i=$((i + 1)); done
`
  await writeFile(path.join(files.bin, 'journalctl'), journalctl, { mode: 0o755 })
  await writeFile(path.join(files.bin, 'sudo'), sudo, { mode: 0o755 })
  await writeFile(path.join(files.bin, 'systemctl'), systemctl, { mode: 0o755 })
  await writeFile(files.behaviour, behaviourScript({}), { mode: 0o644 })
  await writeFile(files.calls, '', { mode: 0o644 })
  await writeFile(files.hungPids, '', { mode: 0o644 })
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
    `ON_RESTART=${shellQuote(behaviour.onRestart ?? '')}`,
    `STATUS=${shellQuote(behaviour.status ?? FAILED_STATUS)}`,
    `JOURNAL=${shellQuote(behaviour.journal ?? FAILED_JOURNAL)}`,
    `JOURNAL_REPEAT=${Number(behaviour.journalRepeat ?? 1)}`,
    `SUDO_REFUSES_JOURNAL=${behaviour.sudoRefusesJournal ? '1' : "''"}`,
    `JOURNAL_UNREADABLE=${behaviour.journalUnreadable ? shellQuote(JOURNAL_HINT) : "''"}`,
    ''
  ].join('\n')
}

/**
 * `systemctl status` of a unit whose start failed, in the shape systemd prints it (the layout of
 * a real one: https://pastebin.com/SyKGRmHt, marathon.service on Ubuntu; "×" and the
 * "Result: exit-code" wording as systemd 249 prints them).
 */
export const FAILED_STATUS = [
  '× fastapi.service - FastAPI app',
  '     Loaded: loaded (/etc/systemd/system/fastapi.service; enabled; vendor preset: enabled)',
  '     Active: failed (Result: exit-code) since Mon 2026-01-22 19:19:52 UTC; 5s ago',
  '    Process: 7565 ExecStart=/opt/app/venv/bin/uvicorn app.main:app (code=exited, status=1/FAILURE)',
  '   Main PID: 7565 (code=exited, status=1/FAILURE)',
  '',
  'Jan 22 19:19:52 ip-10-0-1-23 systemd[1]: fastapi.service: Main process exited, code=exited, status=1/FAILURE',
  "Jan 22 19:19:52 ip-10-0-1-23 systemd[1]: fastapi.service: Failed with result 'exit-code'."
].join('\n')

/** The unit's journal: what the app printed before it died, then systemd's own lines. */
export const FAILED_JOURNAL = [
  'Jan 22 19:19:51 ip-10-0-1-23 uvicorn[7565]: INFO:     Started server process [7565]',
  "Jan 22 19:19:52 ip-10-0-1-23 uvicorn[7565]: KeyError: 'db_password'",
  'Jan 22 19:19:52 ip-10-0-1-23 systemd[1]: fastapi.service: Main process exited, code=exited, status=1/FAILURE',
  "Jan 22 19:19:52 ip-10-0-1-23 systemd[1]: fastapi.service: Failed with result 'exit-code'."
].join('\n')

/**
 * What journalctl prints to a user outside the journal's groups (systemd, src/shared/journal-util.c,
 * access_check_var_log_journal(), as it prints on Ubuntu).
 */
export const JOURNAL_HINT = [
  'Hint: You are currently not seeing messages from other users and the system.',
  "      Users in groups 'adm', 'systemd-journal' can see all messages.",
  '      Pass -q to turn off this notice.'
].join('\n')

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
 * @param {string} host
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} sshd
 * @param {string} logFile
 */
async function waitForPort(host, port, sshd, logFile) {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (sshd.exitCode !== null || sshd.signalCode !== null) {
      const log = await readFile(logFile, 'utf8').catch(() => '')
      throw new Error(`sshd exited (${sshd.exitCode ?? sshd.signalCode}) before listening:\n${log}`)
    }
    if (await accepts(port, host)) return
    if (Date.now() > deadline) throw new Error(`sshd did not listen on ${host}:${port} within 10 s`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

/**
 * Whether something accepts TCP connections on host:port.
 * @param {number} port
 * @param {string} [host]
 * @returns {Promise<boolean>}
 */
export function accepts(port, host = '127.0.0.1') {
  return new Promise(resolve => {
    const socket = net.connect({ host, port })
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
