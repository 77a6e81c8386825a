import { GetConsoleOutputCommand, type EC2Client } from '@aws-sdk/client-ec2'
import type { Logger } from '../lib/log.js'
import { createBackoff } from '../lib/backoff.js'
import { ActionError } from '../lib/errors.js'
import { awsErrorName, describeAwsError } from '../aws/errors.js'
import type { AddressType } from './instances.js'
import { instanceAtAddress } from './instances.js'
import {
  CONSOLE_BYTES_KEPT,
  consoleRefused,
  hostKeyBlockInConsole,
  type ConsoleBlock,
  type ConsoleView,
  type TypedFingerprint
} from './console-block.js'
import { formatSeconds } from '../lib/text.js'

// After this many empty looks, the log says why the console is being read at all: an empty
// "ssh-host-fingerprint" (an unset variable is an empty string) is the usual reason.
const LOOKS_BEFORE_HINT = 2

/**
 * Learns the instance's host keys from cloud-init's block in its console output, which the
 * instance prints at first boot and AWS serves to the credentials alone: unlike the first key a
 * host presents, a machine in the middle cannot choose it. What else may print there, and what is
 * refused for it, is in hostKeyBlockInConsole; which of the two views to believe, in keysOfViews.
 */
export async function hostKeysFromConsole(
  ec2: EC2Client,
  instanceId: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
  log: Logger
): Promise<TypedFingerprint[]> {
  const backoff = createBackoff({
    totalMs: timeoutMs,
    initialDelayMs: 5000,
    maxDelayMs: 30000,
    sleep
  })
  // The Latest view (Nitro only) shows a new instance's boot soonest; the buffered view still
  // holds the boot of an instance that has been up long enough for its Latest view to scroll on.
  let latestServed = true
  let looks = 0
  let waiting: string | undefined
  do {
    const latest: ConsoleView | undefined = latestServed
      ? await readConsole(ec2, instanceId, true)
      : undefined
    latestServed = latest !== undefined
    const buffered = await readConsole(ec2, instanceId, false)
    const seen = keysOfViews(instanceId, buffered && read(buffered), latest && read(latest))
    if ('keys' in seen) {
      const listed = seen.keys.map(key => `${key.fingerprint} (${key.type})`).join(', ')
      log.info(`Host key fingerprints of ${instanceId} from its console output: ${listed}`)
      return seen.keys
    }
    waiting = seen.waiting
    looks++
    log.info(
      looks === LOOKS_BEFORE_HINT
        ? `The console output of ${instanceId} has no SSH host keys yet; waiting. Input ` +
            '"ssh-host-fingerprint" is empty, which is why the console is read: if you meant to ' +
            'pin the key, check that the variable or secret you pass to it is set.'
        : `The console output of ${instanceId} has no SSH host keys yet; waiting.`
    )
  } while (await backoff.wait())
  if (waiting) {
    throw consoleRefused(
      { instanceId },
      `${waiting} after ${formatSeconds(timeoutMs)} (input "ssh-connect-timeout")`
    )
  }
  throw new ActionError(
    `The console output of instance ${instanceId} showed no SSH host key fingerprints within ${formatSeconds(timeoutMs)} ` +
      '(input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint" (ssh-keygen -lf on the ' +
      "instance's /etc/ssh/ssh_host_ed25519_key.pub), or make sure cloud-init runs on the image. Input " +
      '"ssh-host-fingerprint" was empty: if the workflow sets it from a variable or secret, check that it exists.'
  )
}

interface ReadView {
  view: ConsoleView
  block: ConsoleBlock
}

function read(view: ConsoleView): ReadView {
  return { view, block: hostKeyBlockInConsole(view) }
}

/** One view of the console output; undefined for the Latest view where it is not served. */
async function readConsole(
  ec2: EC2Client,
  instanceId: string,
  latest: boolean
): Promise<ConsoleView | undefined> {
  try {
    const response = await ec2.send(
      new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: latest || undefined })
    )
    const bytes = Buffer.from(response.Output ?? '', 'base64')
    return {
      instanceId,
      name: latest ? 'Latest' : 'buffered',
      output: bytes.toString('utf8'),
      bytes: bytes.length
    }
  } catch (error) {
    if (latest && awsErrorName(error) === 'UnsupportedOperation') return undefined
    throw describeAwsError(error, {
      action: 'ec2:GetConsoleOutput',
      subject: `instance ${instanceId}`,
      resource: `arn:aws:ec2:*:*:instance/${instanceId}`
    })
  }
}

/**
 * The keys the views agree on, or why to keep waiting. Both views are read because either can
 * be made to show a block alone: a program that prints 64 KB and then a block of its own leaves
 * only its block in the Latest view, while the buffered one, posted at boot, still shows
 * cloud-init's. A view without a block yet is no disagreement, with one limit: a block in the
 * Latest view alone is trusted only while nothing has scrolled out of that view, since what
 * scrolled out may be cloud-init's own block.
 */
function keysOfViews(
  instanceId: string,
  buffered: ReadView | undefined,
  latest: ReadView | undefined
): { keys: TypedFingerprint[] } | { waiting: string | undefined } {
  const where = ({ view, block }: ReadView) =>
    block.kind === 'none' ? `the ${view.name} view` : `line ${block.line} of the ${view.name} view`
  if (
    latest?.block.kind === 'block' &&
    buffered?.block.kind === 'block' &&
    latest.block.identity !== buffered.block.identity
  ) {
    throw consoleRefused(
      { instanceId },
      `a different host key block in each view (${where(latest)}, ${where(buffered)}): ` +
        'the Latest and buffered views disagree'
    )
  }
  const views = [latest, buffered].filter(seen => seen !== undefined)
  const printing = views.find(seen => seen.block.kind === 'printing')
  if (printing) {
    return { waiting: `an unclosed block at ${where(printing)} (a BEGIN whose END did not come)` }
  }
  if (buffered?.block.kind === 'block') return { keys: buffered.block.keys }
  if (latest?.block.kind === 'block') {
    if (latest.view.bytes < CONSOLE_BYTES_KEPT) return { keys: latest.block.keys }
    return {
      waiting:
        `a host key block in its Latest view alone (${where(latest)}), and that view is full ` +
        "(64 KB): what was printed before the block, cloud-init's own block among it, may " +
        'have scrolled out, and the buffered view showed no block'
    }
  }
  const cut = views.find(seen => seen.block.kind === 'cut')
  if (cut) {
    return {
      waiting:
        `only the end of a host key block (${where(cut)}): its start scrolled out of the 64 KB ` +
        'the console keeps'
    }
  }
  return { waiting: undefined }
}

/** The instance that has `address`: for a restart alone, where only the secret's address is known. */
export function instanceByAddress(
  ec2: EC2Client,
  address: string,
  addressType: AddressType
): Promise<string> {
  return instanceAtAddress(ec2, address, addressType, {
    subject: `the instance at ${address}`,
    notOne:
      `No single EC2 instance has the ${addressType} address ${address}, so its host key cannot be read from its ` +
      'console output. Pin the host key with input "ssh-host-fingerprint".'
  })
}
