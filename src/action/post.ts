import type { AwsClients } from '../aws/clients.js'
import { failureMessage } from '../lib/errors.js'
import { actionLogger, quoteUntrusted, type Logger } from '../lib/log.js'
import { INGRESS_STATE, type SavedRule } from '../phases/ingress.js'
import { registerBackSaved } from './post-traffic.js'

// The action's post step (action.yml's `post:`), run after every job that used the action, also
// when the main step failed, was cancelled or was killed. It cleans up what the main step saved
// for it and did not clean up itself; when nothing was saved it does nothing (and loads nothing).
// Later features that leave something behind add their state here.

export interface PostDependencies {
  env: NodeJS.ProcessEnv
  log: Logger
  /** Loaded only when there is something to clean up: most runs' post step loads no AWS client. */
  awsClients: (region: string) => Promise<AwsClients>
}

async function createClients(region: string): Promise<AwsClients> {
  const { createAwsClients } = await import('../aws/clients.js')
  return createAwsClients(region)
}

const SAVED_RULE_KEYS = ['groupId', 'ruleId', 'cidr', 'port', 'region'] as const

/** The rule the main step saved (STATE_open_ingress), or undefined when there is none. */
function savedRule(env: NodeJS.ProcessEnv, log: Logger): SavedRule | undefined {
  const saved = env[`STATE_${INGRESS_STATE}`] ?? ''
  if (saved === '') return undefined
  try {
    const rule = JSON.parse(saved) as Record<string, unknown>
    const complete =
      SAVED_RULE_KEYS.every(key => rule[key] !== undefined && rule[key] !== '') &&
      /^sgr-[0-9a-f]+$/.test(String(rule.ruleId)) &&
      /^sg-[0-9a-f]+$/.test(String(rule.groupId))
    if (complete) return rule as unknown as SavedRule
  } catch {
    // Reported below.
  }
  log.warning(`The saved ingress rule could not be read: ${quoteUntrusted(saved, 300)}`)
  return undefined
}

/** Removes the ingress rule a killed main step left open, if any. */
export async function runPost(overrides: Partial<PostDependencies> = {}): Promise<void> {
  const deps: PostDependencies = {
    env: process.env,
    log: actionLogger,
    awsClients: createClients,
    ...overrides
  }
  if (!(await registerBackSaved(deps.env, deps.log, deps.awsClients))) process.exitCode = 1
  const rule = savedRule(deps.env, deps.log)
  if (!rule) return
  const { closeRule } = await import('../ec2/ingress.js')
  try {
    await closeRule(await (await deps.awsClients(rule.region)).ec2(), rule)
    deps.log.info(
      `Removed the ingress rule ${rule.ruleId} of security group ${rule.groupId} (${rule.cidr} on ` +
        `TCP port ${rule.port}) that the main step left open.`
    )
  } catch (error) {
    deps.log.error(
      `The ingress rule ${rule.ruleId} of security group ${rule.groupId} could not be removed: ` +
        `${failureMessage(error)} Remove it yourself: ${rule.cidr} can reach port ${rule.port}.`
    )
    process.exitCode = 1
  }
}
