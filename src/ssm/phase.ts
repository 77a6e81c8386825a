import * as core from '@actions/core'
import type { AwsClients } from '../aws.js'
import { ActionError } from '../errors.js'
import { OUTPUTS } from '../export.js'
import type { ActionInputs } from '../inputs.js'
import { instanceAtAddress } from '../instance.js'
import type { RunReport } from '../summary.js'
import { restartWithRunCommand } from './restart.js'

/** The restart phase with restart: ssm, as the pipeline runs it. */
export async function restartOverSsm(
  inputs: ActionInputs,
  target: { address: string; instances: { instanceId: string }[] },
  clients: AwsClients,
  deps: { sleep: (ms: number) => Promise<void>; signal?: AbortSignal },
  report: RunReport
): Promise<void> {
  // Without a deploy or targets, the one instance at the address the secret holds.
  const instanceIds =
    target.instances.length > 0
      ? target.instances.map(i => i.instanceId)
      : [
          await instanceAtAddress(
            await clients.ec2(),
            target.address,
            inputs.addressType,
            inputs.hostKey
          )
        ]
  const result = await restartWithRunCommand({
    ssm: await clients.ssm(),
    instanceIds,
    service: inputs.service,
    healthCommand: inputs.ssh.healthCommand,
    ...inputs.ssm,
    sleep: deps.sleep,
    signal: deps.signal
  })
  core.setOutput(OUTPUTS.commandId, result.commandIds.join(','))
  report.fleet = { unit: inputs.service, commandIds: result.commandIds, results: result.results }
  if (result.failure) throw new ActionError(result.failure)
  if (result.failed.length > 0) return
  core.setOutput(OUTPUTS.restarted, 'true')
  core.info(
    `Restarted "${inputs.service}" on ${instanceIds.length} instance${instanceIds.length > 1 ? 's' : ''} with SSM Run Command.`
  )
}
