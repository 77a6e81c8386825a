import { StoppedError, stopRequest } from '../../lib/cancel.js'
import { quoteUntrusted } from '../../lib/log.js'

/**
 * GitHub's REST and GraphQL APIs over Node's own fetch, with the retries Octokit's plugins make:
 * a server error (5xx) or a lost connection is retried after 1, 4, 9 s (@octokit/plugin-retry);
 * a secondary rate limit (403 or 429 whose message says "secondary rate") after its `retry-after`
 * seconds, 60 when it gives none; a spent primary limit (`x-ratelimit-remaining: 0`) after
 * `x-ratelimit-reset` (@octokit/plugin-throttling). A wait longer than `maxWaitMs` is not made:
 * the call fails, saying how long GitHub asked to wait. Other answers (400, 401, 403, 404, 422)
 * are final.
 */
export interface GitHubClientOptions {
  /** GITHUB_API_URL: `https://api.github.com`, or `https://<host>/api/v3` on GitHub Enterprise Server. */
  apiUrl: string
  /** GITHUB_GRAPHQL_URL; derived from apiUrl when empty. */
  graphqlUrl?: string
  token: string
  sleep: (ms: number) => Promise<void>
  signal: AbortSignal
  /** Retries after the first attempt. */
  retries?: number
  /** The longest wait before a retry. */
  maxWaitMs?: number
  /** How long one request may take, its answer included. */
  requestTimeoutMs?: number
  /** Told of each retry, in words. */
  onRetry?: (message: string) => void
}

export interface ApiResponse<T> {
  status: number
  headers: Headers
  data: T
}

/** One entry of a 422's `errors` (GitHub's validation errors). */
interface ValidationError {
  resource?: string
  code?: string
  field?: string
  message?: string
}

/** A call that failed for good: GitHub's answer, or no answer. Never holds the token. */
export class GitHubApiError extends Error {
  constructor(
    readonly method: string,
    /** The path below the API root, without the query. */
    readonly path: string,
    /** GitHub's HTTP status; undefined when no answer came. */
    readonly status: number | undefined,
    /** What GitHub said (its `message` and validation errors), or why no answer came; untrusted. */
    readonly detail: string,
    readonly attempts: number
  ) {
    const what =
      status !== undefined
        ? `GitHub answered ${status} to`
        : attempts
          ? 'No answer to'
          : 'Did not send'
    super(
      `${what} ${method} ${path}` +
        `${detail ? ` (${quoteUntrusted(detail, 512)})` : ''}` +
        `${attempts > 1 ? ` after ${attempts} attempts` : ''}`
    )
    this.name = 'GitHubApiError'
  }
}

const RETRIES = 3
const MAX_WAIT_MS = 60_000
const REQUEST_TIMEOUT_MS = 30_000
/** When a secondary rate limit gives no retry-after (Octokit waits as long). */
const SECONDARY_LIMIT_WAIT_MS = 60_000

/** GitHub's own answer text: `message`, then each validation error's words. */
function detailOf(data: unknown): string {
  if (typeof data !== 'object' || data === null) return typeof data === 'string' ? data : ''
  const { message, errors } = data as { message?: unknown; errors?: unknown }
  const parts = typeof message === 'string' ? [message] : []
  for (const error of Array.isArray(errors) ? (errors as ValidationError[]) : []) {
    const words =
      typeof error === 'string'
        ? error
        : (error.message ?? [error.resource, error.field, error.code].filter(Boolean).join(' '))
    if (words) parts.push(String(words))
  }
  return parts.join(': ')
}

/** The URL of `rel="next"` in a Link header (RFC 8288, as GitHub writes it), if any. */
export function nextLink(header: string | null): string | undefined {
  for (const part of (header ?? '').split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part)
    if (match && /(?:^|;)\s*rel="?next"?\s*(?:;|$)/.test(match[2])) return match[1]
  }
  return undefined
}

/** GITHUB_GRAPHQL_URL from GITHUB_API_URL: `<api>/graphql`, or `/api/graphql` beside `/api/v3`. */
function graphqlUrlFor(apiUrl: string): string {
  return /\/api\/v3\/?$/.test(apiUrl)
    ? apiUrl.replace(/\/api\/v3\/?$/, '/api/graphql')
    : `${apiUrl.replace(/\/+$/, '')}/graphql`
}

/** How long to wait before retrying this answer, or undefined when it is final. */
function retryDelayMs(response: Response, detail: string, attempt: number): number | undefined {
  const { status, headers } = response
  const retryAfter = Number(headers.get('retry-after'))
  const given = headers.get('retry-after') !== null && Number.isFinite(retryAfter)
  if ((status === 403 || status === 429) && /\bsecondary rate\b/i.test(detail))
    return given ? retryAfter * 1000 : SECONDARY_LIMIT_WAIT_MS
  if ((status === 403 || status === 429) && headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(headers.get('x-ratelimit-reset')) * 1000
    // One second past the reset, as GitHub's documentation asks.
    return Math.max(reset - Date.now() + 1000, 0)
  }
  if (status === 429) return given ? retryAfter * 1000 : (attempt + 1) ** 2 * 1000
  if (status >= 500) return given ? retryAfter * 1000 : (attempt + 1) ** 2 * 1000
  return undefined
}

/** Why a fetch gave no answer: the system's error code when there is one. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause
  if (typeof cause?.code === 'string') return cause.code
  if ((error as { name?: unknown })?.name === 'TimeoutError') return 'timed out'
  return error instanceof Error ? error.message : String(error)
}

export class GitHubClient {
  private readonly apiUrl: string
  private readonly graphqlUrl: string
  private readonly retries: number
  private readonly maxWaitMs: number
  private readonly requestTimeoutMs: number

  constructor(private readonly options: GitHubClientOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, '')
    this.graphqlUrl = options.graphqlUrl || graphqlUrlFor(this.apiUrl)
    this.retries = options.retries ?? RETRIES
    this.maxWaitMs = options.maxWaitMs ?? MAX_WAIT_MS
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  }

  /**
   * One REST call. `path` is below the API root (`/repos/o/r/issues/1/comments`), or an absolute
   * URL on the API's own origin (a Link header's): the token goes to no other host.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const url = path.startsWith('/') ? `${this.apiUrl}${path}` : path
    if (new URL(url).origin !== new URL(this.apiUrl).origin) {
      throw new GitHubApiError(
        method,
        new URL(url).pathname,
        undefined,
        `the URL is not on the API's host ${new URL(this.apiUrl).host}`,
        0
      )
    }
    return this.send<T>(method, url, body)
  }

  /** Every item of a list, following the Link header's `next`, at most `maxPages` pages. */
  async *paginate<T>(path: string, maxPages = 100): AsyncGenerator<T> {
    let next: string | undefined = path
    const seen = new Set<string>()
    for (let page = 0; next && page < maxPages && !seen.has(next); page++) {
      seen.add(next)
      const response: ApiResponse<T[]> = await this.request<T[]>('GET', next)
      if (!Array.isArray(response.data)) {
        throw new GitHubApiError('GET', this.shown(next), response.status, 'not a list', 1)
      }
      yield* response.data
      next = nextLink(response.headers.get('link'))
    }
  }

  /** A GraphQL query's `data`; GraphQL's own errors (an answer of 200) fail it too. */
  async graphql<T>(query: string): Promise<T> {
    const response = await this.send<{ data?: T; errors?: { message?: string }[] }>(
      'POST',
      this.graphqlUrl,
      { query }
    )
    const { data, errors } = response.data ?? {}
    if (errors?.length || data === undefined || data === null) {
      const detail = errors?.map(e => e.message ?? '').join('; ') || 'no data'
      throw new GitHubApiError('POST', this.shown(this.graphqlUrl), 200, detail, 1)
    }
    return data
  }

  /** The path of a URL for a message: below the API root, without the query. */
  private shown(url: string): string {
    const { pathname } = new URL(url)
    const root = new URL(this.apiUrl).pathname.replace(/\/+$/, '')
    return root && pathname.startsWith(`${root}/`) ? pathname.slice(root.length) : pathname
  }

  private async send<T>(method: string, url: string, body?: unknown): Promise<ApiResponse<T>> {
    const { signal, sleep } = this.options
    const headers = this.headers(body !== undefined)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw new StoppedError(stopRequest(signal))
      let response: Response
      let text: string
      try {
        response = await fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]),
          redirect: 'error'
        })
        text = await response.text()
      } catch (error) {
        if (signal.aborted) throw new StoppedError(stopRequest(signal))
        const reason = networkReason(error)
        const wait = (attempt + 1) ** 2 * 1000
        if (attempt < this.retries) {
          this.retrying(method, url, `no answer (${reason})`, wait, attempt)
          await sleep(wait)
          continue
        }
        throw new GitHubApiError(method, this.shown(url), undefined, reason, attempt + 1)
      }
      const data = parseBody(text)
      if (response.ok)
        return { status: response.status, headers: response.headers, data: data as T }
      const detail = detailOf(data)
      const wait = retryDelayMs(response, detail, attempt)
      if (wait !== undefined && attempt < this.retries && wait <= this.maxWaitMs) {
        this.retrying(method, url, `${response.status}${detail ? ` ${detail}` : ''}`, wait, attempt)
        await sleep(wait)
        continue
      }
      const waitNote =
        wait !== undefined && wait > this.maxWaitMs
          ? `; GitHub asked to wait ${Math.ceil(wait / 1000)} s, longer than the ${this.maxWaitMs / 1000} s the action waits`
          : ''
      throw new GitHubApiError(
        method,
        this.shown(url),
        response.status,
        `${detail}${waitNote}`,
        attempt + 1
      )
    }
  }

  private headers(withBody: boolean): Record<string, string> {
    return {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${this.options.token}`,
      'x-github-api-version': '2022-11-28',
      'user-agent': 'secrets-deploy-action',
      ...(withBody ? { 'content-type': 'application/json; charset=utf-8' } : {})
    }
  }

  private retrying(method: string, url: string, what: string, waitMs: number, attempt: number) {
    this.options.onRetry?.(
      `GitHub: ${method} ${this.shown(url)} got ${quoteUntrusted(what, 300)}; ` +
        `retrying in ${Math.ceil(waitMs / 1000)} s (attempt ${attempt + 2} of ${this.retries + 1}).`
    )
  }
}

/** A response's JSON, or its text when it is not JSON (a proxy's error page), for the message. */
function parseBody(text: string): unknown {
  if (text === '') return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
