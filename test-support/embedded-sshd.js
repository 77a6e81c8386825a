// An SSH server inside this Node.js process (ssh2's Server), for machines without OpenSSH's sshd:
// test-support/sshd.js falls back to it, with the same stand-ins and records. It speaks real SSH,
// so the action's client verifies its host key and authenticates with its key exactly as against
// an instance, and it runs each exec'd command for real, as sshd does: `/bin/sh -c <command>` as
// the current user, in the login environment it is given, with stdout, stderr, the exit status
// and signal requests passed through. Only exec: no shell, pty or subsystem. It logs the outcome
// of each login in sshd's words, so that tests reading sshd's log read this one the same way.
import { spawn } from 'node:child_process'
import { timingSafeEqual } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ssh2 from 'ssh2'

const { Server, utils } = ssh2

/**
 * @typedef {object} EmbeddedSshdOptions
 * @property {number} port the port on 127.0.0.1 to listen on (0: any free one)
 * @property {string} [listenAddress] a loopback address other than 127.0.0.1 (a fleet's instances
 *   share one port, so each needs an address of its own)
 * @property {string} user the only user name that may log in; commands run as the current user
 * @property {string} authorizedKey the public key line (`ssh-ed25519 AAAA... comment`) accepted
 * @property {string} hostPrivateKey the host key, OpenSSH private key format
 * @property {Record<string, string>} env the whole environment of each command
 * @property {string} [logFile] where login outcomes are appended
 */

/**
 * @typedef {object} EmbeddedSshd
 * @property {number} port
 * @property {() => Promise<void>} stop closes the port and every connection, and ends every
 *   command still running
 */

/**
 * Listens on 127.0.0.1 and returns once the port accepts connections.
 * @param {EmbeddedSshdOptions} options
 * @returns {Promise<EmbeddedSshd>}
 */
export async function startEmbeddedSshd(options) {
  const allowedKey = parsedKey(options.authorizedKey)
  const log = (/** @type {string} */ line) => {
    if (options.logFile) appendFileSync(options.logFile, `${line}\n`)
  }
  /** @type {Set<import('node:child_process').ChildProcess>} */
  const commands = new Set()
  // Each command's parent is a shell named as OpenSSH's per-connection process is
  // (sshd-session): the kernel names a process after the path it was started by, so a script that
  // looks for its session among its ancestors (a release's lock) finds it here too, and finds it
  // gone once the connection is.
  const sessionDir = mkdtempSync(path.join(tmpdir(), 'embedded-sshd-'))
  const sessionShell = path.join(sessionDir, 'sshd-session')
  symlinkSync('/bin/sh', sessionShell)

  const ssh = new Server(
    { hostKeys: [options.hostPrivateKey] },
    (/** @type {import('ssh2').Connection} */ client, info) => {
      const from = `${info.ip} port ${info.port}`
      // A client that goes away mid-handshake must not take the server down with it.
      client.on('error', error => log(`error: ${from}: ${error.message}`))
      client.on('authentication', ctx => {
        if (ctx.method !== 'publickey') {
          ctx.reject(['publickey'])
          return
        }
        const keyMatches = ctx.username === options.user && sameKey(ctx.key, allowedKey)
        const what = `publickey for ${ctx.username} from ${from} ssh2: ${ctx.key.algo}`
        if (!keyMatches) {
          log(`Failed ${what}`)
          ctx.reject(['publickey'])
        } else if (!ctx.signature || !ctx.blob) {
          // Without a signature the client only asks whether the key would do.
          log(`Postponed ${what} [preauth]`)
          ctx.accept()
        } else if (allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) {
          log(`Accepted ${what}`)
          ctx.accept()
        } else {
          log(`Failed ${what}`)
          ctx.reject(['publickey'])
        }
      })
      client.on('ready', () => {
        client.on('session', acceptSession => {
          const session = acceptSession()
          /** @type {import('node:child_process').ChildProcess | undefined} */
          let command
          session.on('exec', (accept, _reject, request) => {
            command = runCommand(accept(), request.command)
          })
          session.on('signal', (accept, _reject, request) => {
            accept?.()
            signalGroup(command, /** @type {NodeJS.Signals} */ (`SIG${request.name}`))
          })
        })
      })
    }
  )

  /**
   * @param {import('ssh2').ServerChannel} channel
   * @param {string} commandLine
   */
  function runCommand(channel, commandLine) {
    // Its own process group, so that a signal or a closed channel reaches what it started, too.
    // As OpenSSH's sshd does, a home that does not exist (nobody's /nonexistent) leaves the
    // session in /: the command still runs.
    // `; exit` keeps the session shell from exec'ing the command's shell in its place.
    const child = spawn(
      sessionShell,
      ['-c', '/bin/sh -c "$1"; exit $?', 'sshd-session', commandLine],
      {
        cwd: options.env.HOME && existsSync(options.env.HOME) ? options.env.HOME : '/',
        env: options.env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe']
      }
    )
    commands.add(child)
    child.stdout.pipe(channel, { end: false })
    child.stderr.pipe(channel.stderr, { end: false })
    channel.pipe(child.stdin)
    // The command may exit without reading its input; the client may go away mid-command.
    child.stdin.on('error', () => {})
    channel.on('error', () => {})
    child.once('error', error => {
      commands.delete(child)
      channel.stderr.write(`sh: ${error.message}\n`)
      channel.exit(127)
      channel.end()
    })
    child.once('close', async (code, signal) => {
      commands.delete(child)
      // What the channel still holds back (its window was full) goes out first: an exit status
      // sent ahead of it would reach the client before the command's last output, unlike sshd.
      await Promise.all([flushed(channel), flushed(channel.stderr)])
      if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '')
      else channel.exit(code ?? 255)
      channel.end()
    })
    // A client that closes the channel early (its own timeout) leaves nobody to read the output.
    channel.once('close', () => signalGroup(child, 'SIGTERM'))
    return child
  }

  // Connections are accepted here and handed to ssh2, so that stop() can end every one of them.
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  const listener = net.createServer(socket => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    ssh.injectSocket(socket)
  })
  await new Promise((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(options.port, options.listenAddress ?? '127.0.0.1', () => resolve(undefined))
  })
  const address = /** @type {net.AddressInfo} */ (listener.address())

  return {
    port: address.port,
    stop: async () => {
      for (const child of commands) signalGroup(child, 'SIGKILL')
      const closed = new Promise(resolve => listener.close(() => resolve(undefined)))
      // Ended, not destroyed at once: a reset would reach a client that is still closing its side
      // as an error. One that does not close within a second is cut off.
      for (const socket of sockets) {
        socket.end()
        setTimeout(() => socket.destroy(), 1_000).unref()
      }
      await closed
      rmSync(sessionDir, { recursive: true, force: true })
    }
  }
}

/** @param {string} publicKeyLine */
function parsedKey(publicKeyLine) {
  const key = utils.parseKey(publicKeyLine)
  if (key instanceof Error) throw new Error(`Not a public key line: ${key.message}`)
  return Array.isArray(key) ? key[0] : key
}

/**
 * @param {{ algo: string, data: Buffer }} offered
 * @param {import('ssh2').ParsedKey} allowed
 */
function sameKey(offered, allowed) {
  const expected = allowed.getPublicSSH()
  return (
    offered.algo === allowed.type &&
    offered.data.length === expected.length &&
    timingSafeEqual(offered.data, expected)
  )
}

/**
 * @param {import('node:child_process').ChildProcess | undefined} child
 * @param {NodeJS.Signals} signal
 */
function signalGroup(child, signal) {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * Resolves once everything written to `stream` so far has been handed on: a write of nothing is
 * taken only after the writes before it.
 * @param {import('node:stream').Writable} stream
 * @returns {Promise<void>}
 */
function flushed(stream) {
  return new Promise(resolve => {
    if (stream.destroyed || stream.writableEnded) resolve()
    else stream.write(Buffer.alloc(0), () => resolve())
  })
}
