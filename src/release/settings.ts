import path from 'node:path'
import { ActionError } from '../lib/errors.js'

// What a release needs, from the workflow's inputs: every value checked here, before anything
// changes, since each ends up in a command on the instance (always as one quoted word, never
// spliced: see remote-scripts.ts).

/** The release inputs as the workflow wrote them (trimmed); empty where not given. */
export interface RawReleaseInputs {
  releasePath: string
  releaseInclude: string[]
  appDir: string
  releaseCommand: string
  releaseTimeout: string
  keepReleases: string
  healthUrl: string
  healthTimeout: string
  rollbackOnFailure: boolean
}

/** How a release ships and runs on each instance; undefined in the action when release-path is empty. */
export interface ReleaseSettings {
  /** The directory to ship, relative to the workspace, as git names it ("" for the top). */
  releasePath: string
  /** Glob lines, relative to releasePath: working-tree files shipped besides the commit's. */
  include: string[]
  /** Absolute, checked: on each instance, releases/ and current live here. */
  appDir: string
  /** Run in the new release's directory before the switch; empty: none. */
  command: string
  timeoutSeconds: number
  keep: number
  rollbackOnFailure: boolean
}

/** How the service is judged healthy after a restart (release or not). */
export interface HealthSettings {
  /** Probed with curl on the instance until it answers 2xx; empty: none. */
  url: string
  /** Retry within this many seconds; undefined: a single check, as without a release. */
  timeoutSeconds?: number
}

// A path on the instance that needs no quoting to be read, and that no shell can take for syntax:
// absolute, of plain segments, never "." or "..".
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/
const MAX_APP_DIR = 1024

/** Input "app-dir", or its default /opt/<service>: an absolute path of plain segments. */
export function checkAppDir(appDir: string, service: string): string {
  const given = appDir !== ''
  const dir = given ? appDir.replace(/\/+$/, '') : `/opt/${service.replace(/\.service$/, '')}`
  const segments = dir.split('/').slice(1)
  if (
    dir.startsWith('/') &&
    dir.length <= MAX_APP_DIR &&
    segments.length > 0 &&
    segments.every(segment => SEGMENT.test(segment) && segment !== '..')
  )
    return dir
  const what = given
    ? `Input "app-dir" is ${JSON.stringify(appDir)}`
    : `Input "app-dir" is empty, and its default /opt/<service> would be ${JSON.stringify(dir)}`
  throw new ActionError(
    `${what}: it must be an absolute path on the instance such as /opt/fastapi, of names made of ` +
      'letters, digits, ".", "_" and "-" (no spaces, quotes or other shell syntax, no "..").'
  )
}

/** Input "release-path": a directory inside the workspace, as git names it from the top. */
export function checkReleasePath(releasePath: string, workspace: string): string {
  const top = path.resolve(workspace)
  const resolved = path.resolve(top, releasePath)
  const relative = path.relative(top, resolved)
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new ActionError(
      `Input "release-path" is ${JSON.stringify(releasePath)}, which is outside the workspace (${top}): ` +
        'give a directory of the checked-out repository, relative to it, such as "." or "app".'
    )
  }
  return relative.split(path.sep).join('/')
}

/** A glob line of release-include: relative, inside release-path. */
function checkIncludeLine(line: string): string {
  const normal = path.posix.normalize(line)
  if (path.posix.isAbsolute(line) || normal === '..' || normal.startsWith('../')) {
    throw new ActionError(
      `Input "release-include" has ${JSON.stringify(line)}: each line is a glob relative to ` +
        'input "release-path", such as dist/**, and may not leave it.'
    )
  }
  return line
}

function wholeNumber(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ActionError(
      `Input "${name}" must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}.`
    )
  }
  return value
}

/** Input "health-url": an http(s) URL, probed on the instance itself. */
export function checkHealthUrl(url: string): string {
  if (url === '') return ''
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    parsed = undefined
  }
  // Control characters and spaces never belong in a URL; curl would be handed more than one.
  // eslint-disable-next-line no-control-regex
  if (!parsed || !/^https?:$/.test(parsed.protocol) || /[\s\u0000-\u001f\u007f]/.test(url)) {
    throw new ActionError(
      `Input "health-url" is ${JSON.stringify(url)}: give an http:// or https:// URL as the instance ` +
        'itself reaches the service, such as http://127.0.0.1:8000/health.'
    )
  }
  return url
}

/** Every release input checked; undefined when input "release-path" is empty (no release). */
export function checkReleaseInputs(
  raw: RawReleaseInputs,
  service: string,
  workspace: string
): ReleaseSettings | undefined {
  if (raw.releasePath === '') {
    const stray = (
      [
        ['release-include', raw.releaseInclude.length > 0],
        ['app-dir', raw.appDir !== ''],
        ['release-command', raw.releaseCommand !== '']
      ] as const
    ).find(([, given]) => given)
    if (stray) {
      throw new ActionError(
        `Input "${stray[0]}" is for a release, but input "release-path" is empty: set release-path ` +
          '(the directory to ship, such as "."), or remove the input.'
      )
    }
    return undefined
  }
  return {
    releasePath: checkReleasePath(raw.releasePath, workspace),
    include: raw.releaseInclude.map(checkIncludeLine),
    appDir: checkAppDir(raw.appDir, service),
    command: raw.releaseCommand,
    timeoutSeconds: wholeNumber('release-timeout', raw.releaseTimeout, 1, 6 * 3600),
    keep: wholeNumber('keep-releases', raw.keepReleases, 1, 1000),
    rollbackOnFailure: raw.rollbackOnFailure
  }
}

/** Inputs "health-url" and "health-timeout"; a release retries the check within the timeout. */
export function checkHealthInputs(url: string, timeout: string, release: boolean): HealthSettings {
  const timeoutSeconds =
    timeout !== '' ? wholeNumber('health-timeout', timeout, 1, 3600) : release ? 60 : undefined
  return { url: checkHealthUrl(url), timeoutSeconds }
}

/** The release's name on every instance: `<12 of the commit's sha>-<run id>-<run attempt>`. */
export function releaseId(sha: string, runId: string, runAttempt: string): string {
  if (!/^[0-9a-f]{40}$/.test(sha))
    throw new ActionError(`Not a commit sha: ${JSON.stringify(sha)}.`)
  const run = /^\d{1,20}$/.test(runId) ? runId : '0'
  const attempt = /^\d{1,5}$/.test(runAttempt) ? runAttempt : '1'
  return `${sha.slice(0, 12)}-${run}-${attempt}`
}

/**
 * A release id as the instance reports it (where current points): believed only when it is a plain
 * name, since it becomes an output and, for a rollback, a word of a remote command.
 */
export function releaseIdFromInstance(text: string): string | undefined {
  const id = text.trim().replace(/^releases\//, '')
  return id.length <= 128 && SEGMENT.test(id) ? id : undefined
}
