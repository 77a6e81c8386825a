import { readFileSync } from 'node:fs'
import { StoppedError } from '../../lib/cancel.js'
import { ActionError } from '../../lib/errors.js'
import { quoteUntrusted, type Logger } from '../../lib/log.js'
import type { PreviewReport } from '../preview.js'
import { buildDiffComment, commentMarker } from './body.js'
import { GitHubApiError, GitHubClient } from './github-rest.js'

/** Inputs comment-on-pr, github-token, comment-key, comment-mode and comment-required. */
export interface CommentInputs {
  onPullRequest: boolean
  token: string
  /** Goes into the comment's hidden marker, beside the stack; empty: none. */
  key: string
  /** update: edit the comment in place; replace: delete it and post a new one (a notification). */
  mode: 'update' | 'replace'
  /** A comment that cannot be posted fails the step, instead of a warning. */
  required: boolean
}

/** The events whose payload is a pull request's (`pull_request.number`, `head`, `base`). */
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target']
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/

/** The pull request a run is for. */
export interface PullRequest {
  /** `owner/name` of the repository the pull request is in. */
  repository: string
  number: number
  headSha?: string
  /** `owner/name` of the fork it comes from, if it does. */
  fork?: string
}

/** An issue comment as the REST API lists it (the fields read here). */
interface IssueComment {
  id: number
  body?: string | null
  html_url?: string
  user?: { login?: string; type?: string } | null
}

interface EventPayload {
  pull_request?: {
    number?: unknown
    head?: { sha?: unknown; repo?: { full_name?: unknown } | null }
    base?: { repo?: { full_name?: unknown } }
  }
}

/** The pull request of a pull_request (or pull_request_target) event, from its payload. */
export function readPullRequest(env: NodeJS.ProcessEnv): PullRequest {
  let payload: EventPayload
  try {
    payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH ?? '', 'utf8')) as EventPayload
  } catch {
    throw new ActionError(
      `The event payload (GITHUB_EVENT_PATH "${env.GITHUB_EVENT_PATH ?? ''}") could not be read as JSON.`
    )
  }
  const pr = payload.pull_request
  const number = pr?.number
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) {
    throw new ActionError('The event payload has no pull_request.number.')
  }
  const base = pr?.base?.repo?.full_name
  const repository = REPOSITORY.test(env.GITHUB_REPOSITORY ?? '')
    ? (env.GITHUB_REPOSITORY as string)
    : typeof base === 'string' && REPOSITORY.test(base)
      ? base
      : undefined
  if (!repository) {
    throw new ActionError('Neither GITHUB_REPOSITORY nor the event payload names the repository.')
  }
  const head = pr?.head?.repo?.full_name
  const sha = pr?.head?.sha
  return {
    repository,
    number,
    headSha: typeof sha === 'string' && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined,
    // A fork that was deleted since has no repo.
    fork:
      pr?.head?.repo === null
        ? 'a deleted fork'
        : typeof head === 'string' && head.toLowerCase() !== repository.toLowerCase()
          ? head
          : undefined
  }
}

/** The run's page, whose job summary has the whole diff; undefined when the runner gave no parts. */
export function runUrl(env: NodeJS.ProcessEnv): string | undefined {
  const server = (env.GITHUB_SERVER_URL ?? '').replace(/\/+$/, '')
  const { GITHUB_REPOSITORY: repository = '', GITHUB_RUN_ID: id = '' } = env
  // Built into a markdown link: no character that could end it.
  if (!/^https?:\/\/[^\s()<>[\]"'`\\]+$/.test(server) || !REPOSITORY.test(repository))
    return undefined
  if (!/^\d+$/.test(id)) return undefined
  const attempt = env.GITHUB_RUN_ATTEMPT ?? ''
  const attemptPart = /^\d+$/.test(attempt) && attempt !== '1' ? `/attempts/${attempt}` : ''
  return `${server}/${repository}/actions/runs/${id}${attemptPart}`
}

/**
 * Who the token posts as: GraphQL's `viewer`. REST's GET /user refuses installation tokens (the
 * workflow's token is one: "Resource not accessible by integration"); `viewer` answers every kind,
 * `github-actions[bot]` for the workflow's token, `<app>[bot]` for an app's, the user for a PAT.
 */
export async function tokenLogin(github: GitHubClient): Promise<string> {
  const data = await github.graphql<{ viewer?: { login?: unknown } }>('query { viewer { login } }')
  const login = data.viewer?.login
  if (typeof login !== 'string' || login === '')
    throw new GitHubApiError('POST', '/graphql', 200, 'the answer names no viewer', 1)
  return login
}

export type CommentMode = CommentInputs['mode']

export interface CommentResult {
  action: 'created' | 'updated' | 'unchanged' | 'replaced'
  url?: string
  /** Other comments of ours with the same marker, deleted. */
  removed: number
}

/**
 * Creates, updates or replaces the one comment of `marker` on the pull request. Only comments
 * `author` wrote count (a reviewer may quote the marker): the oldest is updated, any other copy
 * (from two runs at once) deleted; with mode "replace", a new one is posted, then the old deleted.
 */
export async function upsertComment(
  github: GitHubClient,
  pr: PullRequest,
  marker: string,
  body: string,
  mode: CommentMode,
  author: string
): Promise<CommentResult> {
  const list = `/repos/${pr.repository}/issues/${pr.number}/comments`
  const ours: IssueComment[] = []
  for await (const comment of github.paginate<IssueComment>(`${list}?per_page=100`)) {
    const login = comment.user?.login
    if (typeof login !== 'string' || login.toLowerCase() !== author.toLowerCase()) continue
    if ((comment.body ?? '').startsWith(marker)) ours.push(comment)
  }
  const remove = async (comments: IssueComment[]) => {
    for (const comment of comments) {
      try {
        await github.request('DELETE', `/repos/${pr.repository}/issues/comments/${comment.id}`)
      } catch (error) {
        // Deleted already, by a person or another run.
        if (!(error instanceof GitHubApiError && error.status === 404)) throw error
      }
    }
    return comments.length
  }
  const create = async () =>
    (await github.request<IssueComment>('POST', list, { body })).data.html_url

  const [oldest, ...copies] = ours
  if (mode === 'update' && oldest) {
    if (oldest.body === body)
      return { action: 'unchanged', url: oldest.html_url, removed: await remove(copies) }
    try {
      const updated = await github.request<IssueComment>(
        'PATCH',
        `/repos/${pr.repository}/issues/comments/${oldest.id}`,
        { body }
      )
      return { action: 'updated', url: updated.data.html_url, removed: await remove(copies) }
    } catch (error) {
      // Deleted between the list and the update: post it again.
      if (!(error instanceof GitHubApiError && error.status === 404)) throw error
      const url = await create()
      return { action: 'created', url, removed: await remove(copies) }
    }
  }
  // New first, then the old one goes: the pull request is never without the preview.
  const url = await create()
  return { action: ours.length ? 'replaced' : 'created', url, removed: await remove(ours) }
}

/** What to do about a failed comment, after what GitHub said. */
function advice(error: unknown, pr: PullRequest | undefined, event: string): string {
  if (!(error instanceof GitHubApiError)) return ''
  if (error.status === 401)
    return ' GitHub refused the token: check input "github-token" (by default the workflow\'s own, github.token).'
  if (error.status === 403 || error.status === 404) {
    const fork =
      pr?.fork && event === 'pull_request'
        ? ` This pull request comes from ${pr.fork === 'a deleted fork' ? pr.fork : `the fork "${pr.fork}"`}: ` +
          'GitHub gives the workflow of a pull request from a fork a read-only token, whatever its ' +
          'permissions ask for.'
        : ''
    return (
      ' The token needs "pull-requests: write": add it to the job\'s permissions ' +
      '(permissions: pull-requests: write), or give input "github-token" a token that has it.' +
      fork
    )
  }
  if (error.status === undefined) return " Check the runner's network and GITHUB_API_URL."
  if (error.status >= 500 || error.status === 429) return ' Re-run the job later.'
  return ''
}

export interface CommentDependencies {
  env: NodeJS.ProcessEnv
  log: Logger
  sleep: (ms: number) => Promise<void>
  signal: AbortSignal
}

/**
 * deploy: diff with comment-on-pr: the preview as one comment per stack (and comment key) on the
 * pull request, updated in place on each push. On other events it says so and does nothing. A
 * failure is a warning, or with `required` the step's failure.
 */
/** The API client, for the token of input "github-token" and the runner's API addresses. */
function githubClient(token: string, deps: CommentDependencies): GitHubClient {
  if (token === '') {
    throw new ActionError(
      'Input "github-token" is empty: leave it out (its default is the workflow\'s token) or give a token.'
    )
  }
  return new GitHubClient({
    apiUrl: deps.env.GITHUB_API_URL || 'https://api.github.com',
    graphqlUrl: deps.env.GITHUB_GRAPHQL_URL,
    token,
    sleep: deps.sleep,
    signal: deps.signal,
    onRetry: message => deps.log.info(message)
  })
}

export async function commentPreview(
  inputs: { stack: string; comment: CommentInputs },
  preview: PreviewReport,
  deps: CommentDependencies,
  { required }: { required: boolean }
): Promise<void> {
  const event = deps.env.GITHUB_EVENT_NAME ?? ''
  if (!PULL_REQUEST_EVENTS.includes(event)) {
    deps.log.notice(
      `Input "comment-on-pr" is true, but this run is for a "${quoteUntrusted(event || 'unknown', 100)}" event, ` +
        'not a pull request: no comment was posted (the preview is in the job summary).'
    )
    return
  }
  let pr: PullRequest | undefined
  try {
    pr = readPullRequest(deps.env)
    const { key, mode } = inputs.comment
    const github = githubClient(inputs.comment.token, deps)
    const author = await tokenLogin(github)
    const body = buildDiffComment({
      stack: inputs.stack,
      key,
      verdict: preview.verdict,
      diff: preview.whole,
      runUrl: runUrl(deps.env),
      commit: pr.headSha
    })
    const marker = commentMarker(inputs.stack, key)
    const result = await upsertComment(github, pr, marker, body, mode, author)
    const done = {
      created: 'posted',
      updated: 'updated',
      unchanged: 'left (already up to date)',
      replaced: 'posted anew (comment-mode: replace; the old one was deleted)'
    }[result.action]
    deps.log.info(
      `The cdk diff of stack "${inputs.stack}" is ${done} as a comment on pull request #${pr.number}, ` +
        `as ${quoteUntrusted(author, 100)}: ${quoteUntrusted(result.url ?? '(no address given)', 300)}` +
        (result.action !== 'replaced' && result.removed
          ? ` (${result.removed} older ${result.removed === 1 ? 'copy' : 'copies'} deleted).`
          : '.')
    )
  } catch (error) {
    if (error instanceof StoppedError) throw error
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\.$/, '')
    const message =
      `Could not comment the cdk diff of stack "${inputs.stack}" on ` +
      `${pr ? `pull request #${pr.number}` : 'the pull request'}: ${reason}.` +
      advice(error, pr, event) +
      (required
        ? ' (Input "comment-required" is true.)'
        : ' The preview is in the job summary; set comment-required: true to fail the step instead.')
    if (required) throw new ActionError(message)
    deps.log.warning(message)
  }
}
