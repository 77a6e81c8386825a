import { isIP } from 'node:net'
import type { AwsClients } from '../aws/clients.js'
import { registerTargets, type GroupTarget } from '../ec2/target-groups.js'
import { TARGET_GROUP_ARN } from '../lib/aws-ids.js'
import { failureMessage } from '../lib/errors.js'
import { quoteUntrusted, type Logger } from '../lib/log.js'
import { TRAFFIC_STATE, type SavedTargets } from '../restart/traffic-gate.js'

// The post step's share of input "target-group-arn": a main step killed while a batch was out
// of its target groups left them deregistered; they go back in here.

/** As ec2/instances.ts has it; not imported from there, which loads the EC2 client. */
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/

/** A saved target, checked: an instance id or an address, a port, a zone name. */
function checkedTarget(value: unknown): GroupTarget | undefined {
  const t = (value ?? {}) as Record<string, unknown>
  const id = typeof t.id === 'string' ? t.id : ''
  if (!INSTANCE_ID.test(id) && isIP(id) === 0) return undefined
  if (t.port !== undefined && !(Number.isInteger(t.port) && Number(t.port) > 0)) return undefined
  const zone = t.availabilityZone
  if (zone !== undefined && !(typeof zone === 'string' && /^[a-z0-9-]{1,64}$/.test(zone)))
    return undefined
  return { id, port: t.port as number | undefined, availabilityZone: zone as string | undefined }
}

/** What the main step saved (STATE_target_groups), checked; undefined when nothing was. */
function savedTargets(env: NodeJS.ProcessEnv, log: Logger): SavedTargets[] | undefined {
  const saved = env[`STATE_${TRAFFIC_STATE}`] ?? ''
  if (saved === '') return undefined
  try {
    const groups = (JSON.parse(saved) as unknown[]).map(entry => {
      const g = (entry ?? {}) as Record<string, unknown>
      const targets = (Array.isArray(g.targets) ? g.targets : []).map(checkedTarget)
      if (typeof g.groupArn !== 'string' || !TARGET_GROUP_ARN.test(g.groupArn)) throw new Error()
      if (targets.length === 0 || targets.some(t => t === undefined)) throw new Error()
      return { groupArn: g.groupArn, targets: targets as GroupTarget[] }
    })
    if (groups.length > 0) return groups
  } catch {
    // Reported below.
  }
  log.warning(
    `The saved target group registrations could not be read: ${quoteUntrusted(saved, 300)}`
  )
  return undefined
}

/** Registers back what a killed main step left out of its target groups; false on a failure. */
export async function registerBackSaved(
  env: NodeJS.ProcessEnv,
  log: Logger,
  awsClients: (region: string) => Promise<AwsClients>
): Promise<boolean> {
  const groups = savedTargets(env, log)
  if (!groups) return true
  let ok = true
  for (const { groupArn, targets } of groups) {
    const ids = targets.map(t => t.id).join(', ')
    try {
      const region = groupArn.split(':')[3]
      await registerTargets(await (await awsClients(region)).elbv2(), groupArn, targets)
      log.info(
        `Registered ${ids} back into target group ${groupArn}, which the main step left out.`
      )
    } catch (error) {
      log.error(
        `Could not register ${ids} back into target group ${groupArn}: ${failureMessage(error)} Register them yourself: they take no traffic.`
      )
      ok = false
    }
  }
  return ok
}
