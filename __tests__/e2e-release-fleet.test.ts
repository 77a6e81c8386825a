// A release to a fleet over SSH, end to end through the bundle: three OpenSSH servers, each on its
// own loopback address and each with its own app-dir (a private mount of its own: separate
// machines have separate disks), targeted by instance id. Prepared everywhere first, switched in
// batches, a failed instance rolled back, and beyond max-errors the fleet back on one version.
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { loopbackAliasesWork, startSshdFleet, type SshdFixture } from '../test-support/sshd.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const FLEET = ['i-0aaa0000000000001', 'i-0aaa0000000000002', 'i-0aaa0000000000003']
const SECRET = 'FastAPIDeploymentSecrets'

const root = mkdtempSync(join(tmpdir(), 'sda-e2e-fleet-release-'))
// The path every instance has its own app-dir at.
const appDir = join(root, 'opt', 'fastapi')
mkdirSync(appDir, { recursive: true })
const repo = join(root, 'repo')

const usable = (await loopbackAliasesWork(3)) && process.getuid?.() === 0
if (!usable)
  console.log('release fleet tests skipped: they need root (mount namespaces) and 127.0.0.2-3')
const describeFleet = usable ? describe : describe.skip

let servers: SshdFixture[] = []
let aws: LocalAws
let runId = 500

beforeAll(async () => {
  if (usable) servers = await startSshdFleet(3, { ownDirectory: appDir })
}, 60_000)
afterAll(async () => {
  await Promise.all(servers.map(server => server.stop()))
  rmSync(root, { recursive: true, force: true })
})

beforeEach(async () => {
  rmSync(repo, { recursive: true, force: true })
  mkdirSync(repo)
  git('init', '-q')
  commit('v1')
  for (const server of servers) {
    // Emptied, not removed: the server's mount holds on to the directory itself.
    const own = server.ownDirectoryFiles as string
    for (const entry of readdirSync(own)) rmSync(join(own, entry), { recursive: true, force: true })
    await server.clearCalls()
    await server.setBehaviour({ onRestart: healthyAfterRestart(() => true) })
  }
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_user: servers[0]?.user ?? 'x' })
  FLEET.forEach((instanceId, i) =>
    aws.addInstance({
      instanceId,
      publicIp: servers[i].host,
      consoleOutput: cloudInitConsole([servers[i].hostPublicKey])
    })
  )
})
afterEach(() => aws.stop())

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: repo,
    encoding: 'utf8'
  }).trim()
}

function commit(version: string): string {
  writeFileSync(join(repo, 'VERSION'), `${version}\n`)
  git('add', '.')
  git('commit', '-q', '-m', version)
  return `${git('rev-parse', 'HEAD').slice(0, 12)}-${runId + 1}-1`
}

/** The stand-in's restart marks the service healthy, or (for a v2 that is broken there) not. */
function healthyAfterRestart(v2Works: () => boolean): string {
  return v2Works()
    ? `touch ${appDir}/healthy`
    : `rm -f ${appDir}/healthy; grep -q v1 ${appDir}/current/VERSION && touch ${appDir}/healthy`
}

function release(extra: Record<string, string> = {}): Promise<BundleRun> {
  runId++
  return runBundle(
    {
      deploy: 'false',
      targets: FLEET.join(','),
      restart: 'ssh',
      'ssh-private-key': servers[0].clientPrivateKey,
      'ssh-port': String(servers[0].port),
      'mask-exclude': 'ec2_host',
      'release-path': '.',
      'app-dir': appDir,
      'health-command': `test -e ${appDir}/healthy`,
      'health-timeout': '2',
      'max-concurrency': '1',
      ...extra
    },
    {
      ...aws.environment(),
      GITHUB_WORKSPACE: repo,
      GITHUB_RUN_ID: String(runId),
      GITHUB_RUN_ATTEMPT: '1'
    },
    { cwd: repo }
  )
}

/** Where current points on each instance, as that instance sees its own app-dir. */
const currents = () =>
  servers.map(server => {
    const link = join(server.ownDirectoryFiles as string, 'current')
    return existsSync(link) ? readlinkSync(link).replace('releases/', '') : undefined
  })
const errors = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)
const warnings = (run: BundleRun) => run.commands.filter(c => c.name === 'warning').map(c => c.data)

describeFleet('a release to a fleet over SSH', () => {
  it('ships one release to every instance, each with its own current', async () => {
    const id = commit('v1b')
    const run = await release({ 'max-concurrency': '2' })
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(currents()).toEqual([id, id, id])
    expect(run.outputs).toMatchObject({
      'release-id': id,
      'rolled-back-instances': '[]',
      restarted: 'true'
    })
    for (const instanceId of FLEET)
      expect(run.summary).toContain(`<td><code>${instanceId}</code></td><td>Success</td><td>0</td>`)
    expect(run.summary).toContain(`<td>${id} (health command passed)</td>`)
  }, 90_000)

  it('rolls back the instance that fails, within max-errors, and names it', async () => {
    const first = await release()
    expect(first.code).toBe(0)
    const id1 = first.outputs['release-id']
    await servers[1].setBehaviour({ onRestart: healthyAfterRestart(() => false) })
    const id2 = commit('v2')
    const run = await release({ 'max-errors': '1' })
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(currents()).toEqual([id2, id1, id2])
    expect(run.outputs).toMatchObject({
      'rolled-back': 'true',
      'rolled-back-instances': JSON.stringify([FLEET[1]]),
      'previous-release-id': id1,
      restarted: 'false'
    })
    expect(warnings(run).join('\n')).toContain(
      `1 of 3 instances did not take release ${id2} (${FLEET[1]} Failed); they run their previous release`
    )
    expect(run.summary).toContain(`<td>${id1} (rolled back)</td>`)
  }, 120_000)

  it('beyond max-errors starts no further batch and sends every switched instance back: one version', async () => {
    const first = await release()
    const id1 = first.outputs['release-id']
    await servers[1].setBehaviour({ onRestart: healthyAfterRestart(() => false) })
    const id2 = commit('v2')
    const run = await release({ 'max-errors': '0' })
    expect(run.code).toBe(1)
    const [error] = errors(run)
    expect(error).toContain(
      `Release ${id2} failed on 3 of 3 instances, more than max-errors 0 allows (0)`
    )
    expect(error).toContain(
      'every instance switched in this run went back to its previous release, so the fleet runs one version'
    )
    expect(currents()).toEqual([id1, id1, id1])
    // The third instance received the release but was never switched: nothing of it is left.
    expect(existsSync(join(servers[2].ownDirectoryFiles as string, 'releases', id2))).toBe(false)
    expect(run.outputs['rolled-back-instances']).toBe(JSON.stringify([FLEET[0], FLEET[1]]))
  }, 120_000)

  it('switches nothing anywhere when preparing fails beyond max-errors', async () => {
    const first = await release()
    const id1 = first.outputs['release-id']
    writeFileSync(join(servers[2].ownDirectoryFiles as string, 'no-room'), '')
    commit('v2')
    const run = await release({
      'max-errors': '0',
      'release-command': `if [ -e ${appDir}/no-room ]; then echo "No space left on device" >&2; exit 1; fi`
    })
    expect(run.code).toBe(1)
    const [error] = errors(run)
    expect(error).toContain('failed on 1 of 3 instances, more than max-errors 0 allows (0)')
    expect(error).toContain('Nothing was switched anywhere.')
    expect(error).toContain('No space left on device')
    expect(currents()).toEqual([id1, id1, id1])
    for (const server of servers)
      expect(server.calls().filter(call => call[1] === 'restart')).toHaveLength(1)
  }, 120_000)
})
