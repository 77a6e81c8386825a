// An SSH server inside this Node.js process (ssh2's Server), for the local demo and the stand-ins
// where neither root nor OpenSSH is at hand. It speaks real SSH, so the action's client verifies
// its host key and authenticates with its key exactly as against an instance, but it runs no
// shell: it answers the two commands the restart sends, and records them in the same shape as the
// OpenSSH fixture (test-support/sshd.js) does: program name, then arguments.
import { createHash, timingSafeEqual } from 'node:crypto'
import net from 'node:net'
import ssh2 from 'ssh2'

const { Server, utils } = ssh2

// What the action sends (src/restart.ts); the unit name is single-quoted and cannot hold a quote.
const RESTART = /^timeout \d+ sudo -n systemctl restart -- '([^']+)'$/
const IS_ACTIVE = /^timeout \d+ systemctl is-active -- '([^']+)'$/

/**
 * @typedef {object} EmbeddedSshd
 * @property {string} host
 * @property {number} port
 * @property {string} user the only user that may log in
 * @property {string} clientPrivateKey OpenSSH ed25519 private key, the only one accepted
 * @property {string} hostPublicKey the host key's `.pub` line
 * @property {string} hostFingerprint `SHA256:...` as `ssh-keygen -lf` prints it
 * @property {() => string[][]} calls recorded calls, oldest first: program name, then arguments
 * @property {() => Promise<void>} stop closes the port and every open connection
 */

/**
 * Starts the server on 127.0.0.1 and a free port, with a fresh host key and client key.
 * @param {{ user: string, log?: (line: string) => void }} options
 * @returns {Promise<EmbeddedSshd>}
 */
export async function startEmbeddedSshd(options) {
  const log = options.log ?? (() => {})
  const hostKey = utils.generateKeyPairSync('ed25519', { comment: 'stand-ins-host' })
  const clientKey = utils.generateKeyPairSync('ed25519', { comment: 'stand-ins-client' })
  const allowedKey = utils.parseKey(clientKey.public)
  /** @type {string[][]} */
  const calls = []

  const ssh = new Server({ hostKeys: [hostKey.private] }, (/** @type {any} */ client) => {
    // A client that goes away mid-handshake must not take the stand-ins down with it.
    client.on('error', (/** @type {Error} */ error) => log(`ssh: ${error.message}`))
    client.on('authentication', (/** @type {any} */ ctx) => {
      if (ctx.method === 'publickey' && ctx.username === options.user && isAllowed(ctx)) {
        ctx.accept()
      } else {
        ctx.reject(['publickey'])
      }
    })
    client.on('ready', () => {
      client.on('session', (/** @type {any} */ acceptSession) => {
        const session = acceptSession()
        // Only exec: ssh2 refuses the requests nobody listens for (pty, shell, subsystem).
        session.on(
          'exec',
          (/** @type {any} */ accept, /** @type {any} */ _reject, /** @type {any} */ info) =>
            answer(accept(), String(info.command))
        )
      })
    })
  })

  /** @param {any} ctx */
  function isAllowed(ctx) {
    const expected = allowedKey.getPublicSSH()
    if (ctx.key.algo !== allowedKey.type || ctx.key.data.length !== expected.length) return false
    if (!timingSafeEqual(ctx.key.data, expected)) return false
    // Without a signature the client only asks whether the key would do; with one, it proves it.
    return !ctx.signature || allowedKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true
  }

  /** @param {any} channel @param {string} command */
  function answer(channel, command) {
    log(`ssh exec: ${command}`)
    const restart = RESTART.exec(command)
    const isActive = IS_ACTIVE.exec(command)
    if (restart) {
      // sudo runs systemctl: both appear, as with the OpenSSH fixture's stand-ins.
      calls.push(['sudo', '-n', 'systemctl', 'restart', '--', restart[1]])
      calls.push(['systemctl', 'restart', '--', restart[1]])
      channel.exit(0)
    } else if (isActive) {
      calls.push(['systemctl', 'is-active', '--', isActive[1]])
      channel.write('active\n')
      channel.exit(0)
    } else {
      channel.stderr.write(`sh: 1: ${command.split(' ')[0]}: not found\n`)
      channel.exit(127)
    }
    channel.end()
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
    listener.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const address = /** @type {net.AddressInfo} */ (listener.address())

  return {
    host: '127.0.0.1',
    port: address.port,
    user: options.user,
    clientPrivateKey: clientKey.private,
    hostPublicKey: hostKey.public,
    hostFingerprint: fingerprint(hostKey.public),
    calls: () => calls.map(call => [...call]),
    stop: async () => {
      const closed = new Promise(resolve => listener.close(() => resolve(undefined)))
      // Ended, not destroyed at once: a reset would reach a client that is still closing its side
      // as an error. One that does not close within a second is cut off.
      for (const socket of sockets) {
        socket.end()
        setTimeout(() => socket.destroy(), 1_000).unref()
      }
      await closed
    }
  }
}

/**
 * The fingerprint of a `.pub` line, as `ssh-keygen -lf` prints it.
 * @param {string} publicKeyLine
 */
function fingerprint(publicKeyLine) {
  const blob = Buffer.from(publicKeyLine.split(' ')[1], 'base64')
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}
