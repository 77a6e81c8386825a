// The one host key policy of the SSH restart, for a single host and a fleet alike, with the real
// EC2 client against the local endpoint (DescribeInstances, GetConsoleOutput).
import { jest } from '@jest/globals'
import { hostKeyPolicy, type HostKeySettings } from '../src/restart/host-key-policy.js'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { generateKeyPair } from '../test-support/sshd.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { actionLogger } from '../src/lib/log.js'

let aws: LocalAws
let stdout: string

beforeEach(async () => {
  aws = await startLocalAws()
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
})
afterEach(async () => {
  jest.restoreAllMocks()
  await aws.stop()
})

const PINNED = `SHA256:${'A'.repeat(43)}`
// The action's own logger: the tests read its lines on stdout, as the runner would.
const noSleep = { sleep: async () => undefined, log: actionLogger }
const lines = () => stdout.split('\n').filter(line => line !== '')

function policy(settings: Partial<HostKeySettings> = {}) {
  const ec2 = jest.fn(async () => ec2For(aws))
  const check = hostKeyPolicy(
    {
      fingerprints: [],
      skipCheck: false,
      consoleTimeoutMs: 20_000,
      addressType: 'public',
      ...settings
    },
    ec2
  )
  return { check, ec2 }
}

describe('hostKeyPolicy', () => {
  it('pins the fingerprints for one host or many, and needs no instance id nor EC2', async () => {
    const { check, ec2 } = policy({ fingerprints: [PINNED] })

    const one = await check([{ address: '203.0.113.7' }], noSleep)
    const many = await check(
      [
        { instanceId: 'i-00000000000000001', address: '203.0.113.7' },
        { instanceId: 'i-00000000000000002', address: '203.0.113.8' }
      ],
      noSleep
    )

    await expect(one({ address: '203.0.113.7' })).resolves.toEqual({
      kind: 'pinned',
      fingerprints: [PINNED]
    })
    await expect(many({ address: '203.0.113.8' })).resolves.toEqual({
      kind: 'pinned',
      fingerprints: [PINNED]
    })
    expect(lines()).toEqual([
      'host key: pinned (input "ssh-host-fingerprint")',
      'host key: pinned (input "ssh-host-fingerprint"), for each of the 2 instances'
    ])
    expect(ec2).not.toHaveBeenCalled()
    expect(aws.calls).toEqual([])
  })

  it('accepts any key only when told to, with a warning that names what is at stake', async () => {
    const { check } = policy({ skipCheck: true })

    const one = await check([{ address: '203.0.113.7' }], noSleep)
    await check(
      [
        { instanceId: 'i-00000000000000001', address: '203.0.113.7' },
        { instanceId: 'i-00000000000000002', address: '203.0.113.8' }
      ],
      noSleep
    )

    await expect(one({ address: '203.0.113.7' })).resolves.toEqual({ kind: 'any' })
    expect(lines().filter(line => line.startsWith('::warning::'))).toEqual([
      '::warning::Not verifying the SSH host key of 203.0.113.7 (ssh-insecure-skip-host-key-check: true): ' +
        'whoever answers at that address gets the restart. Pin it with input "ssh-host-fingerprint" instead.',
      '::warning::Not verifying the SSH host keys of the 2 instances (ssh-insecure-skip-host-key-check: true): ' +
        'whoever answers at their addresses gets the restart. Pin them with input "ssh-host-fingerprint" instead.'
    ])
  })

  it("reads the single host's console, finding its instance by the address first", async () => {
    const key = await generateKeyPair({ type: 'ed25519', comment: 'root@ip-10-0-1-7' })
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      publicIp: '203.0.113.7',
      consoleOutput: cloudInitConsole([key.publicKey])
    })
    // A stopped instance that kept the address is not the one the restart reaches.
    aws.addInstance({
      instanceId: 'i-00000000000000009',
      publicIp: '203.0.113.7',
      state: 'stopped'
    })
    const { check } = policy()

    const forTarget = await check([{ address: '203.0.113.7' }], noSleep)
    const result = await forTarget({ address: '203.0.113.7' })

    expect(result).toEqual({
      kind: 'console',
      instanceId: 'i-00000000000000001',
      keys: [{ fingerprint: key.fingerprint, type: 'ED25519' }]
    })
    expect(lines()[0]).toBe(
      'host key: from the console output of i-00000000000000001 (input "ssh-host-fingerprint" is empty)'
    )
  })

  it("reads each fleet instance's own console, when that instance's turn comes", async () => {
    const keys = await Promise.all([1, 2].map(() => generateKeyPair({ type: 'ed25519' })))
    keys.forEach((key, i) =>
      aws.addInstance({
        instanceId: `i-0000000000000000${i + 1}`,
        publicIp: `203.0.113.${i + 1}`,
        consoleOutput: cloudInitConsole([key.publicKey])
      })
    )
    const targets = [1, 2].map(i => ({
      instanceId: `i-0000000000000000${i}`,
      address: `203.0.113.${i}`
    }))
    const { check } = policy()

    const forTarget = await check(targets, noSleep)
    expect(aws.callsOf('GetConsoleOutput')).toEqual([])
    const second = await forTarget(targets[1])

    expect(second).toEqual({
      kind: 'console',
      instanceId: 'i-00000000000000002',
      keys: [{ fingerprint: keys[1].fingerprint, type: 'ED25519' }]
    })
    // Only the second instance's console (both its views) was read.
    const read = aws.callsOf('GetConsoleOutput').map(call => call.params.InstanceId)
    expect(read.length).toBeGreaterThan(0)
    expect(new Set(read)).toEqual(new Set(['i-00000000000000002']))
    expect(aws.callsOf('DescribeInstances')).toEqual([])
    expect(lines()[0]).toBe(
      'host key: from the console output of each instance (input "ssh-host-fingerprint" is empty)'
    )
  })

  it('refuses a single host when no running instance has its address', async () => {
    const { check } = policy()

    await expect(check([{ address: '203.0.113.99' }], noSleep)).rejects.toThrow(
      'No single EC2 instance has the public address 203.0.113.99, so its host key cannot be read ' +
        'from its console output. Pin the host key with input "ssh-host-fingerprint".'
    )
  })
})
