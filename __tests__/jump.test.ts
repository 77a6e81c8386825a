// The bastion's parts in this process: input "ssh-jump" parsed, the inputs that need it refused
// without it, and JumpHost against ssh2's own server, which answers direct-tcpip channel requests
// the way sshd does (an open, or SSH_MSG_CHANNEL_OPEN_FAILURE with RFC 4254's reason codes).
import net from 'node:net'
import ssh2 from 'ssh2'
import { readInputs } from '../src/action/inputs.js'
import type { AwsClients } from '../src/aws/clients.js'
import { ActionError } from '../src/lib/errors.js'
import { planJump, refuseUnusedJump } from '../src/phases/jump.js'
import { channelRefused, JumpHost, parseJumpSpec } from '../src/restart/ssh/jump.js'
import { inputEnvironment } from '../test-support/runner.js'
import { generateKeyPair } from '../test-support/sshd.js'
import { recordingLogger } from './helpers/recording-logger.js'

const FINGERPRINT = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'

function inputsWith(inputs: Record<string, string>) {
  const env = inputEnvironment({ deploy: 'false', ...inputs })
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    return readInputs()
  } finally {
    for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name]
    Object.assign(process.env, saved)
  }
}

const noAws = {
  ec2: () => Promise.reject(new Error('EC2 must not be called'))
} as unknown as AwsClients

describe('parseJumpSpec', () => {
  it.each([
    [
      'ec2-user@bastion.example.com',
      { kind: 'address', user: 'ec2-user', host: 'bastion.example.com', port: 22 }
    ],
    ['203.0.113.9:2222', { kind: 'address', user: undefined, host: '203.0.113.9', port: 2222 }],
    ['ubuntu@[2001:db8::1]:22', { kind: 'address', user: 'ubuntu', host: '2001:db8::1', port: 22 }],
    [
      'i-0123456789abcdef0',
      { kind: 'instance', user: undefined, instanceId: 'i-0123456789abcdef0', port: 22 }
    ],
    [
      'admin@i-0123456789abcdef0:2200',
      { kind: 'instance', user: 'admin', instanceId: 'i-0123456789abcdef0', port: 2200 }
    ]
  ])('reads %s', (value, expected) => {
    expect(parseJumpSpec(value, 22)).toEqual(expected)
  })

  it.each([
    'host:0',
    'host:70000',
    '2001:db8::1',
    'user@host@other',
    'host name',
    '-oProxyCommand=sh',
    '[not-v6]:22',
    ''
  ])('refuses %j with one message that says what to give', value => {
    expect(() => parseJumpSpec(value, 22)).toThrow(ActionError)
    expect(() => parseJumpSpec(value, 22)).toThrow(
      /which is not a bastion: give user@host\[:port\]/
    )
  })
})

describe('the bastion inputs, checked before anything is deployed', () => {
  it('refuses ssh-jump-* without ssh-jump, and ssh-jump with restart: ssm', () => {
    const stray = inputsWith({ 'ssh-jump-user': 'ec2-user' })
    expect(() => refuseUnusedJump(stray.ssh.jump, 'ssh')).toThrow(
      'Input "ssh-jump-user" is for a bastion, but input "ssh-jump" is empty'
    )
    const ssm = inputsWith({ 'ssh-jump': 'i-0123456789abcdef0', restart: 'ssm' })
    expect(() => refuseUnusedJump(ssm.ssh.jump, 'ssm')).toThrow(
      'Input "ssh-jump" is for restart: ssh'
    )
  })

  it('refuses a bad fingerprint in ssh-jump-host-fingerprint, naming the input', () => {
    expect(() => inputsWith({ 'ssh-jump-host-fingerprint': 'SHA256:short' })).toThrow(
      'Input "ssh-jump-host-fingerprint" has "SHA256:short", which is not a SHA256 fingerprint'
    )
  })

  it('refuses a bastion by address without a pinned host key, unless the check is skipped', async () => {
    const { privateKey } = await generateKeyPair()
    const login = { username: 'ec2-user', privateKey, passphrase: '' }
    const log = recordingLogger()
    const unpinned = inputsWith({ 'ssh-jump': 'ec2-user@127.0.0.1:1' })
    await expect(planJump(unpinned, login, noAws, log)).rejects.toThrow(
      'Input "ssh-jump" names the bastion by address (127.0.0.1:1), and input "ssh-jump-host-fingerprint" is empty'
    )
    const skipped = inputsWith({
      'ssh-jump': 'ec2-user@127.0.0.1:1',
      'ssh-insecure-skip-host-key-check': 'true'
    })
    const planned = await planJump(skipped, login, noAws, log)
    expect(planned?.label).toBe('127.0.0.1:1')
    planned?.host.close()
  })

  it('refuses two different bastion users, and a user that is not one', async () => {
    const { privateKey } = await generateKeyPair()
    const login = { username: 'ec2-user', privateKey, passphrase: '' }
    const log = recordingLogger()
    const two = inputsWith({
      'ssh-jump': 'admin@127.0.0.1',
      'ssh-jump-user': 'ubuntu',
      'ssh-jump-host-fingerprint': FINGERPRINT
    })
    await expect(planJump(two, login, noAws, log)).rejects.toThrow('two different users')
    const bad = inputsWith({
      'ssh-jump': 'Root;id@127.0.0.1',
      'ssh-jump-host-fingerprint': FINGERPRINT
    })
    await expect(planJump(bad, login, noAws, log)).rejects.toThrow(
      'The user in input "ssh-jump" is not a valid Linux user name'
    )
  })

  it('names input "ssh-jump-private-key" when that key cannot be used', async () => {
    const { privateKey } = await generateKeyPair()
    const inputs = inputsWith({
      'ssh-jump': '127.0.0.1',
      'ssh-jump-host-fingerprint': FINGERPRINT,
      'ssh-jump-private-key': 'not a key'
    })
    await expect(
      planJump(
        inputs,
        { username: 'ec2-user', privateKey, passphrase: '' },
        noAws,
        recordingLogger()
      )
    ).rejects.toThrow('Input "ssh-jump-private-key" could not be used as an SSH private key')
  })
})

/** An ssh2 server that logs anyone in and answers each direct-tcpip request with `answer`. */
async function bastionServer(
  answer: (info: { destIP: string; destPort: number }) => 'open' | 'reject'
): Promise<{ port: number; logins: () => number; stop: () => Promise<void> }> {
  const host = await generateKeyPair()
  let logins = 0
  const server = new ssh2.Server({ hostKeys: [host.privateKey] }, client => {
    client.on('error', () => undefined)
    client.on('authentication', ctx => ctx.accept())
    client.on('ready', () => {
      logins++
      client.on('tcpip', (accept, reject, info) => {
        if (answer(info) !== 'open') return reject()
        const channel = accept()
        const upstream = net.connect(info.destPort, info.destIP)
        channel.pipe(upstream).pipe(channel)
        upstream.on('error', () => channel.close())
      })
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    port,
    logins: () => logins,
    stop: () => new Promise(resolve => server.close(() => resolve()))
  }
}

describe('JumpHost', () => {
  const deps = { sleep: () => Promise.resolve() }

  it('opens every channel through one connection, and they carry the bytes', async () => {
    const echo = net.createServer(socket => socket.pipe(socket))
    await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve))
    const echoPort = (echo.address() as net.AddressInfo).port
    const bastion = await bastionServer(() => 'open')
    const { privateKey } = await generateKeyPair()
    const jump = new JumpHost({
      credentials: { username: 'u', privateKey, passphrase: undefined },
      endpoint: () =>
        Promise.resolve({ host: '127.0.0.1', port: bastion.port, hostKeys: { kind: 'any' } }),
      connectTimeoutMs: 5_000,
      log: recordingLogger()
    })
    try {
      const channels = await Promise.all(
        [1, 2].map(() => jump.channelTo('127.0.0.1', echoPort, deps))
      )
      const echoed = await Promise.all(
        channels.map(
          (channel, i) =>
            new Promise<string>(resolve => {
              channel.once('data', (data: Buffer) => resolve(data.toString()))
              channel.write(`hello ${i}`)
            })
        )
      )
      expect(echoed).toEqual(['hello 0', 'hello 1'])
      expect(bastion.logins()).toBe(1)
      for (const channel of channels) channel.destroy()
    } finally {
      jump.close()
      await bastion.stop()
      echo.close()
    }
  })

  it('leaves a channel the target refused to the retries (the target may be booting)', async () => {
    // ssh2's server answers reject() with reason 2, connect failed: what sshd sends when nothing
    // listens at the target yet (an instance still booting).
    const bastion = await bastionServer(() => 'reject')
    const { privateKey } = await generateKeyPair()
    const jump = new JumpHost({
      credentials: { username: 'u', privateKey, passphrase: undefined },
      endpoint: () =>
        Promise.resolve({ host: '127.0.0.1', port: bastion.port, hostKeys: { kind: 'any' } }),
      connectTimeoutMs: 5_000,
      log: recordingLogger()
    })
    try {
      const refused = jump.channelTo('10.0.1.7', 22, deps)
      await expect(refused).rejects.not.toBeInstanceOf(ActionError)
      await expect(refused).rejects.toMatchObject({
        level: 'client-socket',
        message: `the bastion could not open a channel to 10.0.1.7:22: 127.0.0.1:${bastion.port} refused it (connect failed)`
      })
    } finally {
      jump.close()
      await bastion.stop()
    }
  })
})

describe('channelRefused', () => {
  it('names the hop, the target and AllowTcpForwarding when forwarding is prohibited', () => {
    // As ssh2 builds it from OpenSSH's answer under AllowTcpForwarding no (lib/utils.js,
    // onChannelOpenFailure): the description after "Channel open failure: ", the code as reason.
    const error = Object.assign(new Error('(SSH) Channel open failure: open failed'), { reason: 1 })
    const refused = channelRefused(error, '10.0.1.7:22', '203.0.113.9:22')
    expect(refused).toBeInstanceOf(ActionError)
    expect(refused.message).toMatch(
      /^The bastion could not open a channel to 10\.0\.1\.7:22 \(AllowTcpForwarding\?\): 203\.0\.113\.9:22 refused it \(administratively prohibited: open failed\)\./
    )
  })

  it("quotes the bastion's words as untrusted text", () => {
    const error = Object.assign(new Error('(SSH) Channel open failure: \n::error::owned'), {
      reason: 1
    })
    const { message } = channelRefused(error, '10.0.1.7:22', '203.0.113.9:22')
    expect(message).not.toContain('\n::error::')
  })
})
