// What the release engine (release-engine.ts) and a transport that ships releases agree on.
// Types only. A release on one instance is a sequence of hooks, so that what comes next (a
// bastion, a load balancer's drain, a rotation) can wrap the same steps.
import type { Readable } from 'node:stream'
import type { Logger, UntrustedSink } from '../lib/log.js'
import type { ReleaseSettings } from '../release/settings.js'
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
   * Locks app-dir, ships `archive` and extracts it, runs release-command; resolves to where
   * current pointed.
   */
  receive(archive: Readable, output?: UntrustedSink): Promise<{ previous?: string }>
  /**
   * Switches current to the release, restarts and checks; resolves to the summary's words. With
   * `finish`, in the same go, what finish does (saving a round trip where nothing can undo it).
   */
  activate(output?: UntrustedSink, finish?: { previous?: string }): Promise<string>
  /** Switches current back to `previous`, restarts and checks again. */
  rollback(previous: string, output?: UntrustedSink): Promise<string>
  /** After a switch that stays: removes old releases (keep-releases) and unlocks. */
  finish(previous: string | undefined, output?: UntrustedSink): Promise<void>
  /** Unlocks, removing the release when current does not point to it; never rejects. */
  abandon(output?: UntrustedSink): Promise<void>
  close(): void
}

export interface ReleaseSteps {
  /** Once, before any instance (the host key mode goes to the log); then one per instance. */
  prepare(
    targets: readonly RestartTarget[],
    settings: RestartSettings,
    release: ReleaseRun,
    deps: RestartDeps,
    log: Logger
  ): Promise<(target: RestartTarget) => Promise<InstanceRelease>>
}
