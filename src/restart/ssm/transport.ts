import type { AwsClients } from '../../aws/clients.js'
import type { AddressType } from '../../ec2/instances.js'
import type { Logger } from '../../lib/log.js'
import type { FleetTransport } from '../transport.js'
import type { ReleaseRun } from '../release-steps.js'
import { ssmReleaseTransport } from './release.js'

/** What the SSM transport uses of the inputs. */
export interface SsmTransportSettings {
  /** Input "ssm-timeout": for the agents to be Online, and for the command. */
  timeoutSeconds: number
  addressType: AddressType
  /** Input "host-key": the secret's key that holds the address, for the lookup's message. */
  hostKey: string
}

/**
 * The restart with SSM Run Command: AWS's own fan-out, one command per 50 instances. The SSM
 * client and the command's code load only when it runs.
 */
export function ssmTransport(
  settings: SsmTransportSettings,
  clients: Pick<AwsClients, 'ec2' | 'ssm' | 's3'>,
  release?: ReleaseRun,
  log?: Logger
): FleetTransport {
  const store = release?.settings.store
  return {
    // A release's archive goes to S3 once; each instance downloads it (release-bucket).
    ...(release && store && log
      ? {
          release: ssmReleaseTransport(
            { timeoutSeconds: settings.timeoutSeconds },
            clients.ssm,
            async () =>
              (await import('../../release/s3-store.js')).s3ReleaseStore(
                await clients.s3(),
                store,
                release.id,
                log
              )
          )
        }
      : {}),
    kind: 'fleet',
    name: 'ssm',
    via: 'with SSM Run Command',
    // The command states what it sent whenever it stops after sending.
    stopped: () => 'nothing was sent',
    async instanceAt(address) {
      const { instanceAtAddress } = await import('../../ec2/instances.js')
      const { addressType, hostKey } = settings
      return instanceAtAddress(await clients.ec2(), address, addressType, {
        subject: `the instance at the address in "${hostKey}"`,
        notOne:
          `No single running EC2 instance has the ${addressType} address in "${hostKey}" of the deployment secret, and ` +
          'restart: ssm needs an instance id: name the instances with input "targets", or check address-type.'
      })
    },
    async restartAll(instanceIds, restart, deps) {
      const { restartWithRunCommand } = await import('./run-command.js')
      return restartWithRunCommand({
        ssm: await clients.ssm(),
        instanceIds,
        script: restart.script,
        maxConcurrency: restart.maxConcurrency,
        maxErrors: restart.maxErrors,
        timeoutSeconds: settings.timeoutSeconds,
        sleep: deps.sleep,
        signal: deps.signal,
        log: deps.log
      })
    }
  }
}
