import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { glob, lstat, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { PassThrough, pipeline, type Readable } from 'node:stream'
import { createGzip } from 'node:zlib'
import tar from 'tar-stream'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'
import type { ReleaseSettings } from './settings.js'

// What a release ships: `git archive` of the checked-out commit, limited to release-path (only
// committed content, never node_modules, .env or caches), plus the working tree's files that
// release-include names (build output git ignores). One tar stream, gzip-compressed once, read
// as it is sent: never written whole to disk or held whole in memory.

/** What the archive holds, worked out (and checked) before anything changes. */
export interface ArchivePlan {
  workspace: string
  /** Relative to the workspace, as git names it ("" for the top). */
  releasePath: string
  /** The commit shipped; outside a git checkout, GITHUB_SHA when it is one. */
  sha?: string
  /** Whether the commit's files ship (a git checkout), or release-include's alone. */
  fromGit: boolean
  /** Files from the working tree, relative to releasePath, in a stable order. */
  includeFiles: string[]
}

interface GitResult {
  code: number | null
  stdout: string
  stderr: string
}

function git(workspace: string, args: string[]): Promise<GitResult> {
  return new Promise(resolve => {
    const child = spawn('git', args, { cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk.slice(0, 4096)))
    child.on('error', error => resolve({ code: null, stdout, stderr: error.message }))
    child.on('close', code => resolve({ code, stdout, stderr }))
  })
}

/** The tree-ish `git archive` takes: the commit's directory at releasePath. */
const treeOf = (releasePath: string) => `HEAD:${releasePath}`

/**
 * Checks what ships: the commit (when the workspace is a git checkout), release-path a directory
 * of it, the release-include files inside release-path; refuses a release that would be empty.
 */
export async function planArchive(
  settings: ReleaseSettings,
  workspace: string,
  fallbackSha: string | undefined
): Promise<ArchivePlan> {
  const head = await git(workspace, ['rev-parse', '--verify', 'HEAD^{commit}'])
  const inGit = head.code === 0
  const quotedPath = JSON.stringify(settings.releasePath || '.')
  if (!inGit && settings.include.length === 0) {
    throw new ActionError(
      `Input "release-path" is ${quotedPath}, but ${workspace} is not a git checkout with a commit ` +
        `(git: ${quoteUntrusted(head.stderr.trim(), 300)}): a release ships the checked-out commit. ` +
        'Run actions/checkout first, or name the files to ship in input "release-include".'
    )
  }
  let tracked = 0
  if (inGit) {
    const tree = await git(workspace, [
      'ls-tree',
      '-r',
      '--name-only',
      treeOf(settings.releasePath)
    ])
    if (tree.code !== 0) {
      throw new ActionError(
        `Input "release-path" is ${quotedPath}, which is not a directory of the checked-out commit: ` +
          'give a directory the repository tracks, relative to the workspace.'
      )
    }
    tracked = tree.stdout.split('\n').filter(Boolean).length
  }
  const includeFiles = await matchIncludes(settings, workspace)
  if (tracked === 0 && includeFiles.length === 0) {
    throw new ActionError(
      `Input "release-path" is ${quotedPath}, which holds no committed file` +
        (settings.include.length ? ', and input "release-include" matched no file' : '') +
        ': there is nothing to ship.'
    )
  }
  const sha = inGit ? head.stdout.trim() : fallbackSha
  return { workspace, releasePath: settings.releasePath, sha, fromGit: inGit, includeFiles }
}

/** The regular files release-include matches, each inside release-path (after symlinks). */
async function matchIncludes(settings: ReleaseSettings, workspace: string): Promise<string[]> {
  if (settings.include.length === 0) return []
  const base = path.resolve(workspace, settings.releasePath)
  const realBase = await realpath(base)
  const found = new Set<string>()
  for await (const match of glob(settings.include, { cwd: base })) {
    const full = path.resolve(base, match)
    const stat = await lstat(full)
    if (stat.isDirectory()) continue
    if (!stat.isFile() && !stat.isSymbolicLink()) continue
    const real = await realpath(full).catch(() => undefined)
    if (real === undefined || path.relative(realBase, real).startsWith('..')) {
      throw new ActionError(
        `Input "release-include" matches ${JSON.stringify(match)}, a link to outside input "release-path" (or to nothing): only files inside it ship.`
      )
    }
    found.add(match.split(path.sep).join('/'))
  }
  return [...found].sort()
}

/**
 * The archive as a gzip stream: git's own tar.gz when nothing else ships, else git's entries and
 * then the included files, re-packed as one tar and compressed here. Destroying the stream stops
 * git.
 */
export function archiveStream(plan: ArchivePlan): Readable {
  // git compresses its own archive, in a process of its own: nothing passes through this one's
  // heap but the bytes that are sent, and the compression runs beside the upload.
  if (plan.fromGit && plan.includeFiles.length === 0) return gitArchive(plan, 'tar.gz')
  const gzip = createGzip()
  const gitTar = plan.fromGit ? gitArchive(plan, 'tar') : undefined
  const pack = tar.pack()
  pipeline(pack, gzip, () => undefined)
  void fillPack(pack, gitTar, plan).catch(error => gzip.destroy(error as Error))
  return gzip
}

/**
 * One archive read by `count` receivers at once: made and compressed once, each chunk passed to
 * every receiver, at the pace of the slowest (backpressure); a receiver that stops (its instance
 * failed) is dropped, and once all have, the archive stops.
 */
export function broadcast(source: Readable, count: number): Readable[] {
  const receivers = Array.from({ length: count }, () => new PassThrough())
  const live = new Set(receivers)
  // The receivers the archive waits for before it reads on.
  const waiting = new Set<PassThrough>()
  const settle = (receiver: PassThrough) => {
    waiting.delete(receiver)
    if (waiting.size === 0) source.resume()
  }
  for (const receiver of receivers) {
    receiver.on('drain', () => settle(receiver))
    receiver.on('close', () => {
      live.delete(receiver)
      settle(receiver)
      if (live.size === 0) source.destroy()
    })
  }
  source.on('data', (chunk: Buffer) => {
    for (const receiver of live) if (!receiver.write(chunk)) waiting.add(receiver)
    if (waiting.size > 0) source.pause()
  })
  source.on('end', () => live.forEach(receiver => receiver.end()))
  source.on('error', error => live.forEach(receiver => receiver.destroy(error)))
  return receivers
}

/** `git archive` of the commit's release-path directory; fails the stream if git fails. */
function gitArchive(plan: ArchivePlan, format: 'tar' | 'tar.gz'): Readable {
  const child = spawn('git', ['archive', `--format=${format}`, treeOf(plan.releasePath)], {
    cwd: plan.workspace,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const out = new PassThrough()
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk.slice(0, 2048)))
  child.stdout.pipe(out, { end: false })
  child.on('close', code => {
    if (code === 0) out.end()
    else out.destroy(new ActionError(`git archive failed: ${quoteUntrusted(stderr.trim(), 500)}`))
  })
  out.on('close', () => child.kill())
  return out
}

/** git's entries as they come, then each included file, into one tar. */
async function fillPack(pack: tar.Pack, gitTar: Readable | undefined, plan: ArchivePlan) {
  if (gitTar) {
    const extract = tar.extract()
    pipeline(gitTar, extract, error => {
      if (error) extract.destroy(error)
    })
    for await (const entry of extract) {
      const { header } = entry
      if ((header.type as string) === 'pax-global-header') {
        entry.resume()
        continue
      }
      await new Promise<void>((resolve, reject) => {
        const sink = pack.entry(header, error => (error ? reject(error) : resolve()))
        entry.pipe(sink)
      })
    }
  }
  const base = path.resolve(plan.workspace, plan.releasePath)
  for (const file of plan.includeFiles) {
    const full = path.join(base, file)
    // Followed: a link inside release-path ships as the file it names (checked in the plan).
    const info = await stat(full)
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(
        { name: file, size: info.size, mode: info.mode & 0o777, mtime: info.mtime },
        error => (error ? reject(error) : resolve())
      )
      createReadStream(full).on('error', reject).pipe(sink)
    })
  }
  pack.finalize()
}
