// What the release engine (release-engine.ts) and a transport that ships releases agree on.
// Types only. A release on one instance is a sequence of hooks, so that what comes next (a
// bastion, a load balancer's drain, a rotation) can wrap the same steps.
import type { Readable } from 'node:stream'
import type { Logger, UntrustedSink } from '../lib/log.js'
import type { ReleaseSettings } from '../release/settings.js'
import type { FailureLogs } from './failure-logs.js'
import type { RestartDeps, RestartSettings, RestartTarget } from './transport.js'

/** One release of this run: the same on every instance. */
export interface ReleaseRun {
  settings: ReleaseSettings
  /** `<12 of the sha>-<run id>-<run attempt>`: the directory's name under releases/. */
  id: string
  /** The REVISION file's text: the commit's sha and the workflow run's URL. */
  revision: string
  /** Written into the lock, so that a second run waiting for it can say whose it is. */
  holder: string
  /** A fresh archive stream (tar, gzip) of what ships; the engine shares one among receivers. */
  archive(): Readable
}

/** The release on one instance, step by step; each step's remote output goes to `output`. */
export interface InstanceRelease {
  /**
   * Locks app-dir, ships `archive` (over SSH; over SSM the archive went to S3 in prepare) and
   * extracts it, runs release-command; resolves to where current pointed.
   */
  receive(archive: Readable | undefined, output?: UntrustedSink): Promise<{ previous?: string }>
  /**
   * Switches current to the release, restarts and checks; resolves to the summary's words. With
   * `finish`, in the same go, what finish does (saving a round trip where nothing can undo it).
   */
  activate(output?: UntrustedSink, finish?: { previous?: string }): Promise<string>
  /**
   * For an instance alone: receive, activate and finish in one go (one channel over SSH, where
   * each channel costs the login shell's start). A failure is a ShipFailure.
   */
  shipAndActivate?(
    archive: Readable | undefined,
    output?: UntrustedSink
  ): Promise<{ previous?: string; checked: string }>
  /** Switches current back to `previous`, restarts and checks again. */
  rollback(previous: string, output?: UntrustedSink): Promise<string>
  /** After a switch that stays: removes old releases (keep-releases) and unlocks. */
  finish(previous: string | undefined, output?: UntrustedSink): Promise<void>
  /** Unlocks, removing the release when current does not point to it; never rejects. */
  abandon(output?: UntrustedSink): Promise<void>
  close(): void
}

export interface ReleaseSteps {
  /** Each instance reads its own share of the archive (SSH); else prepare ships it once (SSM). */
  readonly streamsArchive: boolean
  /**
   * The transport takes every instance's receive at once and bounds how many run together itself
   * (SSM's MaxConcurrency); else the engine receives in waves of max-concurrency.
   */
  readonly receivesAtOnce?: boolean
  /** Once, before any instance (the host key mode goes to the log); then one per instance. */
  prepare(
    targets: readonly RestartTarget[],
    settings: RestartSettings,
    release: ReleaseRun,
    deps: RestartDeps,
    log: Logger
  ): Promise<(target: RestartTarget) => Promise<InstanceRelease>>
  /** SSM Run Command's ids of the commands sent so far. */
  commandIds?(): string[]
  /** When the release ends, however it ends (the S3 object is deleted); never rejects. */
  cleanUp?(): Promise<void>
}

/** How the release engine reaches the instances: either transport, with its release steps. */
export interface ReleaseTransport {
  readonly name: 'ssh' | 'ssm'
  /** How the log says it went: "over SSH". */
  readonly via: string
  /** As the log and the summary name a target. */
  where(target: RestartTarget): string | undefined
  /** A step's failure, as a row of the fleet table says it. */
  failure(error: unknown): {
    status: string
    exitCode?: number
    message: string
    logs?: FailureLogs
  }
  releases: ReleaseSteps
}

/** How shipAndActivate failed: whether current was switched by then, and where it pointed before. */
export class ShipFailure extends Error {
  constructor(
    readonly failure: unknown,
    readonly switched: boolean,
    readonly previous: string | undefined
  ) {
    super(failure instanceof Error ? failure.message : String(failure))
    this.name = 'ShipFailure'
  }
}
