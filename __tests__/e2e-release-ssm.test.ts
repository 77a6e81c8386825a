// A release with restart: ssm, end to end through the bundle: the archive goes once to the local
// endpoint's S3, and each instance's Run Command (run through /bin/sh by the local endpoint, with
// recording stand-ins) downloads it with the presigned URL using curl, checks its sha256, and
// switches as over SSH. app-dir is a directory of the test's own; for a fleet, each instance sees
// its own app-dir at the same path (a private mount: needs root), as separate machines would.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { gitCheckout } from './helpers/git-checkout.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const SECRET = 'FastAPIDeploymentSecrets'
const BUCKET = 'fastapi-releases'
const PREFIX = 'secrets-deploy-action/releases/'
const FLEET = ['i-0aaa0000000000001', 'i-0aaa0000000000002', 'i-0aaa0000000000003']

let aws: LocalAws
let work: string
let repo: string
let appDir: string
let runId = 700

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'sda-e2e-release-ssm-'))
  repo = join(work, 'repo')
  appDir = join(work, 'opt', 'fastapi')
  mkdirSync(appDir, { recursive: true })
  mkdirSync(repo)
  git('init', '-q')
  commit({ 'main.py': 'print("v1")\n', VERSION: 'v1\n' })
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, EXAMPLE_DEPLOYMENT)
  aws.s3.addBucket(BUCKET)
})
afterEach(async () => {
  await aws.stop()
  rmSync(work, { recursive: true, force: true })
})

const { git, commit } = gitCheckout(() => repo)

/** One managed instance whose service "starts" from current, noting the version it found. */
function addInstance(instanceId: string, dir = appDir, started = join(work, 'started')) {
  aws.addInstance({ instanceId, publicIp: '203.0.113.10', privateIp: '10.0.0.10' })
  aws.ssm.addAgent(instanceId, { onRestart: `cat ${dir}/current/VERSION >> ${started}` })
}

function release(
  extra: Record<string, string> = {},
  options: { cancelWhen?: (line: string) => boolean } = {}
): Promise<BundleRun> {
  runId++
  return runBundle(
    {
      deploy: 'false',
      restart: 'ssm',
      targets: FLEET[0],
      'release-path': '.',
      'app-dir': appDir,
      'release-bucket': BUCKET,
      ...extra
    },
    {
      ...aws.environment(),
      GITHUB_WORKSPACE: repo,
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'octo/fastapi'
    },
    { cwd: repo, ...options }
  )
}

const idOf = (sha: string, run: number) => `${sha.slice(0, 12)}-${run}-1`
const releasesIn = (dir: string) =>
  readdirSync(join(dir, 'releases'))
    .filter(name => !name.startsWith('.'))
    .sort()
const errors = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean)

describe('a release with restart: ssm', () => {
  it('ships two pushes in a row through S3: downloaded, checked, switched, and the object deleted', async () => {
    addInstance(FLEET[0])
    const first = await release()
    expect(errors(first)).toEqual([])
    expect(first.code).toBe(0)
    const id1 = idOf(git('rev-parse', 'HEAD'), runId)
    expect(first.outputs).toMatchObject({
      'release-id': id1,
      'previous-release-id': '',
      restarted: 'true'
    })
    expect(first.outputs['command-id']).toMatch(/^[0-9a-f-]{36}(,[0-9a-f-]{36})*$/)
    expect(readlinkSync(join(appDir, 'current'))).toBe(`releases/${id1}`)

    const sha2 = commit({ VERSION: 'v2\n' })
    const second = await release()
    expect(errors(second)).toEqual([])
    const id2 = idOf(sha2, runId)
    expect(second.outputs).toMatchObject({ 'release-id': id2, 'previous-release-id': id1 })
    expect(readlinkSync(join(appDir, 'current'))).toBe(`releases/${id2}`)
    expect(lines(join(work, 'started'))).toEqual(['v1', 'v2'])
    expect(releasesIn(appDir)).toEqual([id1, id2].sort())

    // Uploaded once per run, fetched by the instance with a presigned URL, deleted at the end.
    const key = `${PREFIX}${id2}.tar.gz`
    expect(aws.s3.requestsOf('PutObject').filter(r => r.key === key)).toHaveLength(1)
    const gets = aws.s3.requestsOf('GetObject').filter(r => r.key === key)
    expect(gets).toHaveLength(1)
    expect(gets[0].presigned).toBe(true)
    expect(aws.s3.keys(BUCKET)).toEqual([])
    // The URL is the instance's alone: it is in the command's parameters, never in the log.
    expect(second.visibleLog).not.toContain('X-Amz-Signature')
    // Steps that go out together are one command: receive, then switch with prune and unlock.
    expect(aws.callsOf('SendCommand').length).toBeLessThanOrEqual(2 * 2)
  })

  it('refuses an archive whose sha256 is not the one uploaded: nothing extracted, nothing switched', async () => {
    addInstance(FLEET[0])
    expect((await release()).code).toBe(0)
    const before = readlinkSync(join(appDir, 'current'))
    commit({ VERSION: 'v2\n' })
    // Whoever may write the bucket swaps the object after the upload, before the download.
    aws.hooks.set('SendCommand', () => {
      for (const key of aws.s3.keys(BUCKET)) {
        const stored = aws.s3.object(BUCKET, key)
        if (stored) stored.body = Buffer.from('not the release')
      }
    })
    const run = await release()
    expect(run.code).toBe(1)
    expect(errors(run).join('\n')).toMatch(
      /has sha256 [0-9a-f]{64} \(15 bytes\), not [0-9a-f]{64} \(\d+ bytes\) as uploaded: refused, nothing extracted/
    )
    expect(readlinkSync(join(appDir, 'current'))).toBe(before)
    expect(releasesIn(appDir)).toHaveLength(1)
    expect(existsSync(join(appDir, '.release-lock'))).toBe(false)
    expect(aws.s3.keys(BUCKET)).toEqual([])
  })

  it('stops downloading an archive larger than the one uploaded: the instance disk is not filled', async () => {
    addInstance(FLEET[0])
    const downloads = () =>
      readdirSync('/var/tmp').filter(n => n.startsWith('secrets-deploy-release.'))
    const before = downloads()
    aws.hooks.set('SendCommand', () => {
      for (const key of aws.s3.keys(BUCKET)) {
        const stored = aws.s3.object(BUCKET, key)
        if (stored) stored.body = Buffer.alloc(64 * 1024 * 1024)
      }
    })
    const run = await release()
    expect(run.code).toBe(1)
    expect(errors(run).join('\n')).toContain('Downloading release')
    expect(existsSync(join(appDir, 'current'))).toBe(false)
    // The download's private directory is gone with what it held.
    expect(downloads()).toEqual(before)
  })

  it('rolls back an instance whose health check fails, restarted on the previous release', async () => {
    addInstance(FLEET[0])
    expect((await release()).code).toBe(0)
    const id1 = readlinkSync(join(appDir, 'current')).replace('releases/', '')
    commit({ VERSION: 'v2\n' })
    const run = await release({
      'health-command': `grep -q v1 ${appDir}/current/VERSION`,
      'health-timeout': '2'
    })
    expect(run.code).toBe(1)
    expect(run.outputs).toMatchObject({ 'rolled-back': 'true', restarted: 'false' })
    expect(readlinkSync(join(appDir, 'current'))).toBe(`releases/${id1}`)
    expect(lines(join(work, 'started'))).toEqual(['v1', 'v2', 'v1'])
  })

  it('a cancel while the instance receives cancels that command, removes what was received and the lock, and switches nothing', async () => {
    addInstance(FLEET[0])
    expect((await release()).code).toBe(0)
    const before = readlinkSync(join(appDir, 'current'))
    commit({ VERSION: 'v2\n' })
    const run = await release(
      { 'release-command': `touch ${work}/preparing; sleep 60` },
      { cancelWhen: line => line.startsWith('Sent AWS-RunShellScript') }
    )
    expect(run.code).toBe(1)
    expect(errors(run)).toHaveLength(1)
    expect(errors(run)[0]).toMatch(
      /sent CancelCommand for command [0-9a-f-]{36}; release [0-9a-f]{12}-\d+-1 was switched nowhere/
    )
    expect(aws.callsOf('CancelCommand')).toHaveLength(1)
    expect(readlinkSync(join(appDir, 'current'))).toBe(before)
    expect(releasesIn(appDir)).toHaveLength(1)
    expect(existsSync(join(appDir, '.release-lock'))).toBe(false)
    expect(aws.s3.keys(BUCKET)).toEqual([])
  })

  it('refuses a release with restart: ssm without release-bucket, before anything changes', async () => {
    addInstance(FLEET[0])
    const run = await release({ 'release-bucket': '' })
    expect(run.code).toBe(1)
    expect(errors(run)).toEqual([
      expect.stringContaining('Input "release-bucket" is required for a release with restart: ssm')
    ])
    expect(aws.callsOf('SendCommand')).toEqual([])
    expect(existsSync(join(appDir, 'releases'))).toBe(false)
  })

  it('refuses release-bucket over SSH, and a bucket name S3 would not take', async () => {
    const ssh = await release({ restart: 'ssh' })
    expect(ssh.code).toBe(1)
    expect(errors(ssh)).toEqual([
      expect.stringContaining('Input "release-bucket" is for restart: ssm')
    ])
    const bad = await release({ 'release-bucket': 'Not_A;Bucket' })
    expect(bad.code).toBe(1)
    expect(errors(bad)).toEqual([expect.stringContaining('release-bucket')])
    expect(aws.callsOf('SendCommand')).toEqual([])
  })
})

const asRoot = process.getuid?.() === 0
if (!asRoot) console.log('the SSM release fleet test is skipped: it needs root (mount namespaces)')

;(asRoot ? describe : describe.skip)('a release with restart: ssm to a fleet', () => {
  it('prepares three instances with one command, rolls back the one that fails, and the fleet ends on one version beyond max-errors', async () => {
    const own = FLEET.map(id => {
      const files = join(work, id)
      mkdirSync(files)
      aws.addInstance({ instanceId: id, publicIp: '203.0.113.10', privateIp: '10.0.0.10' })
      aws.ssm.addAgent(id, {
        ownDirectory: { path: appDir, files },
        onRestart: `cat ${appDir}/current/VERSION >> ${join(work, `${id}.started`)}`
      })
      return files
    })
    const targets = FLEET.join(',')
    const first = await release({ targets, 'max-concurrency': '2' })
    expect(errors(first)).toEqual([])
    const id1 = first.outputs['release-id']
    for (const dir of own) expect(readlinkSync(join(dir, 'current'))).toBe(`releases/${id1}`)
    // Prepared everywhere with one command for all three (one per 50 instances).
    const receives = aws
      .callsOf('SendCommand')
      .filter(call => JSON.stringify(call.params).includes('release-download'))
    expect(receives).toHaveLength(1)

    commit({ VERSION: 'v2\n' })
    // The second instance's v2 never comes up; max-errors 0: the fleet goes back to v1.
    aws.ssm.setBehaviour(FLEET[1], {
      onRestart: `cat ${appDir}/current/VERSION >> ${join(work, `${FLEET[1]}.started`)}; grep -q v1 ${appDir}/current/VERSION`
    })
    const second = await release({ targets, 'max-concurrency': '2' })
    expect(second.code).toBe(1)
    expect(second.outputs['rolled-back']).toBe('true')
    for (const dir of own) expect(readlinkSync(join(dir, 'current'))).toBe(`releases/${id1}`)
    // The third was never switched: the batch of two failed first.
    expect(lines(join(work, `${FLEET[2]}.started`))).toEqual(['v1'])
    expect(errors(second).join('\n')).toContain('more than max-errors 0 allows')
  })
})
