import type { EC2Client } from '@aws-sdk/client-ec2'
import { jest } from '@jest/globals'
import {
  checkDescribed,
  findInstanceIds,
  resolveTargets,
  waitForAddresses
} from '../src/ec2/instances.js'

const waitForAddress = async (
  ...args: [EC2Client, string, 'public' | 'private', number, typeof sleep]
) => (await waitForAddresses(args[0], [args[1]], args[2], args[3], args[4], recordingLogger()))[0]
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { recordingLogger } from './helpers/recording-logger.js'

let aws: LocalAws
let ec2: EC2Client
let slept: number[]
const sleep = async (ms: number) => {
  slept.push(ms)
}

beforeEach(async () => {
  aws = await startLocalAws()
  ec2 = ec2For(aws)
  slept = []
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})
afterEach(async () => {
  jest.restoreAllMocks()
  ec2.destroy()
  await aws.stop()
})

describe('findInstanceIds', () => {
  it('takes the output named by instance-id-output', async () => {
    const outputs = { Web: 'i-0123456789abcdef0', Other: 'i-0fedcba9876543210' }
    await expect(findInstanceIds(ec2, 'S', outputs, 'Web')).resolves.toEqual([
      'i-0123456789abcdef0'
    ])
    await expect(
      findInstanceIds(ec2, 'S', { Web: 'i-0fedcba9876543210, i-0123456789abcdef0' }, 'Web')
    ).resolves.toEqual(['i-0123456789abcdef0', 'i-0fedcba9876543210'])
  })

  it('refuses a named output that is missing or not an instance id', async () => {
    await expect(findInstanceIds(ec2, 'S', { Url: 'http://x' }, 'Web')).rejects.toThrow(
      'Stack "S" has no output "Web" (input "instance-id-output"); its outputs are "Url".'
    )
    await expect(findInstanceIds(ec2, 'S', { Web: 'http://x' }, 'Web')).rejects.toThrow(
      'is "http://x", not an instance id'
    )
    await expect(
      findInstanceIds(ec2, 'S', { Web: 'i-0123456789abcdef0,$(reboot)' }, 'Web')
    ).rejects.toThrow('or a comma-separated list of them')
  })

  it('takes every output that holds an instance id, sorted', async () => {
    await expect(
      findInstanceIds(ec2, 'S', { Url: 'http://x', Id: 'i-0123456789abcdef0' }, '')
    ).resolves.toEqual(['i-0123456789abcdef0'])
    await expect(
      findInstanceIds(ec2, 'S', { B: 'i-0fedcba9876543210', A: 'i-0123456789abcdef0' }, '')
    ).resolves.toEqual(['i-0123456789abcdef0', 'i-0fedcba9876543210'])
  })

  it('falls back to the running instance tagged with the stack name', async () => {
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      tags: { 'aws:cloudformation:stack-name': 'S' }
    })
    aws.addInstance({
      instanceId: 'i-00000000000000002',
      state: 'terminated',
      tags: { 'aws:cloudformation:stack-name': 'S' }
    })
    aws.addInstance({
      instanceId: 'i-00000000000000003',
      tags: { 'aws:cloudformation:stack-name': 'Other' }
    })
    await expect(findInstanceIds(ec2, 'S', {}, '')).resolves.toEqual(['i-00000000000000001'])
    await expect(findInstanceIds(ec2, 'Nothing', {}, '')).rejects.toThrow(
      'Found no instance for stack "Nothing"'
    )
    aws.addInstance({
      instanceId: 'i-00000000000000004',
      tags: { 'aws:cloudformation:stack-name': 'S' }
    })
    await expect(findInstanceIds(ec2, 'S', {}, '')).resolves.toEqual([
      'i-00000000000000001',
      'i-00000000000000004'
    ])
  })

  it('names the EC2 permission when DescribeInstances is denied', async () => {
    aws.deny('DescribeInstances')
    await expect(findInstanceIds(ec2, 'S', {}, '')).rejects.toThrow(
      'Access denied: ec2:DescribeInstances on the instances of stack "S". Allow "ec2:DescribeInstances" on "*"'
    )
  })
})

describe('waitForAddresses', () => {
  it('returns the public or private address of a running instance', async () => {
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      publicIp: '203.0.113.5',
      privateIp: '10.0.0.5'
    })
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'public', 60000, sleep)
    ).resolves.toEqual({
      instanceId: 'i-00000000000000001',
      address: '203.0.113.5'
    })
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'private', 60000, sleep)
    ).resolves.toMatchObject({ address: '10.0.0.5' })
    expect(slept).toEqual([])
  })

  it('waits with backoff while the instance is unknown, pending, or without an address', async () => {
    const states = [
      () => undefined,
      () => aws.addInstance({ instanceId: 'i-00000000000000001', state: 'pending' }),
      () => aws.addInstance({ instanceId: 'i-00000000000000001', state: 'running' }),
      () =>
        aws.addInstance({
          instanceId: 'i-00000000000000001',
          state: 'running',
          publicIp: '203.0.113.5'
        })
    ]
    states.shift()?.()
    const flip = async (ms: number) => {
      slept.push(ms)
      states.shift()?.()
    }
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'public', 300000, flip)
    ).resolves.toMatchObject({ address: '203.0.113.5' })
    expect(slept).toHaveLength(3)
    expect(slept[2]).toBeGreaterThan(slept[0])
  })

  it('fails at once for a terminated instance', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001', state: 'terminated' })
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'public', 60000, sleep)
    ).rejects.toThrow('Instance i-00000000000000001 is terminated, so it cannot be reached')
    expect(slept).toEqual([])
  })

  it('refuses an instance id or an address that EC2 would never answer, quoting it', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001', publicIp: '203.0.113.7\n::warning::x' })
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'public', 60000, sleep)
    ).rejects.toThrow(
      'ec2:DescribeInstances answered with an address "203.0.113.7 ::warning::x" for i-00000000000000001, which is not one'
    )
    expect(() => checkDescribed({ InstanceId: 'i-1\n##[error]x' })).toThrow(
      'ec2:DescribeInstances answered with an instance id "i-1 #\u200b#[error]x", which is not one'
    )
    expect(checkDescribed({ InstanceId: 'i-0abc1234', PublicIpAddress: '2001:db8::7' })).toEqual({
      InstanceId: 'i-0abc1234',
      PublicIpAddress: '2001:db8::7'
    })
  })

  it('quotes a state name EC2 answered', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001', state: 'pending\n::warning::x' })
    await expect(waitForAddress(ec2, 'i-00000000000000001', 'public', 1000, sleep)).rejects.toThrow(
      'Instance i-00000000000000001 was still pending ::warning::x after 1 s'
    )
  })

  it('gives up when no address comes within the timeout, and says how to get one', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001', privateIp: '10.0.0.5' })
    await expect(
      waitForAddress(ec2, 'i-00000000000000001', 'public', 30000, sleep)
    ).rejects.toThrow(
      'Instance i-00000000000000001 was still running without a public address after 30 s (input "instance-timeout"). Give it a public IP'
    )
    expect(slept.reduce((a, b) => a + b, 0)).toBe(30000)
  })
})

describe('waitForAddresses with several instances', () => {
  it('asks about all of them in one request a round, and waits for the last', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000002', publicIp: '203.0.113.2' })
    aws.addInstance({ instanceId: 'i-00000000000000001', state: 'pending' })
    const flip = async (ms: number) => {
      slept.push(ms)
      aws.addInstance({ instanceId: 'i-00000000000000001', publicIp: '203.0.113.1' })
    }
    await expect(
      waitForAddresses(
        ec2,
        ['i-00000000000000001', 'i-00000000000000002'],
        'public',
        60000,
        flip,
        recordingLogger()
      )
    ).resolves.toEqual([
      { instanceId: 'i-00000000000000001', address: '203.0.113.1' },
      { instanceId: 'i-00000000000000002', address: '203.0.113.2' }
    ])
    expect(aws.callsOf('DescribeInstances')).toHaveLength(2)
  })

  it('waits for an id EC2 does not know yet, and names it when it never comes', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000002', publicIp: '203.0.113.2' })
    await expect(
      waitForAddresses(
        ec2,
        ['i-00000000000000001', 'i-00000000000000002'],
        'public',
        10000,
        sleep,
        recordingLogger()
      )
    ).rejects.toThrow('Instance i-00000000000000001 was still not found after 10 s')
  })
})

describe('resolveTargets', () => {
  beforeEach(() => {
    aws.addInstance({
      instanceId: 'i-00000000000000003',
      publicIp: '203.0.113.3',
      tags: { role: 'web' }
    })
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      publicIp: '203.0.113.1',
      tags: { role: 'web' }
    })
    aws.addInstance({
      instanceId: 'i-00000000000000002',
      privateIp: '10.0.0.2',
      tags: { role: 'db' }
    })
    aws.addInstance({ instanceId: 'i-00000000000000004', state: 'stopped', tags: { role: 'web' } })
  })

  it('resolves ids and tag filters to running instances, sorted, without duplicates', async () => {
    await expect(
      resolveTargets(ec2, ['tag:role=web', 'i-00000000000000002', 'i-00000000000000001'], 'public')
    ).resolves.toEqual([
      { instanceId: 'i-00000000000000001', address: '203.0.113.1' },
      { instanceId: 'i-00000000000000002', address: '' },
      { instanceId: 'i-00000000000000003', address: '203.0.113.3' }
    ])
  })

  it('refuses an entry that is neither, a stopped or unknown instance, and a tag nothing has', async () => {
    await expect(resolveTargets(ec2, ['web-1'], 'public')).rejects.toThrow(
      'Input "targets" has "web-1", which is neither an instance id'
    )
    await expect(resolveTargets(ec2, ['i-00000000000000004'], 'public')).rejects.toThrow(
      'Instance i-00000000000000004 (input "targets") is stopped, not running'
    )
    await expect(resolveTargets(ec2, ['i-0000000000000000f'], 'public')).rejects.toThrow(
      'Instance i-0000000000000000f (input "targets") does not exist'
    )
    await expect(resolveTargets(ec2, ['tag:role=cache'], 'public')).rejects.toThrow(
      'No running instance is tagged role=cache (input "targets")'
    )
  })
})
