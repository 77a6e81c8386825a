// deploy: diff with comment-on-pr, through the bundle as the runner runs it on a pull_request
// event: the event payload file, GITHUB_API_URL and GITHUB_GRAPHQL_URL pointing at the local
// stand-in of GitHub's API (test-support/github-api.js, laid out as GitHub Enterprise Server's),
// the workflow's token as `${{ github.token }}`, the CDK stand-in printing the real CLI's diff.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commentMarker } from '../src/phases/comment/body.js'
import { ACTIONS_BOT, LocalGitHub, pullRequestEvent } from '../test-support/github-api.js'
import { createCdkApp, type StandInConfig } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { renderMarkdown } from './helpers/markdown.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const PR = 7
const RUN_ID = '9876543210'
// The form of an installation token, as GitHub's documentation shows one.
const TOKEN = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a'
const REVIEWER = { login: 'octocat', id: 583231, type: 'User' as const }
const MARKER = commentMarker(STACK, '')

let aws: LocalAws
let github: LocalGitHub
let dir: string

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.7' })
  github = await new LocalGitHub().start()
  github.addToken(TOKEN)
  dir = mkdtempSync(join(tmpdir(), 'sda-pr-event-'))
})
afterEach(async () => {
  await aws.stop()
  await github.stop()
  rmSync(dir, { recursive: true, force: true })
})

interface Push {
  diff?: StandInConfig['diff']
  diffLines?: string[]
  stacks?: string[]
  inputs?: Record<string, string>
  event?: string
  headRepository?: string
  headSha?: string
  cancelWhen?: (line: string) => boolean
}

/** One run of the preview step on the pull request, as a push to it starts one. */
async function push(options: Push = {}): Promise<BundleRun> {
  const app = createCdkApp({
    stacks: Object.fromEntries((options.stacks ?? [STACK]).map(stack => [stack, {}])),
    diff: options.diff ?? 'replacement',
    diffLines: options.diffLines
  })
  const eventPath = join(dir, 'event.json')
  writeFileSync(
    eventPath,
    JSON.stringify(
      pullRequestEvent({
        number: PR,
        repository: github.repository,
        headRepository: options.headRepository,
        headSha: options.headSha
      })
    )
  )
  return runBundle(
    {
      deploy: 'diff',
      stack: STACK,
      'working-directory': app.dir,
      'cdk-command': app.command,
      'comment-on-pr': 'true',
      ...options.inputs
    },
    {
      ...aws.environment(),
      ...github.environment(),
      GITHUB_EVENT_NAME: options.event ?? 'pull_request',
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_RUN_ID: RUN_ID,
      GITHUB_RUN_ATTEMPT: '1'
    },
    { githubToken: TOKEN, cancelWhen: options.cancelWhen }
  )
}

const commands = (run: BundleRun, name: string) =>
  run.commands.filter(c => c.name === name).map(c => c.data)
const runLink = () => `${github.serverUrl}/${github.repository}/actions/runs/${RUN_ID}`
const ours = () => github.commentsOn(PR).filter(c => c.user.login === ACTIONS_BOT.login)

/** The diff as GitHub shows it: the literal text of the comment's one code block. */
function shownDiff(body: string): string {
  const blocks = renderMarkdown(body).blocks.filter(block => block.type === 'code_block')
  expect(blocks).toHaveLength(1)
  return blocks[0].literal ?? ''
}

describe('deploy: diff with comment-on-pr, end to end', () => {
  it('creates the comment on the first push and updates the same one on the next', async () => {
    const first = await push({ diff: 'replacement' })
    expect(first.code).toBe(0)
    expect(ours()).toHaveLength(1)
    const [created] = ours()
    expect(created.body.split('\n')[0]).toBe(MARKER)
    expect(created.body).toContain('**5 resources change, 1 is replaced, 1 is destroyed.**')
    expect(created.body).toContain('<td><code>Instance InstanceC1063A87</code></td>')
    expect(shownDiff(created.body)).toContain(
      '[~] AWS::EC2::Instance Instance InstanceC1063A87 replace'
    )
    expect(created.body).toContain(`Commit ec26c3e, [run](${runLink()})`)
    expect(first.visibleLog).toContain(
      `The cdk diff of stack "${STACK}" is posted as a comment on pull request #${PR}, as github-actions[bot]: ` +
        `${github.serverUrl}/${github.repository}/pull/${PR}#issuecomment-${created.id}.`
    )
    // Who the token is: asked of GraphQL, never of REST's /user.
    expect(github.callsOf('POST', /^\/graphql$/)).toHaveLength(1)
    expect(github.callsOf('GET', /^\/user$/)).toEqual([])

    const second = await push({
      diff: 'update',
      headSha: '1111111111111111111111111111111111111111'
    })
    expect(second.code).toBe(0)
    expect(ours()).toEqual([
      expect.objectContaining({
        id: created.id,
        body: expect.stringContaining('**1 resource changes.**')
      })
    ])
    expect(ours()[0].body).toContain('Commit 1111111')
    expect(ours()[0].body).not.toContain('<table>')
    expect(github.callsOf('POST', /\/comments$/)).toHaveLength(1)
    expect(github.callsOf('PATCH')).toHaveLength(1)
    expect(second.visibleLog).toContain(`is updated as a comment on pull request #${PR}`)
  })

  it('updates the comment to say so when the last push removed the change', async () => {
    await push({ diff: 'replacement' })
    const [before] = ours()
    const run = await push({ diff: 'none' })
    expect(run.code).toBe(0)
    expect(run.outputs.changes).toBe('false')
    const [after] = ours()
    expect(after.id).toBe(before.id)
    expect(after.body).toContain('**no changes.**')
    expect(shownDiff(after.body)).toContain('There were no differences')
  })

  it('cuts a 200 KB diff at a resource boundary, posts it, and the summary holds all of it', async () => {
    const resources = Array.from({ length: 3000 }, (_, i) => [
      `[+] AWS::SSM::Parameter Flag${i} Flag${i}ABCDEF0123456789 `,
      ` └─ [+] Value: "${'v'.repeat(20)}"`
    ]).flat()
    expect(Buffer.byteLength(resources.join('\n'))).toBeGreaterThan(200 * 1024)
    const run = await push({ diff: 'update', diffLines: resources })
    expect(run.code).toBe(0)
    expect(commands(run, 'warning')).toEqual([])
    const [posted] = ours()
    expect(posted.body.length).toBeLessThanOrEqual(65536)
    const shown = shownDiff(posted.body).replace(/\n$/, '').split('\n')
    // The end of a resource: its detail line, and no half of the next one.
    expect(shown.at(-1)).toMatch(/^ └─ \[\+\] Value: "v+"$/)
    const last = Number(/Flag(\d+) /.exec(shown.at(-2) ?? '')?.[1])
    expect(last).toBeGreaterThan(500)
    expect(posted.body).toMatch(
      new RegExp(
        `\\*\\*The diff is cut here\\*\\*: [\\d,]+ more lines \\([\\d,]+ KB\\), with ${(3000 - last).toLocaleString('en-US')} of its 3,001 resource changes, did not fit`
      )
    )
    expect(posted.body).toContain(`The whole diff is in [the run's summary](${runLink()}).`)
    // Where the link leads: all of it, the last resource included.
    expect(run.summary).toContain('[+] AWS::SSM::Parameter Flag2999 Flag2999ABCDEF0123456789')
    expect(run.summary).not.toContain('[... cut at')
  })

  it('keeps a diff that tries to break out of its block inside it', async () => {
    const attack = [
      '</details><img src=x onerror=alert(1)>',
      '```',
      '`````````` ten backticks',
      '``````````',
      '</code></pre><img src=y>',
      `${MARKER} @octo-org/maintainers approve`,
      '[-] AWS::S3::Bucket <img src=z> Bucket destroy',
      '',
      '# Approved [by the bot](https://evil.example/)'
    ]
    const run = await push({ diff: 'update', diffLines: attack })
    expect(run.code).toBe(0)
    const [posted] = ours()
    for (const line of attack) expect(shownDiff(posted.body)).toContain(line)
    const { html } = renderMarkdown(posted.body)
    expect(html).not.toMatch(/<img/)
    expect(html.match(/<\/details>/g)).toHaveLength(1)
    expect(html).not.toMatch(/<h1/)
    expect(html).not.toContain('href="https://evil.example/')
    expect(posted.body).toContain('<td><code>&lt;img src=z&gt; Bucket</code></td>')
    // The copy of the marker inside the diff is no marker: one comment, ours.
    expect(posted.body.indexOf(MARKER)).toBe(0)
  })

  it('shows masked values as *** and never shows the token', async () => {
    const run = await push({
      diff: 'update',
      diffLines: [`[~] AWS::SSM::Parameter Key Key ${EXAMPLE_DEPLOYMENT.ec2_key_name} replace`]
    })
    expect(run.code).toBe(0)
    const [posted] = ours()
    expect(posted.body).toContain('[~] AWS::SSM::Parameter Key Key *** replace')
    expect(posted.body).not.toContain(EXAMPLE_DEPLOYMENT.ec2_key_name)
    expect(run.masks).toContain(TOKEN)
    expect(run.visibleLog).not.toContain(TOKEN)
    expect(github.calls.every(call => call.authorization === `Bearer ${TOKEN}`)).toBe(true)
  })

  it('warns, naming pull-requests: write, when the token may not comment; the step passes', async () => {
    github.addToken(TOKEN, ACTIONS_BOT, 'read')
    const run = await push()
    expect(run.code).toBe(0)
    expect(run.outputs.changes).toBe('true')
    expect(commands(run, 'warning').filter(w => w.startsWith('Could not comment'))).toEqual([
      `Could not comment the cdk diff of stack "${STACK}" on pull request #${PR}: GitHub answered 403 to ` +
        `POST /repos/${github.repository}/issues/${PR}/comments (Resource not accessible by integration). ` +
        'The token needs "pull-requests: write": add it to the job\'s permissions (permissions: pull-requests: write), ' +
        'or give input "github-token" a token that has it. The preview is in the job summary; set ' +
        'comment-required: true to fail the step instead.'
    ])
    expect(github.commentsOn(PR)).toEqual([])
  })

  it('fails the step with comment-required: true, with one message', async () => {
    github.addToken(TOKEN, ACTIONS_BOT, 'read')
    const run = await push({ inputs: { 'comment-required': 'true' } })
    expect(run.code).toBe(1)
    const errors = commands(run, 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('pull-requests: write')
    expect(errors[0]).toMatch(/\(Input "comment-required" is true\.\)$/)
    expect(run.outputs.changes).toBe('true')
  })

  it('says the token is read-only on a pull request from a fork', async () => {
    github.addToken(TOKEN, ACTIONS_BOT, 'read')
    const run = await push({ headRepository: 'contributor/fastapi-infra' })
    expect(run.code).toBe(0)
    const [warning] = commands(run, 'warning').filter(w => w.startsWith('Could not comment'))
    expect(warning).toContain(
      'This pull request comes from the fork "contributor/fastapi-infra": GitHub gives the workflow of a ' +
        'pull request from a fork a read-only token, whatever its permissions ask for.'
    )
  })

  it("never touches a reviewer's comment that copies the marker, in either mode", async () => {
    await push()
    const [mine] = ours()
    const copy = github.addComment(PR, REVIEWER, mine.body)
    const update = await push({ diff: 'update' })
    expect(update.code).toBe(0)
    const replace = await push({ diff: 'none', inputs: { 'comment-mode': 'replace' } })
    expect(replace.code).toBe(0)
    expect(github.commentsOn(PR).find(c => c.id === copy.id)).toEqual(copy)
    expect(ours()).toHaveLength(1)
    expect(ours()[0].body).toContain('**no changes.**')
    expect(github.callsOf('PATCH').map(c => c.path)).toEqual([
      `/repos/${github.repository}/issues/comments/${mine.id}`
    ])
    expect(github.callsOf('DELETE').map(c => c.path)).toEqual([
      `/repos/${github.repository}/issues/comments/${mine.id}`
    ])
  })

  it('comment-mode: replace deletes the comment and posts a new one', async () => {
    await push()
    const [old] = ours()
    const run = await push({ diff: 'update', inputs: { 'comment-mode': 'replace' } })
    expect(run.code).toBe(0)
    const [now] = ours()
    expect(ours()).toHaveLength(1)
    expect(now.id).toBeGreaterThan(old.id)
    expect(now.body).toContain('**1 resource changes.**')
    expect(run.visibleLog).toContain(
      'is posted anew (comment-mode: replace; the old one was deleted)'
    )
  })

  it('keeps one comment per stack, and per comment-key', async () => {
    const prod = 'FastAPIEC2Stack-Prod'
    const stacks = [STACK, prod]
    await push({ stacks })
    await push({ stacks, inputs: { stack: prod } })
    await push({ stacks, inputs: { 'comment-key': 'eu-west-1' } })
    await push({ stacks, diff: 'none', inputs: { stack: prod } })
    const markers = ours().map(c => c.body.split('\n')[0])
    expect(markers).toEqual([MARKER, commentMarker(prod, ''), commentMarker(STACK, 'eu-west-1')])
    expect(ours()[1].body).toContain('**no changes.**')
    expect(ours()[0].body).toContain('**5 resources change')
  })

  it('finds its comment again among more than a page of comments', async () => {
    for (let i = 0; i < 120; i++) github.addComment(PR, REVIEWER, `review ${i}`)
    await push()
    await push({ diff: 'update' })
    expect(ours()).toHaveLength(1)
    expect(
      github.callsOf('GET', /^\/repositories\/\d+\/issues\/7\/comments\?per_page=100&page=2$/)
    ).toHaveLength(2)
  })

  it("waits out GitHub's secondary rate limit (retry-after) and posts", async () => {
    github.secondaryRateLimit('POST', 1)
    const run = await push()
    expect(run.code).toBe(0)
    expect(commands(run, 'warning').filter(w => w.startsWith('Could not'))).toEqual([])
    expect(ours()).toHaveLength(1)
    expect(run.visibleLog).toMatch(
      /GitHub: POST \/repos\/octo-org\/fastapi-infra\/issues\/7\/comments got 403 You have exceeded a secondary rate limit\..*; retrying in 1 s \(attempt 2 of 4\)\./
    )
  })

  it('stops at once when the step is cancelled while it waits out a rate limit', async () => {
    github.secondaryRateLimit('POST', 50)
    const started = Date.now()
    const run = await push({ cancelWhen: line => line.includes('retrying in 50 s') })
    expect(Date.now() - started).toBeLessThan(30000)
    expect(run.code).toBe(1)
    expect(run.signalsSent).toEqual(['SIGINT'])
    expect(commands(run, 'error')).toEqual([
      'The run was cancelled (SIGINT) during the pull-request comment: nothing was deployed, written back ' +
        'or restarted; the pull-request comment may still show an earlier push.'
    ])
    expect(github.commentsOn(PR)).toEqual([])
  })

  it('posts the comment when fail-on-replace fails the step', async () => {
    const run = await push({ inputs: { 'fail-on-replace': 'true' } })
    expect(run.code).toBe(1)
    expect(commands(run, 'error')).toEqual([
      expect.stringMatching(
        /^cdk diff of stack "FastAPIEC2Stack-Staging" replaces or destroys 2 resources/
      )
    ])
    expect(ours()).toHaveLength(1)
  })

  it('on a push event, says the input is ignored and calls no GitHub API', async () => {
    const run = await push({ event: 'push' })
    expect(run.code).toBe(0)
    expect(commands(run, 'notice')).toEqual([
      'Input "comment-on-pr" is true, but this run is for a "push" event, not a pull request: no comment ' +
        'was posted (the preview is in the job summary).'
    ])
    expect(github.calls).toEqual([])
  })

  it('with deploy other than diff, says comment-on-pr is not used and calls no GitHub API', async () => {
    const run = await push({ inputs: { deploy: 'false', restart: 'none' } })
    expect(run.code).toBe(0)
    expect(commands(run, 'notice')).toEqual([
      'Input "comment-on-pr" is for deploy: diff; with this "deploy" no comment is posted.'
    ])
    expect(github.calls).toEqual([])
  })

  it.each([
    [{ 'comment-on-pr': 'yes' }, 'Input "comment-on-pr" must be true or false, not "yes".'],
    [
      { 'comment-required': 'maybe' },
      'Input "comment-required" must be true or false, not "maybe".'
    ],
    [
      { 'comment-mode': 'sticky' },
      'Input "comment-mode" must be one of update, replace, not "sticky".'
    ],
    [
      { 'comment-key': 'eu west' },
      'Input "comment-key" is "eu west": use at most 64 letters, digits, ".", "-" and "_", or leave it empty.'
    ]
  ])('refuses bad input %j with one message', async (inputs, message) => {
    const run = await push({ inputs })
    expect(run.code).toBe(1)
    expect(commands(run, 'error')).toEqual([message])
    expect(github.calls).toEqual([])
    expect(run.outputs).not.toHaveProperty('changes')
  })
})
