import { GetConsoleOutputCommand, type EC2Client } from '@aws-sdk/client-ec2'
import { instanceAtAddress } from './instance.js'
import * as core from '@actions/core'
import { createBackoff } from './backoff.js'
import { ActionError, describeAwsError } from './errors.js'
import type { AddressType } from './inputs.js'
import { hostKeysFromConsoleOutput, type TypedFingerprint } from './ssh/fingerprint.js'
import { formatSeconds } from './text.js'

// After this many empty looks, the log says why the console is being read at all: an empty
// "ssh-host-fingerprint" (an unset variable is an empty string) is the usual reason.
const LOOKS_BEFORE_HINT = 2

/**
 * Learns the instance's host keys from cloud-init's block in its console output, which the
 * instance prints at first boot and AWS serves to the credentials alone: unlike the first key a
 * host presents, a machine in the middle cannot choose it. What else may print there, and what is
 * refused for it, is in hostKeysFromConsoleOutput.
 */
export async function hostKeysFromConsole(
  ec2: EC2Client,
  instanceId: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>
): Promise<TypedFingerprint[]> {
  const backoff = createBackoff({
    totalMs: timeoutMs,
    initialDelayMs: 5000,
    maxDelayMs: 30000,
    sleep
  })
  // The latest output (Nitro only) shows a new instance's boot soonest; the buffered output still
  // holds the boot of an instance that has been up long enough for its latest output to scroll on.
  const views = [true, false]
  let looks = 0
  do {
    let keys: TypedFingerprint[] = []
    for (const latest of [...views]) {
      let output: string
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
      keys = hostKeysFromConsoleOutput(output, instanceId)
      if (keys.length > 0) break
    }
    if (keys.length > 0) {
      const listed = keys.map(key => `${key.fingerprint} (${key.type})`).join(', ')
      core.info(`Host key fingerprints of ${instanceId} from its console output: ${listed}`)
      return keys
    }
    looks++
    core.info(
      looks === LOOKS_BEFORE_HINT
        ? `The console output of ${instanceId} has no SSH host keys yet; waiting. Input ` +
            '"ssh-host-fingerprint" is empty, which is why the console is read: if you meant to ' +
            'pin the key, check that the variable or secret you pass to it is set.'
        : `The console output of ${instanceId} has no SSH host keys yet; waiting.`
    )
  } while (await backoff.wait())
  throw new ActionError(
    `The console output of instance ${instanceId} showed no SSH host key fingerprints within ${formatSeconds(timeoutMs)} ` +
      '(input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint" (ssh-keygen -lf on the ' +
      "instance's /etc/ssh/ssh_host_ed25519_key.pub), or make sure cloud-init runs on the image. Input " +
      '"ssh-host-fingerprint" was empty: if the workflow sets it from a variable or secret, check that it exists.'
  )
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
