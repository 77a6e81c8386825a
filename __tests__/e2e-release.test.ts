// A release over SSH, end to end: the bundle as the runner runs it, a real git checkout as the
// workspace, OpenSSH's sshd (test-support/sshd.js) as the instance, whose `systemctl` stand-in
// records which tree the service starts from. app-dir is a directory of the test's own.
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FAILED_JOURNAL, startSshd, type SshdFixture } from '../test-support/sshd.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { gitCheckout } from './helpers/git-checkout.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const SECRET = 'FastAPIDeploymentSecrets'

let sshd: SshdFixture
let aws: LocalAws
let work: string
let repo: string
let appDir: string
let runId = 100

beforeAll(async () => {
  sshd = await startSshd()
}, 60_000)
afterAll(() => sshd.stop())

beforeEach(async () => {
  await sshd.clearCalls()
  work = mkdtempSync(join(tmpdir(), 'sda-e2e-release-'))
  repo = join(work, 'repo')
  appDir = join(work, 'opt', 'fastapi')
  mkdirSync(appDir, { recursive: true })
  mkdirSync(repo)
  git('init', '-q')
  commit({ 'main.py': 'print("v1")\n', VERSION: 'v1\n', '.gitignore': '.env\n' })
  writeFileSync(join(repo, '.env'), 'NEVER_SHIPPED=1\n')
  // The service "starts" from current: the stand-in notes which version it found there.
  await sshd.setBehaviour({ onRestart: `cat ${appDir}/current/VERSION >> ${work}/started` })
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_host: '127.0.0.1', ec2_user: sshd.user })
})
afterEach(async () => {
  aws.stop()
  rmSync(work, { recursive: true, force: true })
})

const { git, commit } = gitCheckout(() => repo)

function release(extra: Record<string, string> = {}, port = sshd.port, options = {}) {
  runId++
  return runBundle(
    {
      deploy: 'false',
      restart: 'ssh',
      'ssh-private-key': sshd.clientPrivateKey,
      'ssh-host-fingerprint': sshd.hostFingerprint,
      'ssh-port': String(port),
      'release-path': '.',
      'app-dir': appDir,
      // The log names the instance by its address.
      'mask-exclude': 'ec2_host',
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
const current = () => readlinkSync(join(appDir, 'current'))
/** The releases that look whole: a temporary directory (".incoming-<id>") is never one. */
const releases = () =>
  readdirSync(join(appDir, 'releases'))
    .filter(name => !name.startsWith('.'))
    .sort()
const started = () => readFileSync(join(work, 'started'), 'utf8').split('\n').filter(Boolean)
const restarts = () => sshd.calls().filter(call => call[0] === 'systemctl' && call[1] === 'restart')
const errors = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)

function expectSucceeded(run: BundleRun): void {
  expect(errors(run)).toEqual([])
  expect(run.code).toBe(0)
}

describe('a release over SSH', () => {
  it('ships two pushes in a row: the second sees the first as previous, and the service starts from it', async () => {
    const first = await release()
    expectSucceeded(first)
    const sha1 = git('rev-parse', 'HEAD')
    const id1 = idOf(sha1, runId)
    expect(first.outputs).toMatchObject({
      'release-id': id1,
      'previous-release-id': '',
      'rolled-back': 'false',
      restarted: 'true'
    })
    expect(current()).toBe(`releases/${id1}`)
    expect(readFileSync(join(appDir, 'releases', id1, 'REVISION'), 'utf8')).toBe(
      `${sha1}\nhttps://github.com/octo/fastapi/actions/runs/${runId}/attempts/1\n`
    )
    // Only what the commit holds: the ignored .env stays on the runner.
    expect(existsSync(join(appDir, 'releases', id1, '.env'))).toBe(false)

    const sha2 = commit({ VERSION: 'v2\n' })
    const second = await release()
    expectSucceeded(second)
    const id2 = idOf(sha2, runId)
    expect(second.outputs).toMatchObject({ 'release-id': id2, 'previous-release-id': id1 })
    expect(current()).toBe(`releases/${id2}`)
    expect(started()).toEqual(['v1', 'v2'])
    expect(releases()).toEqual([id1, id2].sort())
    expect(existsSync(join(appDir, '.release-lock'))).toBe(false)
    expect(second.visibleLog).toContain(`Release ${id2} is live on 127.0.0.1:${sshd.port}`)
    expect(second.summary).toContain(`release ${id2}`)
  }, 90_000)

  it('switches nothing when release-command fails, and quotes its stderr', async () => {
    expectSucceeded(await release())
    const id1 = idOf(git('rev-parse', 'HEAD'), runId)
    commit({ VERSION: 'v2\n' })
    const run = await release({
      'release-command': 'echo "ERROR: No matching distribution found for fastapi==99" >&2; exit 1'
    })
    expect(run.code).toBe(1)
    const [error] = errors(run)
    expect(error).toContain('The release command (input "release-command") on 127.0.0.1')
    expect(error).toContain('ERROR: No matching distribution found for fastapi==99')
    expect(error).toContain('Nothing was switched')
    expect(current()).toBe(`releases/${id1}`)
    expect(releases()).toEqual([id1])
    expect(started()).toEqual(['v1'])
    expect(run.outputs.restarted).toBe('false')
  }, 90_000)

  describe('with a health check that fails', () => {
    let server: Server
    let healthy = true
    let url: string
    beforeAll(async () => {
      server = createServer((_request, response) => {
        response.statusCode = healthy ? 200 : 503
        response.end()
      })
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
    })
    afterAll(() => new Promise(resolve => server.close(resolve)))

    it('rolls back to the previous release, restarts it and says so', async () => {
      healthy = true
      expectSucceeded(await release({ 'health-url': url }))
      const id1 = idOf(git('rev-parse', 'HEAD'), runId)
      commit({ VERSION: 'v2\n' })
      healthy = false
      // The old release answers again once it is back: the stand-in's restart of v1 heals it.
      await sshd.setBehaviour({
        onRestart: `cat ${appDir}/current/VERSION >> ${work}/started; grep -q v1 ${appDir}/current/VERSION && touch ${work}/healed`
      })
      const poll = setInterval(() => {
        if (existsSync(join(work, 'healed'))) healthy = true
      }, 50)
      try {
        const run = await release({ 'health-url': url, 'health-timeout': '3' })
        expect(run.code).toBe(1)
        const id2 = idOf(git('rev-parse', 'HEAD'), runId)
        const [error] = errors(run)
        expect(error).toContain('The health check of service "fastapi"')
        expect(error).toContain(`Rolled back on 127.0.0.1:${sshd.port}`)
        expect(error).toContain(`points to release ${id1} again, restarted, and it came up healthy`)
        expect(run.outputs).toMatchObject({
          'rolled-back': 'true',
          'release-id': id2,
          restarted: 'false'
        })
        expect(current()).toBe(`releases/${id1}`)
        expect(started()).toEqual(['v1', 'v2', 'v1'])
        // Why the release did not come up: the unit's status and journal, read before the
        // rollback restarted it, in the log and the summary (input "failure-logs").
        const journal = run.visibleLog.indexOf(`::group::"fastapi" on 127.0.0.1:${sshd.port}`)
        expect(journal).toBeGreaterThan(0)
        expect(run.visibleLog.slice(journal)).toContain(FAILED_JOURNAL)
        expect(run.summary).toContain(
          'fastapi.service: Main process exited, code=exited, status=1/FAILURE'
        )
        const journalCalls = sshd.calls().filter(call => call.includes('journalctl'))
        expect(journalCalls.length).toBeGreaterThan(0)
        // The release that failed is not kept as if it could be gone back to.
        expect(releases()).toEqual([id1])
      } finally {
        clearInterval(poll)
      }
    }, 90_000)

    it('on a first release has nothing to go back to, and says so', async () => {
      healthy = false
      const run = await release({ 'health-url': url, 'health-timeout': '2' })
      expect(run.code).toBe(1)
      const id = idOf(git('rev-parse', 'HEAD'), runId)
      expect(errors(run)[0]).toContain(
        `This was the first release on 127.0.0.1:${sshd.port}: there is nothing to go back to, so ${appDir}/current stays on ${id}.`
      )
      expect(run.outputs['rolled-back']).toBe('false')
      expect(current()).toBe(`releases/${id}`)
    }, 90_000)
  })

  it('keeps keep-releases, and never the live or previous one', async () => {
    const ids: string[] = []
    for (const version of ['v1', 'v2', 'v3']) {
      if (version !== 'v1') commit({ VERSION: `${version}\n` })
      expectSucceeded(await release({ 'keep-releases': '1' }))
      ids.push(idOf(git('rev-parse', 'HEAD'), runId))
    }
    // keep-releases 1 keeps the live one; the previous one stays for a rollback.
    expect(releases()).toEqual([ids[1], ids[2]].sort())
    expect(current()).toBe(`releases/${ids[2]}`)
  }, 120_000)

  it('leaves no release that looks whole when the connection is cut mid-upload, and the next run goes', async () => {
    // 24 MiB that gzip cannot shrink, so the upload takes long enough to be cut.
    writeFileSync(join(repo, 'blob.bin'), randomBytes(24 * 1024 * 1024))
    commit({ VERSION: 'v1\n' })
    const proxy = await cuttingProxy(sshd.port, 4 * 1024 * 1024)
    try {
      const run = await release({}, proxy.port)
      expect(run.code).toBe(1)
      expect(errors(run)[0]).toContain(`Receiving release`)
      expect(existsSync(join(appDir, 'current'))).toBe(false)
      expect(existsSync(join(appDir, 'releases')) ? releases() : []).toEqual([])
    } finally {
      proxy.close()
    }
    // The lock of the lost connection is stale: the next run takes it over, and clears the rest.
    const next = await release()
    expectSucceeded(next)
    expect(next.visibleLog).toContain('Taking over the lock of a release whose connection is gone')
    expect(readdirSync(join(appDir, 'releases'))).toEqual([next.outputs['release-id']])
  }, 120_000)

  it('makes a second run on the same instance wait for the first, then go', async () => {
    const slow = { 'release-command': 'sleep 3' }
    const first = release(slow)
    const firstId = idOf(git('rev-parse', 'HEAD'), runId)
    // Started once the first holds the lock.
    await waitFor(() => existsSync(join(appDir, '.release-lock', 'holder')))
    const second = await release()
    const done = await first
    expectSucceeded(done)
    expectSucceeded(second)
    expect(second.visibleLog).toContain(
      `Waiting for the release under way in ${appDir}: release ${firstId}`
    )
    expect(second.outputs['previous-release-id']).toBe(firstId)
    expect(current()).toBe(`releases/${second.outputs['release-id']}`)
    expect(restarts()).toHaveLength(2)
  }, 120_000)
})

describe('bad release inputs', () => {
  it.each([
    [{ 'app-dir': 'opt/fastapi' }, 'Input "app-dir" is "opt/fastapi": it must be an absolute path'],
    [
      { 'app-dir': '/opt/$(reboot)' },
      'Input "app-dir" is "/opt/$(reboot)": it must be an absolute path'
    ],
    [
      { 'release-path': '../elsewhere' },
      'Input "release-path" is "../elsewhere", which is outside the workspace'
    ],
    [
      { 'keep-releases': '0' },
      'Input "keep-releases" must be a whole number from 1 to 1000, not "0".'
    ],
    [{ restart: 'ssm' }, 'Input "release-bucket" is required for a release with restart: ssm'],
    [{ 'release-bucket': 'releases' }, 'Input "release-bucket" is for restart: ssm'],
    [
      { 'release-path': 'missing' },
      'Input "release-path" is "missing", which is not a directory of the checked-out commit'
    ]
  ])(
    '%j: one clear error before anything changes',
    async (inputs, message) => {
      const run = await release(inputs)
      expect(run.code).toBe(1)
      expect(errors(run)).toHaveLength(1)
      expect(errors(run)[0]).toContain(message)
      expect(sshd.calls()).toEqual([])
      expect(readdirSync(appDir)).toEqual([])
      expect(aws.secretValue(SECRET).json).toEqual({
        ...EXAMPLE_DEPLOYMENT,
        ec2_host: '127.0.0.1',
        ec2_user: sshd.user
      })
    },
    60_000
  )
})

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/**
 * A TCP relay to the SSH server that cuts both sides once `cutAfter` bytes went from the client to
 * the server: a connection lost in the middle of an upload, as a network loses one.
 */
async function cuttingProxy(port: number, cutAfter: number) {
  const sockets = new Set<net.Socket>()
  const server = net.createServer(client => {
    const upstream = net.connect({ host: '127.0.0.1', port })
    sockets.add(client).add(upstream)
    let sent = 0
    client.on('data', chunk => {
      sent += chunk.length
      if (sent > cutAfter) {
        client.destroy()
        upstream.destroy()
        return
      }
      upstream.write(chunk)
    })
    upstream.on('data', chunk => client.write(chunk))
    for (const socket of [client, upstream]) socket.on('error', () => undefined)
    upstream.on('close', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy()
      server.close()
    }
  }
}
