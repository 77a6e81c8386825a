import type { EC2Client } from '@aws-sdk/client-ec2'
import { jest } from '@jest/globals'
import { findInstanceId, waitForAddress } from '../src/instance.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'

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

describe('findInstanceId', () => {
  it('takes the output named by instance-id-output', async () => {
    const outputs = { Web: 'i-0123456789abcdef0', Other: 'i-0fedcba9876543210' }
    await expect(findInstanceId(ec2, 'S', outputs, 'Web')).resolves.toBe('i-0123456789abcdef0')
  })

  it('refuses a named output that is missing or not an instance id', async () => {
    await expect(findInstanceId(ec2, 'S', { Url: 'http://x' }, 'Web')).rejects.toThrow(
      'Stack "S" has no output "Web" (input "instance-id-output"); its outputs are "Url".'
    )
    await expect(findInstanceId(ec2, 'S', { Web: 'http://x' }, 'Web')).rejects.toThrow(
      'is "http://x", not an instance id'
    )
  })

  it('finds the one output that holds an instance id, and refuses to guess between several', async () => {
    await expect(
      findInstanceId(ec2, 'S', { Url: 'http://x', Id: 'i-0123456789abcdef0' }, '')
    ).resolves.toBe('i-0123456789abcdef0')
    await expect(
      findInstanceId(ec2, 'S', { A: 'i-0123456789abcdef0', B: 'i-0fedcba9876543210' }, '')
    ).rejects.toThrow(
      'Stack "S" has several outputs that hold instance ids ("A", "B"): name the one to use with input "instance-id-output".'
    )
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
    await expect(findInstanceId(ec2, 'S', {}, '')).resolves.toBe('i-00000000000000001')
    await expect(findInstanceId(ec2, 'Nothing', {}, '')).rejects.toThrow(
      'Found no instance for stack "Nothing"'
    )
    aws.addInstance({
      instanceId: 'i-00000000000000004',
      tags: { 'aws:cloudformation:stack-name': 'S' }
    })
    await expect(findInstanceId(ec2, 'S', {}, '')).rejects.toThrow(
      'Stack "S" has 2 running instances (i-00000000000000001, i-00000000000000004)'
    )
  })

  it('names the EC2 permission when DescribeInstances is denied', async () => {
    aws.deny('DescribeInstances')
    await expect(findInstanceId(ec2, 'S', {}, '')).rejects.toThrow(
      'Access denied: ec2:DescribeInstances on the instances of stack "S". Allow "ec2:DescribeInstances" on "*"'
    )
  })
})

describe('waitForAddress', () => {
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
