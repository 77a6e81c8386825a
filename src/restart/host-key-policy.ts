import type { EC2Client } from '@aws-sdk/client-ec2'
import type { AddressType } from '../ec2/instances.js'
import { describeHostKeyMode, type HostKeyCheck } from './ssh/host-keys.js'
import type { Logger } from '../lib/log.js'
import type { HostKeyPolicy, RestartTarget } from './transport.js'

/** What the host key check uses of the inputs. */
export interface HostKeySettings {
  /** Input "ssh-host-fingerprint": any of them passes, for every instance. */
  fingerprints: string[]
  /** Input "ssh-insecure-skip-host-key-check". */
  skipCheck: boolean
  /** How long to wait for cloud-init's block in a console (input "ssh-connect-timeout"). */
  consoleTimeoutMs: number
  addressType: AddressType
}

/**
 * One host key policy for one instance or many: the pinned fingerprints, else the ones cloud-init
 * printed to each instance's console, else (opted in) any. The mode in force goes to the log
 * first, so that an empty input is not silent; with a pinned key no instance id is needed.
 */
export function hostKeyPolicy(
  settings: HostKeySettings,
  ec2: () => Promise<EC2Client>
): HostKeyPolicy {
  return async (targets, { sleep, log }) => {
    const count = targets.length
    if (settings.fingerprints.length > 0) {
      const pinned: HostKeyCheck = { kind: 'pinned', fingerprints: settings.fingerprints }
      const each = count > 1 ? `, for each of the ${count} instances` : ''
      log.info(`${describeHostKeyMode(pinned)}${each}`)
      return () => Promise.resolve(pinned)
    }
    if (settings.skipCheck) {
      log.info(describeHostKeyMode({ kind: 'any' }))
      log.warning(
        count > 1
          ? `Not verifying the SSH host keys of the ${count} instances (ssh-insecure-skip-host-key-check: true): ` +
              'whoever answers at their addresses gets the restart. Pin them with input "ssh-host-fingerprint" instead.'
          : `Not verifying the SSH host key of ${targets[0].address} (ssh-insecure-skip-host-key-check: true): whoever answers ` +
              'at that address gets the restart. Pin it with input "ssh-host-fingerprint" instead.'
      )
      return () => Promise.resolve({ kind: 'any' })
    }
    return fromConsoles(settings, targets, await ec2(), sleep, log)
  }
}

/** Each instance's own console; the single host at the secret's address is found by it first. */
async function fromConsoles(
  settings: HostKeySettings,
  targets: readonly RestartTarget[],
  ec2: EC2Client,
  sleep: (ms: number) => Promise<void>,
  log: Logger
): Promise<(target: RestartTarget) => Promise<HostKeyCheck>> {
  // Loaded here: with it comes the EC2 client, most of the bundle's size.
  const { hostKeysFromConsole, instanceByAddress } = await import('../ec2/console-host-keys.js')
  const empty = '(input "ssh-host-fingerprint" is empty)'
  let single: string | undefined
  if (targets.length === 1) {
    const [target] = targets
    single =
      target.instanceId ?? (await instanceByAddress(ec2, target.address, settings.addressType))
    const mode = describeHostKeyMode({ kind: 'console', instanceId: single, keys: [] })
    log.info(`${mode} ${empty}`)
  } else {
    log.info(`host key: from the console output of each instance ${empty}`)
  }
  return async target => {
    const instanceId = target.instanceId ?? single ?? ''
    const keys = await hostKeysFromConsole(ec2, instanceId, settings.consoleTimeoutMs, sleep, log)
    return { kind: 'console', instanceId, keys }
  }
}
