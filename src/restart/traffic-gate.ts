import type { EC2Client } from '@aws-sdk/client-ec2'
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { createBackoff } from '../lib/backoff.js'
import { throwIfStopped } from '../lib/cancel.js'
import { chunks } from '../lib/chunks.js'
import { ActionError, failureMessage } from '../lib/errors.js'
import { quoteUntrusted, type Logger, type StepOutputs, type StepState } from '../lib/log.js'
import { OUTPUTS } from '../lib/output-names.js'
import { formatSeconds } from '../lib/text.js'
import {
  deregisterTargets,
  describeTarget,
  describeTargetGroup,
  describeTargetHealth,
  registerTargets,
  type GroupTarget,
  type TargetGroupInfo,
  type TargetState
} from '../ec2/target-groups.js'
import type { InstanceResult, RestartReport } from './report.js'

// A restart behind ELBv2 target groups (input "target-group-arn"): batch by batch, the instances
// are taken out of every group that routes to them, drained, restarted, put back and waited for
// until healthy, before the next batch starts. Polling costs one DescribeTargetHealth per group
// per round (it takes the batch's targets as a list), however many instances a batch holds.

/** Input "target-group-arn" and its waits, as the plan hands them to the engine. */
export interface TrafficSettings {
  groupArns: readonly string[]
  /** Input "drain-timeout"; undefined: the group's deregistration delay plus DRAIN_MARGIN_S. */
  drainTimeoutSeconds?: number
  healthyTimeoutSeconds: number
  minHealthy: number
  elbv2: () => Promise<ElasticLoadBalancingV2Client>
  /** For target groups of type ip: the instances' private addresses. */
  ec2: () => Promise<EC2Client>
  /** Where the targets taken out are saved for the post step, until they are back. */
  state: StepState
}

/** The state the post step reads (STATE_target_groups): what a killed run left out of its groups. */
export const TRAFFIC_STATE = 'target_groups'

/** Saved for the post step: per group, the targets this run took out and has not put back. */
export interface SavedTargets {
  groupArn: string
  targets: GroupTarget[]
}

/** Beyond the group's own deregistration delay, draining may take this long to show as done. */
const DRAIN_MARGIN_S = 30

/** One poll round's wait grows from this to POLL_MAX_MS (jittered): quick for a quick group. */
const POLL_FIRST_MS = 200
const POLL_MAX_MS = 5000

interface Membership {
  group: TargetGroupInfo
  targets: GroupTarget[]
}

/** How one instance went through its groups: for the summary's table. */
interface Passage {
  drainedMs?: number
  healthyMs?: number
  /** Kept out of its groups (its restart failed, or it did not become healthy in time). */
  keptOut?: boolean
}

export interface GateDeps {
  log: Logger
  outputs: StepOutputs
  sleep: (ms: number) => Promise<void>
  signal?: AbortSignal
}

/** What the engine does with one batch, whatever the transport. */
export interface BatchWork<T> {
  /** The instance id of an item: the gate's key. */
  keyOf(item: T): string
  /** Whether another batch may start (within max-errors, not stopped). */
  mayGoOn(): boolean
  /** Restarts (and checks) the batch; resolves to the keys of those that failed. */
  run(batch: T[]): Promise<Set<string>>
  /** An instance that came back unhealthy in its group in time: a failure of the batch. */
  unhealthy(key: string, message: string): Promise<void> | void
}

/** Instance ids for a message: the first ten, and how many more. */
function named(keys: readonly string[]): string {
  return keys.length > 10
    ? `${keys.slice(0, 10).join(', ')} and ${keys.length - 10} more`
    : keys.join(', ')
}

/** A group's targets, one per line of the log: "i-1:80". */
const listed = (targets: readonly GroupTarget[]) => targets.map(describeTarget).join(', ')

export class TrafficGate {
  /** Per instance id: the groups that route to it, and as which targets. */
  private readonly members = new Map<string, Membership[]>()
  private readonly passages = new Map<string, Passage>()
  /** Taken out by this run and not put back, per group ARN: what a stop registers back. */
  private readonly out = new Map<string, GroupTarget[]>()
  /** Each group's targets as the gate found them when it opened, before anything changed. */
  private readonly opening = new Map<string, TargetState[]>()

  private constructor(
    private readonly settings: TrafficSettings,
    private readonly deps: GateDeps,
    readonly groups: TargetGroupInfo[],
    private readonly elb: ElasticLoadBalancingV2Client
  ) {}

  /**
   * Describes every group and finds the instances in them, before anything changes; fails when
   * a batch of `concurrency` would leave fewer than min-healthy healthy targets in a group.
   */
  static async open(
    settings: TrafficSettings,
    instanceIds: readonly string[],
    concurrency: number,
    deps: GateDeps
  ): Promise<TrafficGate> {
    const elb = await settings.elbv2()
    const groups: TargetGroupInfo[] = []
    for (const arn of settings.groupArns) groups.push(await describeTargetGroup(elb, arn))
    const gate = new TrafficGate(settings, deps, groups, elb)
    await gate.findMembers(instanceIds)
    deps.outputs.set(OUTPUTS.outOfService, '[]')
    const gated = instanceIds.filter(id => gate.members.has(id))
    const outside = instanceIds.filter(id => !gate.members.has(id))
    if (outside.length > 0)
      deps.log.info(
        `Not behind target group ${settings.groupArns.join(', ')}: ${named(outside)}; restarted first, as without a target group.`
      )
    for (const batch of chunks(gated, concurrency)) await gate.refuseBelowMinHealthy(batch, true)
    deps.log.info(
      `Rolling restart behind ${groups.length === 1 ? 'target group' : 'target groups'} ${settings.groupArns.join(', ')}: ` +
        `${gated.length} instance${gated.length === 1 ? '' : 's'} in batches of ${Math.min(concurrency, gated.length)}, ` +
        `each drained, restarted, registered back and healthy before the next (min-healthy ${settings.minHealthy}).`
    )
    return gate
  }

  /** Matches the instances to each group's registered targets: by id, or by private address (ip). */
  private async findMembers(instanceIds: readonly string[]): Promise<void> {
    const odd = this.groups.find(g => g.targetType !== 'instance' && g.targetType !== 'ip')
    if (odd) {
      throw new ActionError(
        `Target group ${odd.arn} has targets of type ${quoteUntrusted(odd.targetType, 40)}, which are no EC2 instances: input "target-group-arn" takes groups of type instance or ip.`
      )
    }
    const addresses = this.groups.some(g => g.targetType === 'ip')
      ? await this.privateAddresses(instanceIds)
      : new Map<string, string>()
    for (const group of this.groups) {
      const registered = await describeTargetHealth(this.elb, group.arn)
      this.opening.set(group.arn, registered)
      for (const id of instanceIds) {
        const key = group.targetType === 'ip' ? addresses.get(id) : id
        const targets = registered
          .filter(t => key !== undefined && t.target.id === key && t.state !== 'unused')
          .map(t => t.target)
        if (targets.length === 0) continue
        this.members.set(id, [...(this.members.get(id) ?? []), { group, targets }])
      }
    }
  }

  private async privateAddresses(instanceIds: readonly string[]): Promise<Map<string, string>> {
    const { resolveTargets } = await import('../ec2/instances.js')
    const found = await resolveTargets(await this.settings.ec2(), instanceIds, 'private')
    return new Map(found.map(i => [i.instanceId, i.address]))
  }

  /**
   * Runs `items` through the gate: those behind no group first, in batches as without one; then
   * the gated ones, batch by batch, each drained, run, put back and waited for. Resolves to why a
   * batch was refused (min-healthy), if one was; whatever stops it, the targets this run took out
   * go back into their groups first (but those kept out for a failure).
   */
  async runBatches<T>(
    items: readonly T[],
    concurrency: number,
    work: BatchWork<T>
  ): Promise<string | undefined> {
    const outside = items.filter(item => !this.members.has(work.keyOf(item)))
    const gated = items.filter(item => this.members.has(work.keyOf(item)))
    try {
      for (const batch of chunks(outside, concurrency)) {
        if (!work.mayGoOn()) return undefined
        await work.run(batch)
      }
      for (const batch of chunks(gated, concurrency)) {
        if (!work.mayGoOn()) return undefined
        const keys = batch.map(work.keyOf)
        const refused = await this.refuseBelowMinHealthy(keys, false)
        if (refused) return refused
        await this.drain(keys)
        const failed = await work.run(batch)
        throwIfStopped(this.deps.signal)
        for (const [key, message] of await this.putBack(keys, failed))
          await work.unhealthy(key, message)
      }
      return undefined
    } catch (error) {
      await this.registerBackAll()
      throw error
    }
  }

  /**
   * The healthy targets each group would keep without `keys`: below min-healthy, the batch is
   * refused (`before` anything changes, with the health read when the gate opened, as the run's
   * failure; later, with the health now, as the reason no further batch starts).
   */
  private async refuseBelowMinHealthy(
    keys: readonly string[],
    before: boolean
  ): Promise<string | undefined> {
    const { minHealthy } = this.settings
    if (minHealthy === 0) return undefined
    for (const group of this.groups) {
      const taken = keys.flatMap(k => this.targetsIn(k, group.arn))
      if (taken.length === 0) continue
      const all = before
        ? (this.opening.get(group.arn) ?? [])
        : await describeTargetHealth(this.elb, group.arn)
      const healthy = all.filter(t => t.state === 'healthy')
      const left = healthy.filter(t => !taken.some(x => sameTarget(x, t.target))).length
      if (left >= minHealthy) continue
      const registered = all.filter(t => t.state !== 'unused').length
      const message =
        registered <= taken.length
          ? `Target group ${group.arn} has ${registered} target${registered === 1 ? '' : 's'}, all in one batch: restarting ${named(keys)} would leave it no healthy target, and min-healthy is ${minHealthy}. ` +
            'Nothing was changed. Set min-healthy: 0 to accept dropping traffic while it restarts, or add targets to the group.'
          : `Taking ${named(keys)} out of target group ${group.arn} would leave ${left} healthy target${left === 1 ? '' : 's'} (${healthy.length} healthy now), fewer than min-healthy ${minHealthy}: ` +
            `${before ? 'nothing was changed' : 'this batch and the ones after it were not started'}. Lower max-concurrency, or min-healthy.`
      if (before) throw new ActionError(message)
      return message
    }
    return undefined
  }

  private targetsIn(key: string, arn: string): GroupTarget[] {
    return (this.members.get(key) ?? []).filter(m => m.group.arn === arn).flatMap(m => m.targets)
  }

  /** Deregisters the batch from each group and waits until every target is unused (drained). */
  private async drain(keys: readonly string[]): Promise<void> {
    const started = Date.now()
    for (const group of this.groups) {
      const targets = keys.flatMap(k => this.targetsIn(k, group.arn))
      if (targets.length === 0) continue
      // Saved first: a run killed during the call still has them registered back by the post step.
      this.markOut(group.arn, targets)
      await deregisterTargets(this.elb, group.arn, targets)
    }
    const limitS =
      this.settings.drainTimeoutSeconds ??
      Math.max(0, ...this.groups.map(g => g.deregistrationDelaySeconds)) + DRAIN_MARGIN_S
    const waiting = await this.waitFor(keys, state => state === 'unused', limitS * 1000)
    if (waiting.size > 0)
      this.deps.log.warning(
        `Still draining after ${limitS} s (${this.settings.drainTimeoutSeconds === undefined ? "the group's deregistration delay plus a margin" : 'input "drain-timeout"'}): ` +
          `${[...waiting.values()].flat().join('; ')}; restarting them anyway.`
      )
    for (const key of keys) this.passage(key).drainedMs = Date.now() - started
    this.deps.log.info(
      `Drained ${named(keys)} from their target groups in ${formatSeconds(Date.now() - started)}.`
    )
  }

  /**
   * Registers back the batch's instances that did not fail and waits until each is healthy in
   * every group; those that fail to, and those that failed, stay out. Resolves to the messages of
   * those that did not become healthy in time.
   */
  private async putBack(
    keys: readonly string[],
    failed: ReadonlySet<string>
  ): Promise<Map<string, string>> {
    const started = Date.now()
    for (const key of keys.filter(k => failed.has(k))) this.keepOut(key)
    const back = keys.filter(k => !failed.has(k))
    if (back.length === 0) return new Map()
    for (const group of this.groups) {
      const targets = back.flatMap(k => this.targetsIn(k, group.arn))
      if (targets.length === 0) continue
      await registerTargets(this.elb, group.arn, targets)
      this.markIn(group.arn, targets)
    }
    const limitMs = this.settings.healthyTimeoutSeconds * 1000
    const late = await this.waitFor(back, state => state === 'healthy', limitMs)
    const unhealthy = new Map<string, string>()
    for (const key of back) {
      const seen = late.get(key)
      if (!seen) {
        this.passage(key).healthyMs = Date.now() - started
        continue
      }
      await this.takeOutAgain(key)
      unhealthy.set(
        key,
        `${key} did not become healthy in its target group within ${this.settings.healthyTimeoutSeconds} s (input "healthy-timeout"): ${seen.join('; ')}. It stays deregistered, so it takes no traffic.`
      )
    }
    return unhealthy
  }

  /** Deregisters an instance that came back unhealthy; it stays out, unlike those a stop left. */
  private async takeOutAgain(key: string): Promise<void> {
    for (const m of this.members.get(key) ?? [])
      await deregisterTargets(this.elb, m.group.arn, m.targets)
    this.keepOut(key)
  }

  /**
   * Polls the batch's targets, one DescribeTargetHealth per group per round, until each is in the
   * state `done` accepts or `limitMs` is spent; resolves to those that never got there, by
   * instance id: "<target> in <group>: <state> (<reason>)".
   */
  private async waitFor(
    keys: readonly string[],
    done: (state: string) => boolean,
    limitMs: number
  ): Promise<Map<string, string[]>> {
    const backoff = createBackoff({
      totalMs: limitMs,
      initialDelayMs: POLL_FIRST_MS,
      maxDelayMs: POLL_MAX_MS,
      sleep: this.deps.sleep
    })
    for (;;) {
      const pending = new Map<string, string[]>()
      for (const group of this.groups) {
        const mine = keys.flatMap(k => this.targetsIn(k, group.arn).map(t => ({ key: k, t })))
        if (mine.length === 0) continue
        const states = await describeTargetHealth(
          this.elb,
          group.arn,
          mine.map(m => m.t)
        )
        for (const { key, t } of mine) {
          const seen = states.find(s => sameTarget(s.target, t))
          if (seen && done(seen.state)) continue
          // ELBv2's words: quoted like any answer that is not the action's own.
          const reason = seen?.reason ? ` (${quoteUntrusted(seen.reason, 100)})` : ''
          const state = seen ? `${quoteUntrusted(seen.state, 40)}${reason}` : 'missing'
          pending.set(key, [
            ...(pending.get(key) ?? []),
            `${describeTarget(t)} in ${group.arn}: ${state}`
          ])
        }
      }
      if (pending.size === 0 || !(await backoff.wait())) return pending
    }
  }

  /** Whatever stopped the run: every target this run took out and did not keep out goes back. */
  private async registerBackAll(): Promise<void> {
    for (const [arn, targets] of [...this.out]) {
      if (targets.length === 0) continue
      try {
        // Not with the step's signal, which a stop has aborted: one call, a fraction of a second.
        await registerTargets(this.elb, arn, targets)
        this.markIn(arn, targets)
        this.deps.log.info(`Registered ${listed(targets)} back into target group ${arn}.`)
      } catch (error) {
        this.deps.log.warning(
          `Could not register ${listed(targets)} back into target group ${arn}: ${failureMessage(error)} The post step tries again.`
        )
      }
    }
  }

  private markOut(arn: string, targets: readonly GroupTarget[]): void {
    this.out.set(arn, [...(this.out.get(arn) ?? []), ...targets])
    this.save()
  }

  private markIn(arn: string, targets: readonly GroupTarget[]): void {
    const left = (this.out.get(arn) ?? []).filter(t => !targets.some(x => sameTarget(x, t)))
    this.out.set(arn, left)
    this.save()
  }

  private keepOut(key: string): void {
    this.passage(key).keptOut = true
    for (const m of this.members.get(key) ?? []) this.markIn(m.group.arn, m.targets)
  }

  private save(): void {
    const saved: SavedTargets[] = [...this.out]
      .filter(([, targets]) => targets.length > 0)
      .map(([groupArn, targets]) => ({ groupArn, targets }))
    this.settings.state.save(TRAFFIC_STATE, saved.length ? JSON.stringify(saved) : '')
  }

  private passage(key: string): Passage {
    let passage = this.passages.get(key)
    if (!passage) this.passages.set(key, (passage = {}))
    return passage
  }

  /** The instances this run left out of their groups, in id order. */
  outOfService(): string[] {
    return [...this.passages]
      .filter(([, p]) => p.keptOut)
      .map(([key]) => key)
      .sort()
  }

  /** The summary's columns: drained in, healthy after; "-" for an instance behind no group. */
  annotate(results: InstanceResult[]): InstanceResult[] {
    return results.map(r => {
      const p = this.passages.get(r.instanceId)
      const behind = this.members.has(r.instanceId)
      return {
        ...r,
        drained:
          p?.drainedMs !== undefined ? formatSeconds(p.drainedMs) : behind ? '-' : 'not behind it',
        healthyAfter:
          p?.healthyMs !== undefined ? formatSeconds(p.healthyMs) : p?.keptOut ? 'kept out' : '-'
      }
    })
  }

  /** Output out-of-service, the summary's note and the warning for those left out. */
  conclude(report: RestartReport): void {
    const out = this.outOfService()
    this.deps.outputs.set(OUTPUTS.outOfService, JSON.stringify(out))
    report.outOfService = { groupArns: this.groups.map(g => g.arn), instanceIds: out }
    if (out.length > 0)
      this.deps.log.warning(
        `Left out of target group ${this.groups.map(g => g.arn).join(', ')} (deregistered, taking no traffic): ${out.join(', ')} (output out-of-service). ` +
          'Fix them, then restart them again or register them yourself.'
      )
  }
}

function sameTarget(a: GroupTarget, b: GroupTarget): boolean {
  return a.id === b.id && (a.port === undefined || b.port === undefined || a.port === b.port)
}
