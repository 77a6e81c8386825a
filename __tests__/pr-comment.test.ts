// Finding, creating, updating and replacing the preview's comment, against the local stand-in of
// GitHub's API (test-support/github-api.js), and reading the pull request from the event payload.
import { jest } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commentMarker } from '../src/phases/comment/body.js'
import { ActionError } from '../src/lib/errors.js'
import type { CommentInputs } from '../src/phases/comment/pull-request.js'
import type { PreviewReport } from '../src/phases/preview.js'
import {
  commentPreview,
  readPullRequest,
  runUrl,
  tokenLogin,
  upsertComment,
  type PullRequest
} from '../src/phases/comment/pull-request.js'
import { GitHubClient } from '../src/phases/comment/github-rest.js'
import { ACTIONS_BOT, LocalGitHub, pullRequestEvent } from '../test-support/github-api.js'
import { actionLogger } from '../src/lib/log.js'

const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'
const REVIEWER = { login: 'octocat', id: 583231, type: 'User' as const }
const MARKER = commentMarker('FastAPIEC2Stack-Staging', '')
const PR: PullRequest = { repository: 'octo-org/fastapi-infra', number: 7 }

let github: LocalGitHub
let client: GitHubClient
let dir: string

beforeEach(async () => {
  github = await new LocalGitHub().start()
  github.addToken(TOKEN)
  client = new GitHubClient({
    apiUrl: github.apiUrl,
    graphqlUrl: github.graphqlUrl,
    token: TOKEN,
    sleep: async () => undefined,
    signal: new AbortController().signal
  })
  dir = mkdtempSync(join(tmpdir(), 'sda-pr-comment-'))
})
afterEach(async () => {
  await github.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** The event payload file, as the runner writes it. */
function eventFile(payload: unknown): string {
  const path = join(dir, 'event.json')
  writeFileSync(path, JSON.stringify(payload))
  return path
}

const upsert = (body: string, mode: 'update' | 'replace' = 'update') =>
  upsertComment(client, PR, MARKER, `${MARKER}\n${body}`, mode, 'github-actions[bot]')

describe('readPullRequest', () => {
  it("reads the number and head commit of a pull_request event's payload", () => {
    const path = eventFile(pullRequestEvent({ number: 7, repository: 'octo-org/fastapi-infra' }))
    expect(
      readPullRequest({ GITHUB_EVENT_PATH: path, GITHUB_REPOSITORY: 'octo-org/fastapi-infra' })
    ).toEqual({
      repository: 'octo-org/fastapi-infra',
      number: 7,
      headSha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      fork: undefined
    })
  })

  it('says when the pull request comes from a fork, or from one deleted since', () => {
    const payload = pullRequestEvent({
      number: 7,
      repository: 'octo-org/fastapi-infra',
      headRepository: 'contributor/fastapi-infra'
    })
    const env = {
      GITHUB_EVENT_PATH: eventFile(payload),
      GITHUB_REPOSITORY: 'octo-org/fastapi-infra'
    }
    expect(readPullRequest(env).fork).toBe('contributor/fastapi-infra')
    payload.pull_request.head.repo = null as never
    env.GITHUB_EVENT_PATH = eventFile(payload)
    expect(readPullRequest(env).fork).toBe('a deleted fork')
  })

  it('refuses a payload without a pull request number', () => {
    expect(() =>
      readPullRequest({ GITHUB_EVENT_PATH: eventFile({ ref: 'refs/heads/main' }) })
    ).toThrow('The event payload has no pull_request.number.')
    expect(() => readPullRequest({ GITHUB_EVENT_PATH: join(dir, 'missing.json') })).toThrow(
      /could not be read as JSON/
    )
  })
})

describe('runUrl', () => {
  it("is the run's page, with the attempt after the first", () => {
    const env = {
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'octo-org/fastapi-infra',
      GITHUB_RUN_ID: '9876543210'
    }
    expect(runUrl(env)).toBe('https://github.com/octo-org/fastapi-infra/actions/runs/9876543210')
    expect(runUrl({ ...env, GITHUB_RUN_ATTEMPT: '1' })).toBe(runUrl(env))
    expect(runUrl({ ...env, GITHUB_RUN_ATTEMPT: '3' })).toBe(`${runUrl(env)}/attempts/3`)
  })

  it('is none when a part could break the link it goes into', () => {
    const env = {
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'octo-org/fastapi-infra',
      GITHUB_RUN_ID: '9876543210'
    }
    expect(
      runUrl({ ...env, GITHUB_SERVER_URL: 'https://x.example/a) [y](https://z' })
    ).toBeUndefined()
    expect(runUrl({ ...env, GITHUB_REPOSITORY: 'a/b/c' })).toBeUndefined()
    expect(runUrl({ ...env, GITHUB_RUN_ID: '12 3' })).toBeUndefined()
    expect(runUrl({})).toBeUndefined()
  })
})

describe('tokenLogin', () => {
  it('is github-actions[bot] for the workflow token, the user for a personal token', async () => {
    expect(await tokenLogin(client)).toBe('github-actions[bot]')
    github.addToken('github_pat_11ABCDEFG', REVIEWER)
    const personal = new GitHubClient({
      apiUrl: github.apiUrl,
      token: 'github_pat_11ABCDEFG',
      sleep: async () => undefined,
      signal: new AbortController().signal
    })
    expect(await tokenLogin(personal)).toBe('octocat')
  })
})

describe('upsertComment', () => {
  it('creates the comment, then updates that one', async () => {
    const first = await upsert('first push')
    expect(first.action).toBe('created')
    const [created] = github.commentsOn(7)
    expect(first.url).toBe(
      `${github.serverUrl}/octo-org/fastapi-infra/pull/7#issuecomment-${created.id}`
    )
    const second = await upsert('second push')
    expect(second).toMatchObject({ action: 'updated', removed: 0 })
    expect(github.commentsOn(7)).toEqual([
      expect.objectContaining({ id: created.id, body: `${MARKER}\nsecond push` })
    ])
    expect((await upsert('second push')).action).toBe('unchanged')
    expect(github.callsOf('PATCH')).toHaveLength(1)
  })

  it("never edits or deletes a reviewer's comment that copies the marker", async () => {
    const copy = github.addComment(7, REVIEWER, `${MARKER}\nI copied this`)
    await upsert('ours')
    await upsert('ours, again')
    await upsert('ours, replaced', 'replace')
    const all = github.commentsOn(7)
    expect(all).toHaveLength(2)
    expect(all[0]).toEqual(copy)
    expect(all[1]).toMatchObject({ user: ACTIONS_BOT, body: `${MARKER}\nours, replaced` })
  })

  it("ignores the bot's comments of another stack and key", async () => {
    const other = github.addComment(
      7,
      ACTIONS_BOT,
      `${commentMarker('FastAPIEC2Stack-Prod', '')}\nprod`
    )
    const keyed = github.addComment(
      7,
      ACTIONS_BOT,
      `${commentMarker('FastAPIEC2Stack-Staging', 'b')}\nb`
    )
    await upsert('ours')
    expect(github.commentsOn(7)).toEqual([
      other,
      keyed,
      expect.objectContaining({ body: `${MARKER}\nours` })
    ])
  })

  it('replace posts a new comment, then deletes the old one', async () => {
    await upsert('first')
    const [old] = github.commentsOn(7)
    const result = await upsert('second', 'replace')
    expect(result).toMatchObject({ action: 'replaced', removed: 1 })
    const [now] = github.commentsOn(7)
    expect(now.id).toBeGreaterThan(old.id)
    const order = github.calls.filter(c => c.method !== 'GET').map(c => c.method)
    expect(order).toEqual(['POST', 'POST', 'DELETE'])
  })

  it('keeps one comment when two runs left two: the oldest is updated, the other deleted', async () => {
    const oldest = github.addComment(7, ACTIONS_BOT, `${MARKER}\nrun 1`)
    github.addComment(7, ACTIONS_BOT, `${MARKER}\nrun 2`)
    const result = await upsert('run 3')
    expect(result).toMatchObject({ action: 'updated', removed: 1 })
    expect(github.commentsOn(7)).toEqual([
      expect.objectContaining({ id: oldest.id, body: `${MARKER}\nrun 3` })
    ])
  })

  it('finds its comment beyond the first page', async () => {
    for (let i = 0; i < 150; i++) github.addComment(7, REVIEWER, `review ${i}`)
    await upsert('first')
    await upsert('second')
    const ours = github.commentsOn(7).filter(c => c.user.login === ACTIONS_BOT.login)
    expect(ours).toEqual([expect.objectContaining({ body: `${MARKER}\nsecond` })])
  })

  it('posts it again when it was deleted between the list and the update', async () => {
    await upsert('first')
    const [gone] = github.commentsOn(7)
    github.failNext({
      method: 'PATCH',
      path: new RegExp(`/issues/comments/${gone.id}$`),
      status: 404,
      body: {
        message: 'Not Found',
        documentation_url: 'https://docs.github.com/rest',
        status: '404'
      },
      meanwhile: () => github.comments.delete(gone.id)
    })
    const result = await upsert('second')
    expect(result.action).toBe('created')
    expect(github.commentsOn(7)).toEqual([expect.objectContaining({ body: `${MARKER}\nsecond` })])
  })
})

describe('commentPreview', () => {
  const preview: PreviewReport = {
    stack: 'FastAPIEC2Stack-Staging',
    verdict: 'no changes',
    risks: [],
    text: 'Stack FastAPIEC2Stack-Staging\nThere were no differences',
    whole: 'Stack FastAPIEC2Stack-Staging\nThere were no differences'
  }
  const inputs = (comment: Partial<CommentInputs> = {}) => ({
    stack: 'FastAPIEC2Stack-Staging',
    comment: {
      onPullRequest: true,
      token: TOKEN,
      key: '',
      mode: 'update' as const,
      required: false,
      ...comment
    }
  })
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...github.environment(),
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: eventFile(
      pullRequestEvent({ number: 7, repository: 'octo-org/fastapi-infra' })
    ),
    ...extra
  })
  const deps = (e: NodeJS.ProcessEnv) => ({
    env: e,
    // The action's own logger: `printed` reads its workflow commands on stdout.
    log: actionLogger,
    sleep: async () => undefined,
    signal: new AbortController().signal
  })

  /** The workflow commands the step printed while `run` ran. */
  async function printed(run: () => Promise<void>): Promise<string[]> {
    const lines: string[] = []
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      return true
    })
    try {
      await run()
    } finally {
      spy.mockRestore()
    }
    return lines.filter(line => /^::(warning|notice|error)::/.test(line))
  }

  it('posts the comment on a pull_request event, and says so in no annotation', async () => {
    expect(
      await printed(() => commentPreview(inputs(), preview, deps(env()), { required: false }))
    ).toEqual([])
    expect(github.commentsOn(7)).toEqual([
      expect.objectContaining({ body: expect.stringContaining('**no changes.**') })
    ])
  })

  it('names input "github-token" when GitHub refuses the token', async () => {
    const [warning] = await printed(() =>
      commentPreview(inputs({ token: 'ghs_revoked' }), preview, deps(env()), { required: false })
    )
    expect(warning).toBe(
      '::warning::Could not comment the cdk diff of stack "FastAPIEC2Stack-Staging" on pull request #7: ' +
        'GitHub answered 401 to POST /api/graphql (Bad credentials). GitHub refused the token: check input ' +
        '"github-token" (by default the workflow\'s own, github.token). The preview is in the job summary; ' +
        'set comment-required: true to fail the step instead.'
    )
  })

  it("names the network when GitHub's API does not answer", async () => {
    await github.stop()
    const [warning] = await printed(() =>
      commentPreview(inputs(), preview, deps(env()), { required: false })
    )
    expect(warning).toContain('No answer to POST /api/graphql (ECONNREFUSED) after 4 attempts.')
    expect(warning).toContain("Check the runner's network and GITHUB_API_URL.")
  })

  it('fails with comment-required, one ActionError and no warning', async () => {
    let thrown: unknown
    const annotations = await printed(async () => {
      thrown = await commentPreview(inputs({ token: '' }), preview, deps(env()), {
        required: true
      }).catch((e: unknown) => e)
    })
    expect(annotations).toEqual([])
    expect(thrown).toBeInstanceOf(ActionError)
    expect((thrown as Error).message).toBe(
      'Could not comment the cdk diff of stack "FastAPIEC2Stack-Staging" on pull request #7: Input ' +
        '"github-token" is empty: leave it out (its default is the workflow\'s token) or give a token. ' +
        '(Input "comment-required" is true.)'
    )
    expect(github.calls).toEqual([])
  })

  it('only gives a notice on an event that is no pull request, even when the comment is required', async () => {
    const annotations = await printed(() =>
      commentPreview(inputs(), preview, deps(env({ GITHUB_EVENT_NAME: 'workflow_dispatch' })), {
        required: true
      })
    )
    expect(annotations).toEqual([
      '::notice::Input "comment-on-pr" is true, but this run is for a "workflow_dispatch" event, not a pull ' +
        'request: no comment was posted (the preview is in the job summary).'
    ])
    expect(github.calls).toEqual([])
  })
})
