// The GitHub API client over Node's fetch, against the local stand-in of GitHub's API
// (test-support/github-api.js) on 127.0.0.1, with the waits recorded instead of slept.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StoppedError } from '../src/lib/cancel.js'
import { GitHubApiError, GitHubClient, nextLink } from '../src/phases/comment/github-rest.js'
import { ACTIONS_BOT, LocalGitHub } from '../test-support/github-api.js'

const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'
const REVIEWER = { login: 'octocat', id: 583231, type: 'User' as const }

let github: LocalGitHub
let slept: number[]

beforeEach(async () => {
  github = await new LocalGitHub().start()
  github.addToken(TOKEN)
  slept = []
})
afterEach(() => github.stop())

function client(options: Partial<ConstructorParameters<typeof GitHubClient>[0]> = {}) {
  return new GitHubClient({
    apiUrl: github.apiUrl,
    graphqlUrl: github.graphqlUrl,
    token: TOKEN,
    sleep: async ms => {
      slept.push(ms)
    },
    signal: new AbortController().signal,
    ...options
  })
}

const comments = `/repos/${'octo-org/fastapi-infra'}/issues/7/comments`

/** A server that answers every request with `status` and `body`, counting them. */
async function answering(
  status: number,
  body: string,
  headers: Record<string, string> = {}
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0
  const server: Server = createServer((_req, res) => {
    requests++
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/api/v3`,
    requests: () => requests,
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}

describe('nextLink', () => {
  it("reads rel=next from GitHub's Link header (octokit/fixtures, paginate-issues)", () => {
    const header =
      '<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="prev", ' +
      '<https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel="next", ' +
      '<https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last", ' +
      '<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="first"'
    expect(nextLink(header)).toBe(
      'https://api.github.com/repositories/1000/issues?per_page=3&page=3'
    )
    expect(
      nextLink(
        '<https://api.github.com/repositories/1000/issues?per_page=3&page=4>; rel="prev", ' +
          '<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="first"'
      )
    ).toBeUndefined()
    expect(nextLink(null)).toBeUndefined()
  })
})

// GitHub's answer to "Create an issue comment", as its REST reference shows it
// (docs.github.com/rest/issues/comments#create-an-issue-comment; the fields its OpenAPI
// description, github/rest-api-description, requires of an issue-comment), user trimmed.
const DOCUMENTED_COMMENT = {
  id: 1,
  node_id: 'MDEyOklzc3VlQ29tbWVudDE=',
  url: 'https://api.github.com/repos/octocat/Hello-World/issues/comments/1',
  html_url: 'https://github.com/octocat/Hello-World/issues/1347#issuecomment-1',
  body: 'Me too',
  user: {
    login: 'octocat',
    id: 1,
    node_id: 'MDQ6VXNlcjE=',
    avatar_url: 'https://github.com/images/error/octocat_happy.gif',
    gravatar_id: '',
    url: 'https://api.github.com/users/octocat',
    html_url: 'https://github.com/octocat',
    type: 'User',
    site_admin: false
  },
  created_at: '2011-04-14T16:00:49Z',
  updated_at: '2011-04-14T16:00:49Z',
  issue_url: 'https://api.github.com/repos/octocat/Hello-World/issues/1347',
  author_association: 'COLLABORATOR'
}

describe('the stand-in of GitHub', () => {
  it("answers a new comment in the documented shape, as the workflow token's bot", async () => {
    const { status, data } = await client().request<Record<string, unknown>>('POST', comments, {
      body: 'Me too'
    })
    expect(status).toBe(201)
    expect(Object.keys(data)).toEqual(expect.arrayContaining(Object.keys(DOCUMENTED_COMMENT)))
    const user = data.user as Record<string, unknown>
    expect(Object.keys(user)).toEqual(expect.arrayContaining(Object.keys(DOCUMENTED_COMMENT.user)))
    expect(user).toMatchObject({ login: 'github-actions[bot]', id: 41898282, type: 'Bot' })
    expect(typeof data.id).toBe(typeof DOCUMENTED_COMMENT.id)
    expect(data.html_url).toMatch(/\/pull\/7#issuecomment-\d+$/)
  })
})

describe('GitHubClient', () => {
  it('keeps the API root of GitHub Enterprise Server (/api/v3) and sends the token as a bearer', async () => {
    const created = await client().request<{ id: number; user: { login: string } }>(
      'POST',
      comments,
      { body: 'hello' }
    )
    expect(created.status).toBe(201)
    expect(created.data.user.login).toBe('github-actions[bot]')
    const [call] = github.callsOf('POST')
    expect(call).toMatchObject({ path: comments, authorization: `Bearer ${TOKEN}` })
  })

  it("follows the Link header's next page, as given, through every page", async () => {
    for (let i = 0; i < 250; i++) github.addComment(7, REVIEWER, `comment ${i}`)
    const bodies: string[] = []
    for await (const comment of client().paginate<{ body: string }>(`${comments}?per_page=100`))
      bodies.push(comment.body)
    expect(bodies).toHaveLength(250)
    expect(bodies.at(-1)).toBe('comment 249')
    expect(github.callsOf('GET').map(call => call.path)).toEqual([
      `${comments}?per_page=100`,
      '/repositories/1296269/issues/7/comments?per_page=100&page=2',
      '/repositories/1296269/issues/7/comments?per_page=100&page=3'
    ])
  })

  it('sends the token to no other host a Link header names', async () => {
    const elsewhere = await answering(200, '[]')
    try {
      github.failNext({
        method: 'GET',
        path: /comments$/,
        status: 200,
        headers: { link: `<${elsewhere.url}/steal?page=2>; rel="next"` },
        body: [{ id: 1, body: 'one' }]
      })
      const seen: unknown[] = []
      const listing = (async () => {
        for await (const item of client().paginate(`${comments}?per_page=100`)) seen.push(item)
      })()
      await expect(listing).rejects.toThrow(
        /^Did not send GET \/api\/v3\/steal \(the URL is not on the API's host 127\.0\.0\.1:\d+\)/
      )
      expect(seen).toEqual([{ id: 1, body: 'one' }])
      expect(elsewhere.requests()).toBe(0)
    } finally {
      await elsewhere.close()
    }
  })

  it('retries a server error after 1 and 4 s, then succeeds', async () => {
    const bad = { method: 'POST', path: /comments$/, body: { message: 'Server Error' } }
    github.failNext({ ...bad, status: 502 })
    github.failNext({ ...bad, status: 503 })
    const created = await client().request('POST', comments, { body: 'x' })
    expect(created.status).toBe(201)
    expect(slept).toEqual([1000, 4000])
    expect(github.commentsOn(7)).toHaveLength(1)
  })

  it('gives up after three retries, saying how many attempts it made', async () => {
    github.failNext(
      { method: 'GET', path: /comments$/, status: 500, body: { message: 'Server Error' } },
      4
    )
    const error = await client()
      .request('GET', comments)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(GitHubApiError)
    expect((error as Error).message).toBe(
      `GitHub answered 500 to GET ${comments} (Server Error) after 4 attempts`
    )
    expect(slept).toEqual([1000, 4000, 9000])
  })

  it("waits a secondary rate limit's retry-after, or 60 s when it gives none", async () => {
    github.secondaryRateLimit('POST', 7)
    github.failNext({
      method: 'POST',
      path: /comments$/,
      status: 403,
      body: {
        message:
          'You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.',
        documentation_url:
          'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits'
      }
    })
    const retries: string[] = []
    const created = await client({ onRetry: message => retries.push(message) }).request(
      'POST',
      comments,
      { body: 'x' }
    )
    expect(created.status).toBe(201)
    expect(slept).toEqual([7000, 60000])
    expect(retries[0]).toBe(
      `GitHub: POST ${comments} got 403 You have exceeded a secondary rate limit. Please wait a few minutes before you try again.; retrying in 7 s (attempt 2 of 4).`
    )
  })

  it('does not wait longer than it may: the error says how long GitHub asked for', async () => {
    github.secondaryRateLimit('POST', 600)
    const error = await client()
      .request('POST', comments, { body: 'x' })
      .catch((e: unknown) => e)
    expect((error as GitHubApiError).status).toBe(403)
    expect((error as Error).message).toContain(
      'GitHub asked to wait 600 s, longer than the 60 s the action waits'
    )
    expect(slept).toEqual([])
    expect(github.commentsOn(7)).toEqual([])
  })

  it('waits for a spent primary rate limit to reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 20
    github.failNext({
      method: 'GET',
      path: /comments$/,
      status: 403,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      body: { message: 'API rate limit exceeded for installation ID 1.' }
    })
    await client().request('GET', comments)
    expect(slept).toHaveLength(1)
    expect(slept[0]).toBeGreaterThan(19000)
    expect(slept[0]).toBeLessThanOrEqual(21000)
  })

  it.each([
    [403, 'Resource not accessible by integration'],
    [404, 'Not Found'],
    [422, 'Validation Failed: Body is too long (maximum is 65536 characters)']
  ])('takes %s as final: no retry', async (status, detail) => {
    if (status === 403) github.addToken(TOKEN, ACTIONS_BOT, 'read')
    const path = status === 404 ? '/repos/octo-org/elsewhere/issues/7/comments' : comments
    const body = status === 422 ? 'x'.repeat(65537) : 'x'
    const error = await client()
      .request('POST', path, { body })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(GitHubApiError)
    expect(error).toMatchObject({ status, detail, attempts: 1 })
    expect(slept).toEqual([])
    expect((error as Error).message).not.toContain(TOKEN)
  })

  it("refuses a body over GitHub's limit, as GitHub does: 65,536 characters, 262,144 bytes", async () => {
    const post = (body: string) =>
      client()
        .request('POST', comments, { body })
        .then(
          response => response.status,
          (error: GitHubApiError) => error.status
        )
    expect(await post('x'.repeat(65536))).toBe(201)
    expect(await post('x'.repeat(65537))).toBe(422)
    expect(await post('🔑'.repeat(65536))).toBe(201)
    expect(await post('🔑'.repeat(65536) + 'x')).toBe(422)
    github.maxBodyCharacters = 300000
    expect(await post('x'.repeat(262145))).toBe(422)
  })

  it('retries a lost connection, then names the cause', async () => {
    const gone = await answering(200, '[]')
    await gone.close()
    const error = await client({ apiUrl: gone.url, graphqlUrl: undefined })
      .request('GET', comments)
      .catch((e: unknown) => e)
    expect((error as Error).message).toBe(
      `No answer to GET ${comments} (ECONNREFUSED) after 4 attempts`
    )
    expect(slept).toEqual([1000, 4000, 9000])
  })

  it('stops when the run is cancelled', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(client({ signal: controller.signal }).request('GET', comments)).rejects.toThrow(
      StoppedError
    )
    expect(github.calls).toEqual([])
  })

  it("asks GraphQL who the token is, at GitHub Enterprise Server's /api/graphql", async () => {
    const data = await client({ graphqlUrl: undefined }).graphql<{ viewer: { login: string } }>(
      'query { viewer { login } }'
    )
    expect(data).toEqual({ viewer: { login: 'github-actions[bot]' } })
    expect(github.calls.map(call => call.path)).toEqual(['/graphql'])
    await expect(client().graphql('query { repository { id } }')).rejects.toThrow(
      /answered 200 to POST \/api\/graphql \(This stand-in answers only/
    )
    await expect(
      client({ token: 'ghs_wrong' }).graphql('query { viewer { login } }')
    ).rejects.toThrow('GitHub answered 401 to POST /api/graphql (Bad credentials)')
  })
})
