// A local stand-in for the part of GitHub's API that a pull-request comment uses, for tests only
// (never bundled). It listens on 127.0.0.1 and lays itself out as GitHub Enterprise Server does
// (REST under /api/v3, GraphQL at /api/graphql), so that a client that drops the base URL's path
// fails here. It speaks GitHub's shapes, each taken from a real answer:
//   - an issue comment and its author: the example of GitHub's REST reference ("Create an issue
//     comment", docs.github.com/rest/issues/comments), with the author GitHub gives the workflow's
//     token as recorded in a real REST answer (firezone/firezone, rust/gui-client, the
//     `github-actions[bot]` user: id 41898282, node_id MDM6Qm90NDE4OTgyODI=, type "Bot");
//   - pagination: a Link header whose URLs use /repositories/<id>/..., not the path asked, with
//     rel prev, next, last, first in that order (octokit/fixtures, scenarios/api.github.com/
//     paginate-issues); per_page is 30 by default and 100 at most;
//   - 422 for a body over the limit: {"message":"Validation Failed","errors":[{"resource":
//     "IssueComment","code":"unprocessable","field":"data","message":"Body is too long (maximum is
//     65536 characters)"}],"documentation_url":...,"status":"422"} (as quoted in
//     easybuilders/easybuild-easyconfigs#24647, 2025); GitHub has been measured to count bytes
//     (262,144) rather than the 65,536 characters it names (dead-claudia/github-limits#13): this
//     stand-in refuses a body over either;
//   - 403 for a token without `pull-requests: write`: {"message":"Resource not accessible by
//     integration","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-
//     issue-comment"} (iterative/cml#1431);
//   - 403 for a secondary rate limit, with `retry-after` in seconds: {"documentation_url":
//     "https://docs.github.com/en/free-pro-team@latest/rest/overview/resources-in-the-rest-api#
//     secondary-rate-limits","message":"You have exceeded a secondary rate limit. Please wait a few
//     minutes before you try again."} (app-sre/github-mirror#62; octokit/plugin-throttling.js
//     reads `retry-after` and the words "secondary rate");
//   - the token's identity from GraphQL `query { viewer { login } }`: REST's GET /user answers an
//     installation token (the workflow's GITHUB_TOKEN is one) 403 "Resource not accessible by
//     integration", GraphQL's viewer answers `<app-slug>[bot]` (fullsend-ai/fullsend#1953,
//     pingdotgg/t3code#11273; marocchino/sticky-pull-request-comment compares authors with it).
// Like GitHub, it lets a token with write access edit and delete anyone's comment on the pull
// request: telling its own comments from a reviewer's is the client's job.
import { createServer } from 'node:http'

const API_VERSION = '2022-11-28'
/** GitHub's own id of the github-actions app, whose bot posts with the workflow's token. */
const ACTIONS_APP_ID = 15368

/**
 * @typedef {'write' | 'read'} Permission what the token may do with pull requests
 * @typedef {object} Identity who a token posts as
 * @property {string} login e.g. `github-actions[bot]`, `octocat`
 * @property {number} id
 * @property {'Bot' | 'User'} type
 * @typedef {object} StoredComment
 * @property {number} id
 * @property {number} issue
 * @property {string} body
 * @property {Identity} user
 * @property {string} created
 * @property {string} updated
 * @typedef {object} Call
 * @property {string} method
 * @property {string} path the path below the API root, with its query
 * @property {unknown} body the parsed JSON body, if any
 * @property {string | undefined} authorization
 * @typedef {object} Fault an answer given instead of the real one
 * @property {string} method
 * @property {RegExp} path matched against the path below the API root
 * @property {number} status
 * @property {Record<string, string>} [headers]
 * @property {unknown} body
 * @property {() => void} [meanwhile] done as the fault is answered: a change someone else made
 */

/** The workflow's token posts as this bot (the REST answer quoted above). */
export const ACTIONS_BOT = /** @type {Identity} */ ({
  login: 'github-actions[bot]',
  id: 41898282,
  type: 'Bot'
})

/** A pull request's `pull_request` event payload, trimmed (octokit/webhooks, payload-examples/
 * api.github.com/pull_request/opened.payload.json: `number`, `pull_request.number`, `head`/`base`
 * with `sha`, `ref` and `repo.full_name`/`repo.fork`).
 * @param {{ number: number, repository: string, headRepository?: string, headSha?: string }} pr
 */
export function pullRequestEvent(pr) {
  const head = pr.headRepository ?? pr.repository
  const repo = (/** @type {string} */ fullName) => ({
    id: 186853002,
    node_id: 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=',
    name: fullName.split('/')[1],
    full_name: fullName,
    private: false,
    owner: { login: fullName.split('/')[0], type: 'User' },
    fork: fullName !== pr.repository
  })
  return {
    action: 'synchronize',
    number: pr.number,
    pull_request: {
      url: `https://api.github.com/repos/${pr.repository}/pulls/${pr.number}`,
      id: 279147437,
      node_id: 'MDExOlB1bGxSZXF1ZXN0Mjc5MTQ3NDM3',
      html_url: `https://github.com/${pr.repository}/pull/${pr.number}`,
      number: pr.number,
      state: 'open',
      title: 'Update the README with new information.',
      user: { login: 'Codertocat', id: 21031067, type: 'User' },
      head: {
        label: `${head.split('/')[0]}:changes`,
        ref: 'changes',
        sha: pr.headSha ?? 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        repo: repo(head)
      },
      base: {
        label: `${pr.repository.split('/')[0]}:master`,
        ref: 'master',
        sha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e',
        repo: repo(pr.repository)
      }
    },
    repository: repo(pr.repository)
  }
}

export class LocalGitHub {
  /** @param {{ repository?: string, maxBodyCharacters?: number }} [options] */
  constructor(options = {}) {
    this.repository = options.repository ?? 'octo-org/fastapi-infra'
    this.repositoryId = 1296269
    /** GitHub's limit, in characters (code points), as its error message names it. */
    this.maxBodyCharacters = options.maxBodyCharacters ?? 65536
    /** The limit GitHub was measured to apply, in UTF-8 bytes. */
    this.maxBodyBytes = 262144
    /** @type {Map<string, { identity: Identity, pullRequests: Permission }>} */
    this.tokens = new Map()
    /** @type {Map<number, StoredComment>} */
    this.comments = new Map()
    this.nextId = 1000000001
    /** @type {Call[]} */
    this.calls = []
    /** @type {Fault[]} */
    this.faults = []
    /** @type {import('node:http').Server | undefined} */
    this.server = undefined
    this.serverUrl = ''
    this.apiUrl = ''
    this.graphqlUrl = ''
  }

  async start() {
    this.server = createServer((req, res) => void this.handle(req, res))
    await new Promise(resolve => this.server?.listen(0, '127.0.0.1', () => resolve(undefined)))
    const address = /** @type {import('node:net').AddressInfo} */ (this.server.address())
    this.serverUrl = `http://127.0.0.1:${address.port}`
    this.apiUrl = `${this.serverUrl}/api/v3`
    this.graphqlUrl = `${this.serverUrl}/api/graphql`
    return this
  }

  async stop() {
    const server = this.server
    if (!server) return
    server.closeAllConnections()
    await new Promise(resolve => server.close(() => resolve(undefined)))
    this.server = undefined
  }

  /** The runner's variables that point an action at this API. */
  environment() {
    return {
      GITHUB_SERVER_URL: this.serverUrl,
      GITHUB_API_URL: this.apiUrl,
      GITHUB_GRAPHQL_URL: this.graphqlUrl,
      GITHUB_REPOSITORY: this.repository
    }
  }

  // ---- seeding and inspection -------------------------------------------------------------

  /**
   * A token this API accepts, posting as `identity`.
   * @param {string} token @param {Identity} [identity] @param {Permission} [pullRequests]
   */
  addToken(token, identity = ACTIONS_BOT, pullRequests = 'write') {
    this.tokens.set(token, { identity, pullRequests })
    return token
  }

  /**
   * A comment someone posted on issue (or pull request) `issue`.
   * @param {number} issue @param {Identity} user @param {string} body
   */
  addComment(issue, user, body) {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    const comment = { id: this.nextId++, issue, body, user, created: now, updated: now }
    this.comments.set(comment.id, comment)
    return comment
  }

  /** @param {number} issue the comments on it, oldest first */
  commentsOn(issue) {
    return [...this.comments.values()].filter(comment => comment.issue === issue)
  }

  /** @param {string} method @param {RegExp} [path] */
  callsOf(method, path) {
    return this.calls.filter(call => call.method === method && (!path || path.test(call.path)))
  }

  /**
   * Answers the next `times` calls that match with `fault` instead.
   * @param {Fault} fault @param {number} [times]
   */
  failNext(fault, times = 1) {
    for (let i = 0; i < times; i++) this.faults.push(fault)
  }

  /**
   * GitHub's secondary rate limit on the next `times` calls of `method`.
   * @param {string} method @param {number} retryAfterSeconds @param {number} [times]
   */
  secondaryRateLimit(method, retryAfterSeconds, times = 1) {
    this.failNext(
      {
        method,
        path: /./,
        status: 403,
        headers: { 'retry-after': String(retryAfterSeconds) },
        body: {
          documentation_url:
            'https://docs.github.com/en/free-pro-team@latest/rest/overview/resources-in-the-rest-api#secondary-rate-limits',
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
        }
      },
      times
    )
  }

  // ---- the wire ---------------------------------------------------------------------------

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async handle(req, res) {
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const text = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', this.serverUrl)
    const method = req.method ?? 'GET'
    /** @type {unknown} */
    let body
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {
      return this.send(res, 400, {
        message: 'Problems parsing JSON',
        documentation_url: 'https://docs.github.com/rest'
      })
    }
    const authorization = req.headers.authorization
    if (url.pathname === '/api/graphql') {
      this.calls.push({ method, path: '/graphql', body, authorization })
      return this.graphql(res, body, authorization)
    }
    if (!url.pathname.startsWith('/api/v3/')) return this.notFound(res)
    const path = url.pathname.slice('/api/v3'.length)
    this.calls.push({ method, path: path + url.search, body, authorization })
    const fault = this.faults.findIndex(f => f.method === method && f.path.test(path))
    if (fault >= 0) {
      const [f] = this.faults.splice(fault, 1)
      f.meanwhile?.()
      return this.send(res, f.status, f.body, f.headers)
    }
    const caller = this.tokens.get(/^(?:Bearer|token) (.+)$/.exec(authorization ?? '')?.[1] ?? '')
    if (!caller) {
      return this.send(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401'
      })
    }
    if (req.headers['x-github-api-version'] && req.headers['x-github-api-version'] !== API_VERSION)
      return this.send(res, 400, { message: `Invalid API version` })
    const repo = `/repos/${this.repository}`
    const list =
      new RegExp(`^${escape(repo)}/issues/(\\d+)/comments$`).exec(path) ??
      new RegExp(`^/repositories/${this.repositoryId}/issues/(\\d+)/comments$`).exec(path)
    const one = new RegExp(`^${escape(repo)}/issues/comments/(\\d+)$`).exec(path)
    if (list && method === 'GET') return this.list(res, Number(list[1]), url.searchParams)
    if (list && method === 'POST') return this.create(res, caller, Number(list[1]), body)
    if (one && method === 'PATCH') return this.update(res, caller, Number(one[1]), body)
    if (one && method === 'DELETE') return this.remove(res, caller, Number(one[1]))
    if (path === '/user' && method === 'GET' && caller.identity.type === 'Bot') {
      return this.send(res, 403, {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
        status: '403'
      })
    }
    return this.notFound(res)
  }

  /** @param {import('node:http').ServerResponse} res @param {number} issue @param {URLSearchParams} query */
  list(res, issue, query) {
    const perPage = Math.min(Math.max(Number(query.get('per_page') ?? 30) || 30, 1), 100)
    const page = Math.max(Number(query.get('page') ?? 1) || 1, 1)
    const all = this.commentsOn(issue)
    const last = Math.max(Math.ceil(all.length / perPage), 1)
    const link = (/** @type {number} */ n, /** @type {string} */ rel) =>
      `<${this.apiUrl}/repositories/${this.repositoryId}/issues/${issue}/comments?per_page=${perPage}&page=${n}>; rel="${rel}"`
    const links = []
    if (page > 1) links.push(link(page - 1, 'prev'))
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
    if (page > 1) links.push(link(1, 'first'))
    const items = all.slice((page - 1) * perPage, page * perPage).map(c => this.shape(c))
    this.send(res, 200, items, links.length ? { link: links.join(', ') } : {})
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {{ identity: Identity, pullRequests: Permission }} caller
   * @param {number} issue @param {unknown} body
   */
  create(res, caller, issue, body) {
    if (caller.pullRequests !== 'write') return this.notAccessible(res, 'create-an-issue-comment')
    const text = this.checkBody(res, body, 'create-an-issue-comment')
    if (text === undefined) return
    this.send(res, 201, this.shape(this.addComment(issue, caller.identity, text)))
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {{ identity: Identity, pullRequests: Permission }} caller
   * @param {number} id @param {unknown} body
   */
  update(res, caller, id, body) {
    const comment = this.comments.get(id)
    if (!comment) return this.notFound(res)
    if (caller.pullRequests !== 'write') return this.notAccessible(res, 'update-an-issue-comment')
    const text = this.checkBody(res, body, 'update-an-issue-comment')
    if (text === undefined) return
    comment.body = text
    comment.updated = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    this.send(res, 200, this.shape(comment))
  }

  /**
   * @param {import('node:http').ServerResponse} res
   * @param {{ identity: Identity, pullRequests: Permission }} caller @param {number} id
   */
  remove(res, caller, id) {
    if (!this.comments.has(id)) return this.notFound(res)
    if (caller.pullRequests !== 'write') return this.notAccessible(res, 'delete-an-issue-comment')
    this.comments.delete(id)
    res.writeHead(204, this.headers())
    res.end()
  }

  /**
   * The body of a create or update, or undefined when it was refused (the answer is sent).
   * @param {import('node:http').ServerResponse} res @param {unknown} body @param {string} anchor
   */
  checkBody(res, body, anchor) {
    const text = /** @type {{ body?: unknown }} */ (body ?? {}).body
    const documentation_url = `https://docs.github.com/rest/issues/comments#${anchor}`
    if (typeof text !== 'string' || text === '') {
      this.send(res, 422, {
        message: 'Validation Failed',
        errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }],
        documentation_url,
        status: '422'
      })
      return undefined
    }
    if ([...text].length > this.maxBodyCharacters || Buffer.byteLength(text) > this.maxBodyBytes) {
      this.send(res, 422, {
        message: 'Validation Failed',
        errors: [
          {
            resource: 'IssueComment',
            code: 'unprocessable',
            field: 'data',
            message: `Body is too long (maximum is ${this.maxBodyCharacters} characters)`
          }
        ],
        documentation_url,
        status: '422'
      })
      return undefined
    }
    return text
  }

  /**
   * GraphQL: only `viewer { login }`, the question a client asks to learn who its token is.
   * @param {import('node:http').ServerResponse} res @param {unknown} body
   * @param {string | undefined} authorization
   */
  graphql(res, body, authorization) {
    const caller = this.tokens.get(/^(?:Bearer|token) (.+)$/.exec(authorization ?? '')?.[1] ?? '')
    if (!caller) {
      return this.send(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/graphql',
        status: '401'
      })
    }
    const query = /** @type {{ query?: unknown }} */ (body ?? {}).query
    if (
      typeof query !== 'string' ||
      !/^\s*(query\s*)?\{\s*viewer\s*\{\s*login\s*\}\s*\}\s*$/.test(query)
    ) {
      return this.send(res, 200, {
        errors: [{ message: 'This stand-in answers only query { viewer { login } }' }]
      })
    }
    this.send(res, 200, { data: { viewer: { login: caller.identity.login } } })
  }

  /** A comment as GitHub's REST API shows it. @param {StoredComment} c */
  shape(c) {
    const repo = `${this.apiUrl}/repos/${this.repository}`
    return {
      url: `${repo}/issues/comments/${c.id}`,
      html_url: `${this.serverUrl}/${this.repository}/pull/${c.issue}#issuecomment-${c.id}`,
      issue_url: `${repo}/issues/${c.issue}`,
      id: c.id,
      node_id: `IC_kwDOAbc${c.id}`,
      user: this.user(c.user),
      created_at: c.created,
      updated_at: c.updated,
      author_association: c.user.type === 'Bot' ? 'NONE' : 'MEMBER',
      body: c.body,
      reactions: {
        url: `${repo}/issues/comments/${c.id}/reactions`,
        total_count: 0,
        '+1': 0,
        '-1': 0,
        laugh: 0,
        hooray: 0,
        confused: 0,
        heart: 0,
        rocket: 0,
        eyes: 0
      },
      performed_via_github_app:
        c.user.login === ACTIONS_BOT.login
          ? { id: ACTIONS_APP_ID, slug: 'github-actions', name: 'GitHub Actions' }
          : null
    }
  }

  /** A simple-user object. @param {Identity} identity */
  user(identity) {
    const path = encodeURIComponent(identity.login)
    const bot = identity.type === 'Bot'
    return {
      login: identity.login,
      id: identity.id,
      node_id: bot ? 'MDM6Qm90NDE4OTgyODI=' : 'MDQ6VXNlcjE=',
      avatar_url: bot
        ? `https://avatars.githubusercontent.com/in/${ACTIONS_APP_ID}?v=4`
        : `https://avatars.githubusercontent.com/u/${identity.id}?v=4`,
      gravatar_id: '',
      url: `${this.apiUrl}/users/${path}`,
      html_url: bot
        ? `${this.serverUrl}/apps/${identity.login.replace(/\[bot\]$/, '')}`
        : `${this.serverUrl}/${path}`,
      type: identity.type,
      site_admin: false
    }
  }

  headers() {
    return {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': API_VERSION,
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-resource': 'core',
      'x-github-request-id': '0000:00000:0000000:0000000:00000000'
    }
  }

  /**
   * @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} data
   * @param {Record<string, string>} [extra]
   */
  send(res, status, data, extra = {}) {
    res.writeHead(status, { ...this.headers(), ...extra })
    res.end(JSON.stringify(data))
  }

  /** @param {import('node:http').ServerResponse} res */
  notFound(res) {
    this.send(res, 404, {
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
      status: '404'
    })
  }

  /** @param {import('node:http').ServerResponse} res @param {string} anchor */
  notAccessible(res, anchor) {
    this.send(res, 403, {
      message: 'Resource not accessible by integration',
      documentation_url: `https://docs.github.com/rest/issues/comments#${anchor}`,
      status: '403'
    })
  }
}

/** @param {string} text a literal for a RegExp */
function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
