import {
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  type EC2Client
} from '@aws-sdk/client-ec2'
import * as core from '@actions/core'
import { createBackoff } from './backoff.js'
import { ActionError, describeAwsError } from './errors.js'
import type { AddressType } from './inputs.js'
import { sshFingerprint } from './restart.js'

const FINGERPRINT = /SHA256:[A-Za-z0-9+/]{43}/g
const PUBLIC_KEY =
  /\b(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,3})/g

/**
 * The host key fingerprints cloud-init prints to the console at first boot, between
 * `-----BEGIN SSH HOST KEY FINGERPRINTS-----` and its END line, and the keys themselves between
 * `-----BEGIN SSH HOST KEY KEYS-----` and its END line (lines may carry an `ec2: ` prefix).
 */
export function fingerprintsFromConsole(output: string): string[] {
  const found = new Set<string>()
  for (const block of sections(output, 'SSH HOST KEY FINGERPRINTS')) {
    for (const match of block.matchAll(FINGERPRINT)) found.add(match[0])
  }
  for (const block of sections(output, 'SSH HOST KEY KEYS')) {
    for (const match of block.matchAll(PUBLIC_KEY))
      found.add(sshFingerprint(Buffer.from(match[1], 'base64')))
  }
  return [...found]
}

function sections(output: string, title: string): string[] {
  const pattern = new RegExp(`-----BEGIN ${title}-----([\\s\\S]*?)-----END ${title}-----`, 'g')
  return [...output.matchAll(pattern)].map(match => match[1])
}

/**
 * Learns the instance's host keys from its console output, which only AWS and the instance's own
 * boot can write: a channel as trusted as the credentials, unlike the first key a host presents.
 */
export async function hostKeysFromConsole(
  ec2: EC2Client,
  instanceId: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>
): Promise<string[]> {
  const backoff = createBackoff({
    totalMs: timeoutMs,
    initialDelayMs: 5000,
    maxDelayMs: 30000,
    sleep
  })
  // The latest output (Nitro only) shows a new instance's boot soonest; the buffered output still
  // holds the boot of an instance that has been up long enough for its latest output to scroll on.
  const views = [true, false]
  do {
    let output = ''
    for (const latest of [...views]) {
      try {
        const response = await ec2.send(
          new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: latest || undefined })
        )
        output = Buffer.from(response.Output ?? '', 'base64').toString('utf8')
      } catch (error) {
        if (latest && (error as { name?: string }).name === 'UnsupportedOperation') {
          views.shift()
          continue
        }
        throw describeAwsError(error, {
          action: 'ec2:GetConsoleOutput',
          subject: `instance ${instanceId}`,
          resource: `arn:aws:ec2:*:*:instance/${instanceId}`
        })
      }
      if (fingerprintsFromConsole(output).length > 0) break
    }
    const fingerprints = fingerprintsFromConsole(output)
    if (fingerprints.length > 0) {
      core.info(
        `Host key fingerprints of ${instanceId} from its console output: ${fingerprints.join(', ')}`
      )
      return fingerprints
    }
    core.info(`The console output of ${instanceId} has no SSH host keys yet; waiting.`)
  } while (await backoff.wait())
  throw new ActionError(
    `The console output of instance ${instanceId} showed no SSH host key fingerprints within ${Math.round(timeoutMs / 1000)} s ` +
      '(input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint" (ssh-keygen -lf on the ' +
      "instance's /etc/ssh/ssh_host_ed25519_key.pub), or make sure cloud-init runs on the image."
  )
}

/** The instance that has `address`: for a restart alone, where only the secret's address is known. */
export async function instanceByAddress(
  ec2: EC2Client,
  address: string,
  addressType: AddressType
): Promise<string> {
  const filter = addressType === 'public' ? 'ip-address' : 'private-ip-address'
  let ids: string[]
  try {
    const response = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: filter, Values: [address] }] })
    )
    ids = (response.Reservations ?? [])
      .flatMap(r => r.Instances ?? [])
      .map(i => i.InstanceId ?? '')
      .filter(Boolean)
  } catch (error) {
    throw describeAwsError(error, {
      action: 'ec2:DescribeInstances',
      subject: `the instance at ${address}`,
      resource: '*'
    })
  }
  if (ids.length !== 1) {
    throw new ActionError(
      `No single EC2 instance has the ${addressType} address ${address}, so its host key cannot be read from its ` +
        'console output. Pin the host key with input "ssh-host-fingerprint".'
    )
  }
  return ids[0]
}
