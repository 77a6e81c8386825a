import type { EC2Client } from '@aws-sdk/client-ec2'
import { jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  fingerprintsFromConsole,
  hostKeysFromConsole,
  instanceByAddress
} from '../src/host-keys.js'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'

/** A host key made by ssh-keygen, with the fingerprint ssh-keygen prints for it. */
function hostKey(type: 'ed25519' | 'ecdsa'): { publicKey: string; fingerprint: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sda-hostkey-'))
  try {
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      type,
      '-N',
      '',
      '-C',
      'root@ip-10-0-1-7',
      '-f',
      join(dir, 'key')
    ])
    const publicKey = readFileSync(join(dir, 'key.pub'), 'utf8').trim()
    const fingerprint = execFileSync('ssh-keygen', ['-lf', join(dir, 'key.pub')], {
      encoding: 'utf8'
    }).split(' ')[1]
    return { publicKey, fingerprint }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('fingerprintsFromConsole', () => {
  const ed25519 = hostKey('ed25519')
  const ecdsa = hostKey('ecdsa')

  it('reads the fingerprints block and the keys block, as ssh-keygen -lf prints them', () => {
    expect(
      fingerprintsFromConsole(cloudInitConsole([], [ed25519.fingerprint, ecdsa.fingerprint])).sort()
    ).toEqual([ed25519.fingerprint, ecdsa.fingerprint].sort())
    expect(fingerprintsFromConsole(cloudInitConsole([ed25519.publicKey]))).toEqual([
      ed25519.fingerprint
    ])
  })

  it('ignores fingerprints outside the blocks: anything can print to the console', () => {
    expect(
      fingerprintsFromConsole(`user-data says ${ed25519.fingerprint}\n${ecdsa.publicKey}`)
    ).toEqual([])
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
    const key = hostKey('ed25519')
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
      key.fingerprint
    ])
    expect(slept).toHaveLength(1)
  })

  it('falls back to the buffered output where the latest is not served (not a Nitro instance)', async () => {
    const key = hostKey('ed25519')
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      consoleOutput: cloudInitConsole([key.publicKey])
    })
    aws.failNext('GetConsoleOutput', { status: 400, code: 'UnsupportedOperation' })
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 60000, async () => undefined)
    ).resolves.toEqual([key.fingerprint])
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
