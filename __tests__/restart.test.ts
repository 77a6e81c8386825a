// Integration tests of the SSH restart against an SSH server on 127.0.0.1: OpenSSH's sshd run
// unprivileged where it is installed, else the in-process one (see test-support/sshd.js). Timeouts
// are short so that the file stays fast.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { promisify } from 'node:util'
import { ActionError } from '../src/lib/errors.js'
import { restartService, type RestartOptions } from '../src/restart/ssh/transport.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import { EarlySocket } from '../src/restart/ssh/connect.js'
import { hostKeyAccepted, sshFingerprint, type HostKeyCheck } from '../src/restart/ssh/host-keys.js'
import {
  checkSshKey,
  checkSshNames,
  checkUserName,
  type SshCredentials
} from '../src/restart/ssh/validate.js'
import {
  freePort,
  generateKeyPair,
  hasSshKeygen,
  keygenFingerprint,
  startSshd,
  type SshdFixture
} from '../test-support/sshd.js'
import { obeyedCommands, runnerView } from './helpers/runner-commands.js'
import { recordingLogger } from './helpers/recording-logger.js'

const run = promisify(execFile)

const RESTART_CALLS = [
  ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi'],
  ['systemctl', 'restart', '--', 'fastapi']
]
const IS_ACTIVE_CALL = ['systemctl', 'is-active', '--', 'fastapi']
const HOSTILE_NAMES = ['fastapi; rm -rf ~', '$(id)', '`id`', 'a b', '-x', 'fastapi\nid', "it's", '']

let sshd: SshdFixture

beforeAll(async () => {
  sshd = await startSshd()
})

afterAll(async () => {
  await sshd?.stop()
})

beforeEach(async () => {
  await sshd.setBehaviour({})
  await sshd.clearCalls()
})

/** What a run told its injected log and sleep. */
interface Observed {
  /** The raw log lines, stop-commands included. */
  raw: string[]
  /** The lines as the runner shows them. */
  lines: string[]
  warnings: string[]
  sleeps: number[]
}

function credentialsOf(
  fixture: SshdFixture,
  overrides: Partial<SshCredentials> = {}
): SshCredentials {
  return {
    username: fixture.user,
    privateKey: fixture.clientPrivateKey,
    passphrase: undefined,
    ...overrides
  }
}

/** The restart script of `unit`, checked with `healthCommand` (or systemctl is-active). */
function scriptFor(healthCommand = '', unit = 'fastapi') {
  return restartScript(checkServiceName(unit), healthCommand)
}

/** Options for a run against `fixture` (the shared sshd by default) that record what happens. */
function restartOptions(
  overrides: Partial<RestartOptions> = {},
  fixture: SshdFixture = sshd
): { options: RestartOptions; observed: Observed } {
  const observed: Observed = {
    raw: [],
    get lines() {
      return runnerView(this.raw).text
    },
    warnings: [],
    sleeps: []
  }
  const options: RestartOptions = {
    host: fixture.host,
    port: fixture.port,
    credentials: credentialsOf(fixture),
    hostKeys: { kind: 'pinned', fingerprints: [fixture.hostFingerprint] },
    script: scriptFor(),
    connectTimeoutMs: 5_000,
    commandTimeoutMs: 5_000,
    sleep: async ms => {
      observed.sleeps.push(ms)
      await delay(ms)
    },
    log: { ...recordingLogger(), warning: message => void observed.warnings.push(message) },
    output: line => void observed.raw.push(line),
    ...overrides
  }
  return { options, observed }
}

/** An unencrypted SSH_MSG_DISCONNECT packet, as a server may send before key exchange. */
function disconnectPacket(description: string): Buffer {
  const text = Buffer.from(description)
  const payload = Buffer.alloc(1 + 4 + 4 + text.length + 4)
  payload[0] = 1 // SSH_MSG_DISCONNECT
  payload.writeUInt32BE(2, 1) // SSH_DISCONNECT_PROTOCOL_ERROR
  payload.writeUInt32BE(text.length, 5)
  text.copy(payload, 9)
  payload.writeUInt32BE(0, 9 + text.length) // empty language tag
  let padding = 8 - ((4 + 1 + payload.length) % 8)
  if (padding < 4) padding += 8
  const packet = Buffer.alloc(4 + 1 + payload.length + padding)
  packet.writeUInt32BE(1 + payload.length + padding, 0)
  packet[4] = padding
  payload.copy(packet, 5)
  return packet
}

/** Single-quotes a value for the remote shell. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** The login checks the pipeline runs before deploying, on the fixture's login by default. */
async function loginWith(
  overrides: Partial<{ username: string; privateKey: string; passphrase: string }> = {}
): Promise<SshCredentials> {
  const login = {
    username: sshd.user,
    privateKey: sshd.clientPrivateKey,
    passphrase: '',
    ...overrides
  }
  checkSshNames(login, 'the SSH user')
  return checkSshKey(login)
}

/** The ActionError a run fails with; fails the test if it succeeds or fails otherwise. */
async function failureOf(promise: Promise<unknown>): Promise<ActionError> {
  const outcome = await promise.then(
    () => new Error('expected the restart to fail, but it succeeded'),
    (error: unknown) => error
  )
  expect(outcome).toBeInstanceOf(ActionError)
  return outcome as ActionError
}

function expectNoKeyMaterial(message: string, privateKey: string): void {
  for (const line of privateKey.split('\n').filter(line => line.length > 20)) {
    expect(message).not.toContain(line)
  }
}

describe('restartService against OpenSSH', () => {
  it('restarts the unit, checks it is active and returns the host fingerprint', async () => {
    const { options, observed } = restartOptions()

    const result = await restartService(options)

    expect(result).toEqual({ hostFingerprint: sshd.hostFingerprint })
    expect(sshd.calls()).toEqual([...RESTART_CALLS, IS_ACTIVE_CALL])
    const where = `${sshd.host}:${sshd.port}`
    expect(observed.lines).toEqual([
      `${where}$ timeout 5 sudo -n systemctl restart -- fastapi`,
      `${where}$ timeout 5 systemctl is-active -- fastapi`,
      'active'
    ])
    expect(observed.sleeps).toEqual([])
    expect(observed.warnings).toEqual([])
  })

  it('accepts any host key when told to and still reports the one it saw', async () => {
    const { options } = restartOptions({ hostKeys: { kind: 'any' } })

    await expect(restartService(options)).resolves.toEqual({
      hostFingerprint: sshd.hostFingerprint
    })
  })

  it("accepts a key from cloud-init's console block only with the type listed for it", async () => {
    const listed = (type: string) =>
      restartOptions({
        hostKeys: {
          kind: 'console',
          instanceId: 'i-0abc1234def567890',
          keys: [{ type, fingerprint: sshd.hostFingerprint }]
        }
      }).options

    await expect(restartService(listed('ED25519'))).resolves.toEqual({
      hostFingerprint: sshd.hostFingerprint
    })
    await sshd.clearCalls()
    const error = await failureOf(restartService(listed('RSA')))

    expect(error.message).toContain(
      'offered no host key of a type that cloud-init listed in the console output of ' +
        'i-0abc1234def567890 (RSA)'
    )
    expect(error.message).toContain('pin it with input "ssh-host-fingerprint"')
    expect(sshd.calls()).toEqual([])
    // A server with keys of several types may present another one: its type must match too.
    const blob = Buffer.from(sshd.hostPublicKey.split(' ')[1], 'base64')
    const check = (type: string): HostKeyCheck => ({
      kind: 'console',
      instanceId: 'i-0abc1234def567890',
      keys: [{ type, fingerprint: sshd.hostFingerprint }]
    })
    expect(hostKeyAccepted(check('ED25519'), blob)).toBe(true)
    expect(hostKeyAccepted(check('ECDSA'), blob)).toBe(false)
  })

  it('accepts a pinned fingerprint among others, also with base64 padding', async () => {
    const other = 'SHA256:' + 'A'.repeat(43)
    const { options } = restartOptions({
      hostKeys: { kind: 'pinned', fingerprints: [other, `${sshd.hostFingerprint}=`] }
    })

    await expect(restartService(options)).resolves.toEqual({
      hostFingerprint: sshd.hostFingerprint
    })
  })

  it('passes a templated unit name through unchanged', async () => {
    const { options } = restartOptions({ script: scriptFor('', 'worker@blue.service') })

    await restartService(options)

    expect(sshd.calls()).toEqual([
      ['sudo', '-n', 'systemctl', 'restart', '--', 'worker@blue.service'],
      ['systemctl', 'restart', '--', 'worker@blue.service'],
      ['systemctl', 'is-active', '--', 'worker@blue.service']
    ])
  })

  it('refuses a host whose key matches no pinned fingerprint, before logging in', async () => {
    const pinned = 'SHA256:' + 'B'.repeat(43)
    const logBefore = sshd.serverLog().length
    const { options, observed } = restartOptions({
      hostKeys: { kind: 'pinned', fingerprints: [pinned] }
    })

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(
      `The host key of ${sshd.host}:${sshd.port} has fingerprint ${sshd.hostFingerprint}`
    )
    expect(error.message).toContain('update input "ssh-host-fingerprint"')
    expect(sshd.calls()).toEqual([])
    // Refused during key exchange: the client never offered its key, so sshd saw no login.
    expect(sshd.serverLog().slice(logBefore)).not.toMatch(
      /Accepted publickey|Failed publickey|Postponed publickey/
    )
    expect(observed.sleeps).toEqual([])
  })

  it('gives up at once when the server refuses the key', async () => {
    const stranger = await generateKeyPair()
    const { options, observed } = restartOptions({
      credentials: credentialsOf(sshd, { privateKey: stranger.privateKey })
    })

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(
      `SSH login as "${sshd.user}" on ${sshd.host}:${sshd.port} was refused`
    )
    expect(error.message).toContain('input "ssh-private-key"')
    expectNoKeyMaterial(error.message, stranger.privateKey)
    expect(observed.sleeps).toEqual([])
    expect(sshd.calls()).toEqual([])
  })

  it('asks for input "ssh-passphrase" when the key is encrypted and none is given', async () => {
    const encrypted = await generateKeyPair({ passphrase: 'correct horse battery staple' })

    const error = await failureOf(loginWith({ privateKey: encrypted.privateKey }))

    expect(error.message).toBe(
      'Input "ssh-private-key" could not be used as an SSH private key: the key is encrypted. ' +
        'Give its passphrase in input "ssh-passphrase".'
    )
  })

  it('says to check input "ssh-passphrase" when it does not decrypt the key', async () => {
    const encrypted = await generateKeyPair({ passphrase: 'correct horse battery staple' })

    const error = await failureOf(
      loginWith({ privateKey: encrypted.privateKey, passphrase: 'wrong' })
    )

    expect(error.message).toContain('it could not be decrypted. Check input "ssh-passphrase".')
  })

  it('decrypts the key with the right passphrase (then the unknown key is refused)', async () => {
    const encrypted = await generateKeyPair({ passphrase: 'correct horse battery staple' })
    const credentials = await loginWith({
      privateKey: encrypted.privateKey,
      passphrase: 'correct horse battery staple'
    })

    const error = await failureOf(restartService(restartOptions({ credentials }).options))

    expect(error.message).toContain('was refused: the server did not accept the key')
  })

  it('treats an empty passphrase as none', async () => {
    const credentials = await loginWith({ passphrase: '' })

    expect(credentials.passphrase).toBeUndefined()
    await expect(restartService(restartOptions({ credentials }).options)).resolves.toEqual({
      hostFingerprint: sshd.hostFingerprint
    })
  })

  it('names input "ssh-private-key" without quoting it when the key cannot be parsed', async () => {
    const garbage = 'this is not a private key, but it is long enough to look like one'

    const error = await failureOf(loginWith({ privateKey: garbage }))

    expect(error.message).toContain(
      'Input "ssh-private-key" could not be used as an SSH private key'
    )
    expect(error.message).not.toContain(garbage)
  })

  it('says so when input "ssh-private-key" holds a public key', async () => {
    const pair = await generateKeyPair()

    const error = await failureOf(loginWith({ privateKey: pair.publicKey }))

    expect(error.message).toContain('it holds a public key. Give the private key instead.')
  })

  it('says so when input "ssh-private-key" is empty', async () => {
    const error = await failureOf(loginWith({ privateKey: ' \n' }))

    expect(error.message).toMatch(/^Input "ssh-private-key" is empty/)
  })

  it('fails with the exit code and remote stderr when the restart fails, and checks nothing more', async () => {
    const stderr =
      'Job for fastapi.service failed because the control process exited with error code.'
    await sshd.setBehaviour({ restartExitCode: 5, restartStderr: stderr })
    const { options, observed } = restartOptions()

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(
      `Restarting service "fastapi" on ${sshd.host}:${sshd.port} failed: sudo -n systemctl restart exited with code 5.`
    )
    expect(error.message).toContain(`Remote stderr (last lines):\n${stderr}`)
    expect(error.message).toContain(`user "${sshd.user}" needs passwordless sudo`)
    expect(observed.lines).toContain(stderr)
    expect(sshd.calls()).toEqual(RESTART_CALLS)
  })

  it('quotes only the last 20 lines of a long stderr', async () => {
    const lines = Array.from({ length: 30 }, (_, index) => `stderr line ${index + 1}`)
    await sshd.setBehaviour({ restartExitCode: 1, restartStderr: lines.join('\n') })

    const error = await failureOf(restartService(restartOptions().options))

    expect(error.message).toContain(`Remote stderr (last lines):\n${lines.slice(10).join('\n')}`)
    expect(error.message).not.toContain('stderr line 10\n')
  })

  it('fails when the unit is not active after the restart', async () => {
    await sshd.setBehaviour({ activeState: 'failed' })

    const error = await failureOf(restartService(restartOptions().options))

    expect(error.message).toContain(
      `Service "fastapi" on ${sshd.host}:${sshd.port} is not active after the restart: ` +
        'systemctl is-active exited with code 3.'
    )
    expect(error.message).toContain('Remote stdout:\nfailed')
    expect(sshd.calls()).toEqual([...RESTART_CALLS, IS_ACTIVE_CALL])
  })

  it('runs the health command instead of systemctl is-active and streams its output', async () => {
    const { options, observed } = restartOptions({
      script: scriptFor('echo healthy; echo "checked as $(id -un)" >&2')
    })

    await restartService(options)

    expect(sshd.calls()).toEqual(RESTART_CALLS)
    expect(observed.lines).toEqual(expect.arrayContaining(['healthy', `checked as ${sshd.user}`]))
    // Wrapped so that it cannot outlive the action on the instance, and run by sh as written.
    expect(observed.lines).toContainEqual(
      expect.stringMatching(
        /\$ timeout 5 sh -c 'echo healthy; echo "checked as \$\(id -un\)" >&2'$/
      )
    )
  })

  it('fails with the exit code and stderr of a failing health command', async () => {
    const { options } = restartOptions({
      script: scriptFor('echo "HTTP 503 from /health" >&2; exit 22')
    })

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(
      `The health check of service "fastapi" on ${sshd.host}:${sshd.port} failed after the restart: ` +
        'the health command (input "health-command") exited with code 22.'
    )
    expect(error.message).toContain('Remote stderr (last lines):\nHTTP 503 from /health')
  })

  it('shows remote output as text: no workflow command in it is obeyed', async () => {
    const payload = [
      '::set-output name=restarted::false',
      'ok ##[error]mid-line legacy command',
      '::stop-commands::abc',
      '\u0085::warning::after a character .NET trims',
      '::abc::',
      "::error::after the attacker's own resume token"
    ]
    const script = payload.map(line => `printf '%s\\n' ${shellQuote(line)}`).join('; ')
    const { options, observed } = restartOptions({
      script: scriptFor(`${script}; { ${script}; } >&2`)
    })

    await restartService(options)

    expect(obeyedCommands(observed.raw)).toEqual([])
    const shown = observed.lines.join('\n')
    expect(shown).toContain('::set-output name=restarted::false')
    expect(shown).toContain('::error::after the attacker')
    expect(shown).toContain('mid-line legacy command')
  })

  it('keeps a 16 MiB line from the host to a bounded line in the log and the message', async () => {
    const { options, observed } = restartOptions({
      script: scriptFor(
        "head -c 16777216 /dev/zero | tr '\\0' x; head -c 16777216 /dev/zero | tr '\\0' y >&2; exit 1"
      )
    })

    const error = await failureOf(restartService(options))

    const logged = observed.raw.reduce((sum, line) => sum + line.length, 0)
    expect(logged).toBeLessThan(64 * 1024)
    expect(
      observed.lines.some(line => /^x+ \[\.\.\. \d+ more bytes of this line cut\]/.test(line))
    ).toBe(true)
    expect(error.message).toContain('exited with code 1')
    expect(error.message.length).toBeLessThan(4 * 1024)
  }, 30_000)

  it('stops a command that hangs past the command timeout', async () => {
    await sshd.setBehaviour({ hangOn: 'restart' })
    const { options, observed } = restartOptions({ commandTimeoutMs: 700 })

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(
      `Restarting service "fastapi" on ${sshd.host}:${sshd.port} did not finish within 0.7 s, so it was stopped.`
    )
    expect(error.message).toContain('raise input "ssh-command-timeout"')
    // Output that arrived before the timeout was logged as it came.
    expect(observed.lines).toContain('hanging')
    expect(sshd.calls()).toEqual(RESTART_CALLS)
  }, 10_000)

  it('retries until an sshd that starts late accepts the connection', async () => {
    const late = await startSshd({ startDelayMs: 800 })
    try {
      const { options, observed } = restartOptions({}, late)

      await expect(restartService(options)).resolves.toEqual({
        hostFingerprint: late.hostFingerprint
      })

      expect(observed.sleeps.length).toBeGreaterThanOrEqual(1)
      expect(late.calls()).toEqual([...RESTART_CALLS, IS_ACTIVE_CALL])
    } finally {
      await late.stop()
    }
  })

  it('gives up after the connect timeout when nothing listens', async () => {
    const port = await freePort()
    const { options, observed } = restartOptions({
      port,
      connectTimeoutMs: 1_500
    })

    const error = await failureOf(restartService(options))

    expect(error.message).toContain(`Could not connect to 127.0.0.1:${port} over SSH within 1.5 s`)
    expect(error.message).toContain('ECONNREFUSED')
    expect(error.message).toContain('input "ssh-connect-timeout"')
    expect(observed.sleeps.length).toBeGreaterThanOrEqual(2)
    expect(observed.sleeps.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(1_500)
  })

  it("quotes a server's DISCONNECT text as one defused line", async () => {
    const text =
      'Maintenance\r\n\r\n# Approve the deploy [here](https://example.invalid/a)\n' +
      '<img src="https://example.invalid/t.gif">\n::error::forged\u0085 ##[set-output name=a;]b'
    const sockets = new Set<net.Socket>()
    const server = net.createServer(socket => {
      sockets.add(socket)
      socket.on('error', () => undefined)
      socket.write('SSH-2.0-Stand-in_1.0\r\n')
      socket.end(disconnectPacket(text))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    try {
      const { options, observed } = restartOptions({ port })

      const error = await failureOf(restartService(options))

      expect(error.message).toMatch(
        new RegExp(`^The SSH server at 127\\.0\\.0\\.1:${port} closed the connection: Maintenance`)
      )
      expect(error.message).not.toMatch(/[\r\n\u0085]/)
      expect(error.message).not.toContain('##[')
      expect(obeyedCommands([error.message])).toEqual([])
      expect(observed.sleeps).toEqual([])
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  })

  it('keeps each handshake within the connect budget when the server never answers', async () => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer(socket => sockets.add(socket))
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as net.AddressInfo
    try {
      const { options } = restartOptions({
        port,
        connectTimeoutMs: 1_200
      })
      const started = Date.now()

      const error = await failureOf(restartService(options))

      expect(error.message).toContain(
        `Could not connect to 127.0.0.1:${port} over SSH within 1.2 s`
      )
      expect(error.message).toContain('Timed out while waiting for handshake')
      // ssh2's own handshake timeout is 20 s: this shows the budget capped it.
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => silent.close(resolve))
    }
  })
})

/** A TCP server that counts connections and forwards each to `target` (or holds it, when none). */
async function countingForwarder(target?: { host: string; port: number }, port = 0) {
  const sockets = new Set<net.Socket>()
  const closed: net.Socket[] = []
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => undefined).on('close', () => closed.push(socket))
    if (!target) return
    const upstream = net.connect(target)
    upstream.on('error', () => socket.destroy())
    socket.pipe(upstream).pipe(socket)
    socket.on('close', () => upstream.destroy())
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Connections accepted so far. */
    get connections() {
      return sockets.size
    },
    closed,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

describe('an early socket (opened while the login is checked)', () => {
  it('is taken over by the restart: the server sees one connection', async () => {
    const forwarder = await countingForwarder(sshd)
    try {
      const early = new EarlySocket('127.0.0.1', forwarder.port)
      const { options } = restartOptions({ port: forwarder.port, earlySocket: early })

      await expect(restartService(options)).resolves.toEqual({
        hostFingerprint: sshd.hostFingerprint
      })

      expect(forwarder.connections).toBe(1)
      expect(sshd.calls()).toEqual([...RESTART_CALLS, IS_ACTIVE_CALL])
      early.discard()
    } finally {
      await forwarder.close()
    }
  })

  it('that was refused (nothing listened yet) gives way to a fresh connection', async () => {
    const port = await freePort()
    const early = new EarlySocket('127.0.0.1', port)
    await delay(100)
    const forwarder = await countingForwarder(sshd, port)
    try {
      const { options, observed } = restartOptions({ port, earlySocket: early })

      await expect(restartService(options)).resolves.toEqual({
        hostFingerprint: sshd.hostFingerprint
      })

      expect(forwarder.connections).toBe(1)
      // Replaced at once, not retried after a back-off.
      expect(observed.sleeps).toEqual([])
    } finally {
      await forwarder.close()
    }
  })

  it('to another address is closed, not used', async () => {
    const elsewhere = await countingForwarder()
    try {
      const early = new EarlySocket('127.0.0.1', elsewhere.port)
      await waitFor(() => elsewhere.connections === 1)
      const { options } = restartOptions({ earlySocket: early })

      await expect(restartService(options)).resolves.toEqual({
        hostFingerprint: sshd.hostFingerprint
      })

      await waitFor(() => elsewhere.closed.length === 1)
      expect(elsewhere.connections).toBe(1)
    } finally {
      await elsewhere.close()
    }
  })

  it('that nothing took over is closed by discard, once', async () => {
    const holder = await countingForwarder()
    try {
      const early = new EarlySocket('127.0.0.1', holder.port)
      await waitFor(() => holder.connections === 1)

      early.discard()
      early.discard()

      await waitFor(() => holder.closed.length === 1)
      expect(early.take(early.where)).toBeUndefined()
    } finally {
      await holder.close()
    }
  })

  it('reads no further than its buffer from a server that floods it before the login', async () => {
    const flooded: net.Socket[] = []
    const flooder = net.createServer(socket => {
      flooded.push(socket)
      socket.on('error', () => undefined)
      const chunk = Buffer.alloc(1 << 20, 'x')
      // 64 MiB offered, as fast as the peer reads it.
      for (let i = 0; i < 64; i++) socket.write(chunk)
    })
    await new Promise<void>(resolve => flooder.listen(0, '127.0.0.1', resolve))
    const { port } = flooder.address() as net.AddressInfo
    try {
      const early = new EarlySocket('127.0.0.1', port)
      await waitFor(() => flooded.length === 1)
      await delay(300)

      const socket = early.take(`127.0.0.1:${port}`)

      expect(socket).toBeDefined()
      expect(socket!.readableLength).toBeLessThanOrEqual(1 << 20)
      expect(flooded[0].writableLength).toBeGreaterThan(32 << 20)
      socket!.destroy()
    } finally {
      for (const socket of flooded) socket.destroy()
      await new Promise(resolve => flooder.close(resolve))
    }
  })
})

/** Polls `condition` every 10 ms for up to 2 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 2_000) throw new Error('condition not met within 2 s')
    await delay(10)
  }
}

describe('names spliced into the remote command line', () => {
  it.each(HOSTILE_NAMES)('refuses service name %j', name => {
    expect(() => checkServiceName(name)).toThrow(ActionError)
    expect(() => checkServiceName(name)).toThrow(/^Input "service" must be a systemd unit name/)
  })

  it('refuses a service name longer than systemd allows', () => {
    expect(() => checkServiceName('a'.repeat(256))).toThrow(/^Input "service"/)
  })

  it.each([
    'fastapi',
    'fastapi.service',
    'worker@blue.service',
    'sys-fs-fuse\\x2dconnections.mount'
  ])('accepts service name %j', name => {
    expect(() => checkServiceName(name)).not.toThrow()
  })

  it.each([...HOSTILE_NAMES, 'Admin', 'a'.repeat(33)])('refuses user name %j', name => {
    expect(() => checkUserName(name, 'key "ec2_user" of the deployment secret')).toThrow(
      /^Key "ec2_user" of the deployment secret (is empty|is not a valid Linux user name)/
    )
  })

  it('does not repeat a refused user name, which may come from a secret', () => {
    expect(() => checkUserName('$(id)', 'input "ssh-user"')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('$(id)') })
    )
  })

  it.each(['ec2-user', 'ubuntu', '_deploy', 'machine$'])('accepts user name %j', name => {
    expect(() => checkUserName(name, 'input "ssh-user"')).not.toThrow()
  })

  it('checks the service name before running anything', async () => {
    const { options, observed } = restartOptions()

    const error = await failureOf(
      (async () => restartService({ ...options, script: scriptFor('', 'fastapi; rm -rf ~') }))()
    )

    expect(error.message).toMatch(/^Input "service" must be a systemd unit name/)
    expect(observed.raw).toEqual([])
    expect(observed.sleeps).toEqual([])
    expect(sshd.calls()).toEqual([])
  })

  it('checks the user name with the key, before anything connects', async () => {
    const error = await failureOf(loginWith({ username: '$(id)' }))

    expect(error.message).toMatch(/^The SSH user is not a valid Linux user name/)
    expect(sshd.calls()).toEqual([])
  })
})

const keygenInstalled = await hasSshKeygen()

describe('sshFingerprint', () => {
  it('matches ssh-keygen -lf for the fixture host key', () => {
    const blob = Buffer.from(sshd.hostPublicKey.split(' ')[1], 'base64')

    expect(sshFingerprint(blob)).toBe(sshd.hostFingerprint)
  })

  // Only where OpenSSH's ssh-keygen is installed (in CI, always): it is what is compared against.
  ;(keygenInstalled ? it.each : it.skip.each)([
    ['rsa', ['-b', '2048']],
    ['ecdsa', ['-b', '256']],
    ['ed25519', []]
  ])('matches ssh-keygen -lf for a %s key', async (type, sizeArgs) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fingerprint-'))
    try {
      const file = path.join(dir, 'key')
      await run('ssh-keygen', ['-q', '-t', type, ...sizeArgs, '-N', '', '-f', file])
      const blob = Buffer.from((await readFile(`${file}.pub`, 'utf8')).split(' ')[1], 'base64')

      const fingerprint = sshFingerprint(blob)

      expect(fingerprint).toBe(await keygenFingerprint(`${file}.pub`))
      expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
