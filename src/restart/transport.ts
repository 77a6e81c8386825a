import type { Logger, StepOutputs } from '../lib/log.js'
// What the restart engine (engine.ts) and its transports agree on: the engine decides which
// instances, how many at once and what the run reports; a transport reaches the instances.
// Types only: a transport imports this, never the engine.
import type { InstanceResult } from './report.js'
import type { FailureLogs, InstanceFailureLogs } from './failure-logs.js'
import type { UntrustedSink } from '../lib/log.js'
import type { EarlySocket } from './ssh/connect.js'
import type { HostKeyCheck } from './ssh/host-keys.js'
import type { Rate } from './rate.js'
import type { RestartScript } from './script.js'
import type { ReleaseRun, ReleaseSteps, ReleaseTransport } from './release-steps.js'
import type { TrafficSettings } from './traffic-gate.js'

/** What every restart does, whichever transport runs it; worked out once, in the plan. */
export interface RestartSettings {
  /** "Restart, then check", with the unit it restarts. */
  script: RestartScript
  maxConcurrency: Rate
  maxErrors: Rate
  /** Ship this release before the restart (input "release-path"): release-engine.ts. */
  release?: ReleaseRun
  /** Behind ELBv2 target groups (input "target-group-arn"): traffic-gate.ts. */
  traffic?: TrafficSettings
}

/** One instance to restart. */
export interface RestartTarget {
  /** Known for a deployed or targeted instance; a restart at the secret's address alone lacks it. */
  instanceId?: string
  /** Empty for an instance named by input "targets" that has no address of address-type. */
  address: string
  /** A connection to the address opened as soon as it was known (port: input "ssh-port"). */
  earlySocket?: EarlySocket
}

export interface RestartDeps {
  log: Logger
  /** Where `restarted` and `command-id` go. */
  outputs: StepOutputs
  sleep: (ms: number) => Promise<void>
  /** The step's cancellation: every transport stops at it, and says what it left. */
  signal?: AbortSignal
}

interface TransportBase {
  /** "ssh" or "ssm", as the summary's fleet table names the way it went. */
  readonly name: 'ssh' | 'ssm'
  /** How the log says it went: "over SSH". */
  readonly via: string
  /**
   * What a stop during the restart leaves, when the transport did not say it in its StoppedError
   * (e.g. a stop in a wait or a connection): with one instance, or several.
   */
  stopped(several: boolean): string
}

/**
 * A transport that reaches one instance at a time (SSH): the engine runs the fan-out, with
 * max-concurrency and max-errors, and reports each instance.
 */
export interface InstanceTransport extends TransportBase {
  readonly kind: 'instance'
  /**
   * Once, before any instance: logs how the instances will be checked (the host key mode), and
   * resolves to what makes each one ready.
   */
  prepare(
    targets: readonly RestartTarget[],
    settings: RestartSettings,
    deps: RestartDeps
  ): Promise<(target: RestartTarget) => Promise<PreparedRestart>>
  /** `host:port`, as the log and the summary name a target; undefined without an address. */
  where(target: RestartTarget): string | undefined
  /**
   * A failure of getting ready or of the restart, as a row of the fleet table says it, with what
   * the instance said about the unit afterwards (input "failure-logs").
   */
  failure(error: unknown): {
    status: string
    exitCode?: number
    message: string
    logs?: FailureLogs
  }
  /** The steps of a release on each instance, for a transport that ships releases. */
  releases?: ReleaseSteps
}

/** One instance, with what it needs known before anything reaches it (its host key). */
export interface PreparedRestart {
  /**
   * Restarts and checks, and resolves to what follows "restarted, " in the summary. Remote output
   * goes to `output` (a fleet's collector), or streams to the log when there is none.
   */
  run(output?: UntrustedSink): Promise<string>
}

/**
 * A transport that restarts the whole fleet at once (SSM Run Command): AWS runs the fan-out with
 * the same rates; the transport reports each instance.
 */
export interface FleetTransport extends TransportBase {
  readonly kind: 'fleet'
  /** The instance at an address: a fleet transport needs instance ids. */
  instanceAt(address: string): Promise<string>
  restartAll(
    instanceIds: string[],
    settings: RestartSettings,
    deps: RestartDeps
  ): Promise<FleetRestart>
  /** Ships a release, for a transport that can (restart: ssm with a release bucket). */
  release?: ReleaseTransport
}

/** How a fleet restart went, instance by instance. */
export interface FleetRestart {
  /** SSM Run Command's ids; empty when the engine ran the fan-out. */
  commandIds: string[]
  results: InstanceResult[]
  /** Those that did not succeed, in id order. */
  failed: InstanceResult[]
  /** Set when more failed than max-errors allows: the run fails with it. */
  failure?: string
  /** What the failed instances said about the unit (input "failure-logs"), already in the log. */
  failureLogs?: InstanceFailureLogs[]
}

export type RestartTransport = InstanceTransport | FleetTransport

/**
 * The host key check of each target, for the SSH transport: the mode in force goes to the log
 * once, when the targets are known.
 */
export type HostKeyPolicy = (
  targets: readonly RestartTarget[],
  deps: Pick<RestartDeps, 'sleep' | 'log'>
) => Promise<(target: RestartTarget) => Promise<HostKeyCheck>>
