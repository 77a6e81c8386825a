import type { EC2Client } from '@aws-sdk/client-ec2'
import { jest } from '@jest/globals'
import { hostKeysFromConsole, instanceByAddress } from '../src/host-keys.js'
import { hostKeysFromConsoleOutput } from '../src/ssh/fingerprint.js'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { generateKeyPair } from '../test-support/sshd.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'

/** A host key as ssh-keygen makes it, with the fingerprint ssh-keygen prints for it. */
async function hostKey(
  type: 'ed25519' | 'ecdsa'
): Promise<{ publicKey: string; fingerprint: string }> {
  return generateKeyPair({ type, comment: 'root@ip-10-0-1-7' })
}

const INSTANCE = 'i-00000000000000001'

const ed25519 = await hostKey('ed25519')
const ecdsa = await hostKey('ecdsa')

describe('hostKeysFromConsoleOutput', () => {
  const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
  const refusal = /Pin the host key with input "ssh-host-fingerprint"/

  it("reads cloud-init's fingerprints block, with each key's type", () => {
    expect(hostKeysFromConsoleOutput(genuine, INSTANCE)).toEqual([
      { fingerprint: ed25519.fingerprint, type: 'ED25519' },
      { fingerprint: ecdsa.fingerprint, type: 'ECDSA' }
    ])
  })

  it('accepts the same block printed again (a reboot), with CRLF line ends', () => {
    const twice = `${genuine}\n${genuine}`.replaceAll('\n', '\r\n')

    expect(hostKeysFromConsoleOutput(twice, INSTANCE)).toHaveLength(2)
  })

  it("trusts no key outside a tagged block: the keys block alone is anyone's to print", () => {
    const keysOnly = genuine
      .split('\n')
      .filter(line => !line.startsWith('ec2: '))
      .join('\n')

    expect(hostKeysFromConsoleOutput(keysOnly, INSTANCE)).toEqual([])
    expect(
      hostKeysFromConsoleOutput(
        `user-data says ${ed25519.fingerprint}\n${ecdsa.publicKey}`,
        INSTANCE
      )
    ).toEqual([])
  })

  it('waits while the block is still being printed', () => {
    const cut = genuine.slice(0, genuine.indexOf('-----END SSH HOST KEY FINGERPRINTS'))

    expect(hostKeysFromConsoleOutput(cut, INSTANCE)).toEqual([])
  })

  it("refuses a planted block before cloud-init's own: two different blocks", async () => {
    const attacker = await hostKey('ed25519')
    const planted = cloudInitConsole([attacker.publicKey])

    expect(() => hostKeysFromConsoleOutput(`${planted}\n${genuine}`, INSTANCE)).toThrow(
      `The console output of instance ${INSTANCE} holds 2 different host key blocks`
    )
    expect(() => hostKeysFromConsoleOutput(`${planted}\n${genuine}`, INSTANCE)).toThrow(refusal)
  })

  it('refuses a block that cloud-init did not print, alone or beside the genuine one', () => {
    const untagged = cloudInitConsole([ecdsa.publicKey])
      .split('\n')
      .map(line => line.replace(/^ec2: /, ''))
      .join('\n')

    for (const output of [untagged, `${untagged}\n${genuine}`, `${genuine}\n${untagged}`]) {
      expect(() => hostKeysFromConsoleOutput(output, INSTANCE)).toThrow(
        'holds a host key block that cloud-init did not print'
      )
    }
  })

  it('refuses a block with one untagged line inside', async () => {
    const lines = genuine.split('\n')
    const entry = lines.findIndex(line => line.includes(ecdsa.fingerprint))
    lines[entry] = lines[entry].replace(/^ec2: /, '')

    expect(() => hostKeysFromConsoleOutput(lines.join('\n'), INSTANCE)).toThrow(refusal)
  })
})

describe('hostKeysFromConsole', () => {
  let aws: LocalAws
  let ec2: EC2Client
  beforeEach(async () => {
    aws = await startLocalAws()
    ec2 = ec2For(aws)
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  })
  afterEach(async () => {
    jest.restoreAllMocks()
    ec2.destroy()
    await aws.stop()
  })

  it('waits for cloud-init to print the keys', async () => {
    const key = await hostKey('ed25519')
    aws.addInstance({ instanceId: 'i-00000000000000001', consoleOutput: 'booting...' })
    const slept: number[] = []
    const sleep = async (ms: number) => {
      slept.push(ms)
      aws.addInstance({
        instanceId: 'i-00000000000000001',
        consoleOutput: cloudInitConsole([key.publicKey], [key.fingerprint])
      })
    }
    await expect(hostKeysFromConsole(ec2, 'i-00000000000000001', 60000, sleep)).resolves.toEqual([
      { fingerprint: key.fingerprint, type: 'ED25519' }
    ])
    expect(slept).toHaveLength(1)
  })

  it('falls back to the buffered output where the latest is not served (not a Nitro instance)', async () => {
    const key = await hostKey('ed25519')
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      consoleOutput: cloudInitConsole([key.publicKey])
    })
    aws.failNext('GetConsoleOutput', { status: 400, code: 'UnsupportedOperation' })
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 60000, async () => undefined)
    ).resolves.toEqual([{ fingerprint: key.fingerprint, type: 'ED25519' }])
    expect(aws.callsOf('GetConsoleOutput').map(call => call.params.Latest)).toEqual([
      'true',
      undefined
    ])
  })

  it('gives up after the timeout and says how to pin the key instead', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001' })
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 20000, async () => undefined)
    ).rejects.toThrow(
      'The console output of instance i-00000000000000001 showed no SSH host key fingerprints within 20 s (input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint"'
    )
  })

  it('says, after a while without keys, that input "ssh-host-fingerprint" was empty', async () => {
    aws.addInstance({ instanceId: INSTANCE, consoleOutput: 'booting...' })
    const logged = jest.mocked(process.stdout.write)
    let looks = 0
    const sleep = async () => {
      if (++looks === 3) {
        aws.addInstance({ instanceId: INSTANCE, consoleOutput: cloudInitConsole([key.publicKey]) })
      }
    }
    const key = await hostKey('ed25519')

    await hostKeysFromConsole(ec2, INSTANCE, 600_000, sleep)

    const lines = logged.mock.calls.map(call => String(call[0]))
    const hints = lines.filter(line => line.includes('Input "ssh-host-fingerprint" is empty'))
    expect(hints).toHaveLength(1)
    expect(lines.indexOf(hints[0])).toBe(1)
  })

  it('names ec2:GetConsoleOutput when it is denied', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001' })
    aws.deny('GetConsoleOutput')
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 20000, async () => undefined)
    ).rejects.toThrow(
      'Access denied: ec2:GetConsoleOutput on instance i-00000000000000001. Allow "ec2:GetConsoleOutput"'
    )
  })

  it('finds the instance behind an address, and refuses when there is none', async () => {
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      publicIp: '203.0.113.5',
      privateIp: '10.0.0.5'
    })
    await expect(instanceByAddress(ec2, '203.0.113.5', 'public')).resolves.toBe(
      'i-00000000000000001'
    )
    await expect(instanceByAddress(ec2, '10.0.0.5', 'private')).resolves.toBe('i-00000000000000001')
    await expect(instanceByAddress(ec2, '203.0.113.99', 'public')).rejects.toThrow(
      'No single EC2 instance has the public address 203.0.113.99'
    )
  })
})
