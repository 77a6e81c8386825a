import type { DeployMode } from '../cdk/run.js'
import type { RestartMode } from './restart.js'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { OpenedRule } from '../ec2/ingress.js'
import { hostCidr } from '../ec2/runner-address.js'
import { ActionError, failureMessage } from '../lib/errors.js'
import type { Logger, StepState } from '../lib/log.js'

export interface IngressInputs {
  /** The security group to open; empty: none. */
  groupId: string
  /** Where the runner's public address is learned, checked (https, or http to loopback). */
  runnerIpUrl: URL
}

/** What the door tells the job summary: the rule opened for this run, and whether it was removed. */
export interface IngressReport {
  ingress?: { groupId: string; ruleId: string; cidr: string; port: number; closed: boolean }
}

/** What the door reads of the inputs. */
export interface IngressSettings {
  mode: DeployMode
  restart: RestartMode
  ingress: IngressInputs
}

/** The name the rule is saved under for the post step (it reads STATE_open_ingress). */
export const INGRESS_STATE = 'open_ingress'

/** What the post step gets back: the rule, and the region its security group is in. */
export interface SavedRule extends OpenedRule {
  region: string
}

/** The door of the run, worked out before anything changes. */
export interface IngressPlan {
  groupId: string
  runnerIpUrl: URL
  /** The port the runner connects to: input "ssh-port", or the bastion's. */
  port: number
  region: string
}

/**
 * Input "open-ingress", checked against the restart: only an SSH restart connects from here. A
 * preview (deploy: diff) restarts nothing and opens nothing, whatever the inputs say.
 */
export function planIngress(
  inputs: IngressSettings,
  port: number,
  region: string
): IngressPlan | undefined {
  const { groupId, runnerIpUrl } = inputs.ingress
  if (groupId === '' || inputs.mode === 'diff') return undefined
  if (inputs.restart !== 'ssh') {
    throw new ActionError(
      `Input "open-ingress" is for restart: ssh, which connects from the runner; with restart: ` +
        `${inputs.restart} nothing does. Remove "open-ingress".`
    )
  }
  return { groupId, runnerIpUrl, port, region }
}

export interface DoorDeps {
  ec2: () => Promise<EC2Client>
  env: NodeJS.ProcessEnv
  log: Logger
  state: StepState
  report: IngressReport
  now?: () => Date
}

/** The run as a rule's tag names it: repository, run id and attempt, as the runner sets them. */
function runName(env: NodeJS.ProcessEnv): string {
  const { GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: id, GITHUB_RUN_ATTEMPT: attempt } = env
  return `${repo || 'local'}/${id || 'run'}/${attempt || '1'}`.slice(0, 256)
}

/**
 * Runs `work` with the security group open to the runner's address, and closes it again however
 * `work` ends (a failure, a cancellation). The rule is saved for the post step as soon as it
 * exists, and forgotten once it is removed. Without a plan, runs `work` alone.
 */
export async function throughDoor<T>(
  plan: IngressPlan | undefined,
  deps: DoorDeps,
  work: () => Promise<T>
): Promise<T> {
  if (!plan) return work()
  const { log } = deps
  // Loaded here: with them comes the EC2 client.
  const { runnerAddress } = await import('../ec2/runner-ip.js')
  const { openRule, removeStaleRules } = await import('../ec2/ingress.js')
  const address = await runnerAddress(plan.runnerIpUrl)
  const ec2 = await deps.ec2()
  const now = deps.now?.() ?? new Date()
  await removeStaleRules(ec2, plan.groupId, now, log)
  const { cidr, family } = hostCidr(address)
  const rule = await openRule(ec2, { ...plan, cidr, family, run: runName(deps.env), now })
  if (!rule) {
    log.warning(
      `Security group ${plan.groupId} already admits ${cidr} on TCP port ${plan.port} (input ` +
        '"open-ingress"): another run from this address opened it, or a rule of your own. It is ' +
        'used as it is, and not removed by this run.'
    )
    return work()
  }
  const saved: SavedRule = { ...rule, region: plan.region }
  deps.state.save(INGRESS_STATE, JSON.stringify(saved))
  deps.report.ingress = { ...rule, closed: false }
  log.info(
    `Opened security group ${rule.groupId} to ${cidr} on TCP port ${rule.port} for this run ` +
      `(rule ${rule.ruleId}, input "open-ingress").`
  )
  let outcome: { failed: boolean; error?: unknown } = { failed: false }
  try {
    return await work()
  } catch (error) {
    outcome = { failed: true, error }
    throw error
  } finally {
    await closeDoor(ec2, rule, deps, outcome)
  }
}

/**
 * Removes the rule; not with the step's signal, which a cancellation has aborted: the runner
 * gives a cancelled step seconds, and this call takes a fraction of one. A rule that cannot be
 * removed fails the step unless it failed already (then its own error stands, with a warning).
 */
async function closeDoor(
  ec2: EC2Client,
  rule: OpenedRule,
  deps: DoorDeps,
  outcome: { failed: boolean }
): Promise<void> {
  const { closeRule } = await import('../ec2/ingress.js')
  try {
    await closeRule(ec2, rule)
  } catch (error) {
    const message =
      `The ingress rule ${rule.ruleId} of security group ${rule.groupId} could not be removed, ` +
      `so ${rule.cidr} may still reach port ${rule.port}; the post step tries again. ` +
      failureMessage(error)
    if (outcome.failed) {
      deps.log.warning(message)
      return
    }
    throw new ActionError(message)
  }
  deps.state.save(INGRESS_STATE, '')
  if (deps.report.ingress) deps.report.ingress.closed = true
  deps.log.info(`Closed security group ${rule.groupId} again: removed rule ${rule.ruleId}.`)
}
