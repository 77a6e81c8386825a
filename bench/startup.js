// Benchmark: how long one run of the bundle takes, as a ratio to a bare `node -e 0` measured in
// the same run (these machines are shared and noisy: compare ratios, not milliseconds).
//   npm run bench [-- --runs 15] [--only <part of a case name>] [--node <path to node>]
// Cases: a secrets-only run (deploy: false, restart: none), which never loads the EC2 client or
// the SSH library, and a deploy run (CDK stand-in, instance lookup, write-back; restart: none).
// Then the restart-only run (deploy: false, restart: ssh, pinned host key) against OpenSSH's own
// client doing the same restart and check on the same sshd (test-support/sshd.js), as a ratio.
// Fleets: restart: ssm of 1 and of 50 instances (input "targets", max-concurrency 100%) on the
// local endpoint, which runs each instance's command through /bin/sh; the 50 as a ratio to the 1.
// Then the SSM requests per poll round (ListCommandInvocations) at 50 and 200 instances.
// Also a secrets-only run with config-path (30 parameters, three pages), which loads the SSM
// client, as a ratio to the plain secrets-only run; and deploy: diff (the CDK stand-in's diff).
// And restart: ssh of 1 and of 50 instances (input "targets", max-concurrency 100%, pinned host
// key): the 50 are 50 instances on the endpoint whose address is ONE sshd fixture (50 separate
// sshd processes would measure this shared machine more than the action); the 50 as a ratio to the 1,
// and the action's own CPU time in each (bench/report-cpu.js) as a ratio too.
// Behind a load balancer (--only target): restart: ssh of 10 instances (on the one sshd fixture)
// in batches of 2 (max-concurrency 2) behind one ELBv2 target group (deregistration delay 0), as
// a ratio to the same restart without target-group-arn; the same with restart: ssm (one Run
// Command per batch, each with its own polls); then DescribeTargetHealth requests per poll round
// at 1, 10 and 50 instances behind two target groups (one batch, healthy after 1.5 s).
// Releases (--only release): a 20 MiB tree (half text, half random bytes) shipped with
// release-path to one instance, as a ratio to the whole pipeline `git archive HEAD | gzip | ssh
// host 'tar -xz -C dir && sudo systemctl restart fastapi && systemctl is-active fastapi'` on the
// same sshd; to 10 instances (10 sshd on 127.0.0.1-10, each with its own app-dir: needs root),
// as a ratio to one; and the action's peak RSS shipping 200 MiB against shipping 1 MiB.
import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { readFileSync } from 'node:fs'
import { LocalAws } from '../test-support/aws-endpoint.js'
import { loopbackAliasesWork, startSshd, startSshdFleet } from '../test-support/sshd.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const runsAt = process.argv.indexOf('--runs')
const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 15
// --only <text>: the cases whose name contains it (the baseline always runs), e.g. --only restart
const onlyAt = process.argv.indexOf('--only')
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined
// --node <path>: the Node that runs the bundle and the baseline (default: this one). The runner
// runs the action on Node 24 (action.yml), which a machine with another Node can time this way.
const nodeAt = process.argv.indexOf('--node')
const node = nodeAt > 0 ? process.argv[nodeAt + 1] : process.execPath

const aws = new LocalAws()
await aws.start()
aws.putSecret('FastAPIDeploymentSecrets', {
  ec2_key_name: 'k',
  ec2_host: '',
  ec2_user: 'ec2-user',
  github_repo: 'r'
})
aws.putSecret('FastAPIAppSecrets', { db_password: 'p', jwt_secret: 'j' })
aws.addInstance({ instanceId: 'i-0abc1234def567890', publicIp: '203.0.113.7' })
const fleet = Array.from({ length: 200 }, (_, i) => `i-0f1ee7${String(i).padStart(11, '0')}`)
fleet.forEach((instanceId, i) => {
  aws.addInstance({ instanceId, publicIp: `198.51.${i >> 8}.${i & 255}`, tags: { fleet: 'bench' } })
  aws.ssm.addAgent(instanceId)
})

const sshd = await startSshd()
const sshFleet = Array.from({ length: 50 }, (_, i) => `i-055f1ee7${String(i).padStart(9, '0')}`)
for (const instanceId of sshFleet) aws.addInstance({ instanceId, publicIp: sshd.host })
aws.putSecret('RestartOnlySecrets', {
  ec2_key_name: 'k',
  ec2_host: sshd.host,
  ec2_user: sshd.user,
  github_repo: 'r'
})

const work = mkdtempSync(join(tmpdir(), 'sda-bench-'))
const keyFile = join(work, 'id_ed25519')
writeFileSync(keyFile, sshd.clientPrivateKey)
chmodSync(keyFile, 0o600)
const knownHosts = join(work, 'known_hosts')
writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${sshd.hostPublicKey}\n`)
writeFileSync(join(work, 'cdk.json'), '{}')
writeFileSync(
  join(work, 'cdk-stand-in.json'),
  JSON.stringify({ stacks: { S: { outputs: { Id: 'i-0abc1234def567890' } } }, diff: 'replacement' })
)
for (let i = 0; i < 30; i++) aws.parameters.put(`/bench/config/p${i}`, `value-${i}`)

const defaults = Object.fromEntries(
  Object.entries(parse(readFileSync(join(root, 'action.yml'), 'utf8')).inputs).map(
    ([name, spec]) => [`INPUT_${name.toUpperCase()}`, String(spec.default ?? '')]
  )
)

/** @param {Record<string, string>} inputs */
function bundleEnv(inputs) {
  const files = Object.fromEntries(
    ['GITHUB_OUTPUT', 'GITHUB_ENV'].map(name => [name, join(work, name)])
  )
  for (const file of Object.values(files)) writeFileSync(file, '')
  /** @type {Record<string, string>} */
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: work,
    RUNNER_TEMP: work,
    ...files,
    ...aws.environment(),
    ...defaults
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  return env
}

/**
 * @param {string[]} args @param {Record<string, string>} env @param {string} [program] node by default
 * @returns {Promise<number>} ms
 */
function timed(args, env, program = node) {
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
    // The last of what it printed, for the message when it fails.
    let tail = ''
    child.stdout.on('data', chunk => (tail = (tail + chunk).slice(-2000)))
    child.on('error', reject)
    child.on('close', code => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}:\n${tail}`))
      else resolve(Number(process.hrtime.bigint() - started) / 1e6)
    })
  })
}

/** @param {string[]} targets */
const ssmRun = targets =>
  timed(
    [join(root, 'dist/index.js')],
    bundleEnv({
      deploy: 'false',
      targets: targets.join(','),
      restart: 'ssm',
      'max-concurrency': '100%'
    })
  )

// The fleet behind target groups, all healthy (test-support/elbv2.js): one for the rolling
// restart, two for the poll rounds.
const gatedGroup = aws.targetGroups.addGroup({ name: 'bench-web', targets: fleet.slice(0, 10) })
const sshGroup = aws.targetGroups.addGroup({ name: 'bench-ssh', targets: sshFleet.slice(0, 10) })
const pollGroups = ['bench-a', 'bench-b'].map(name =>
  aws.targetGroups.addGroup({ name, targets: fleet, healthyAfterMs: 1500 })
)

/** restart: ssm of `count` instances, 2 at a time, behind `groups` (none: no load balancer). @param {number} count @param {string[]} groups @param {string} [concurrency] */
const gatedRun = (count, groups, concurrency = '2') =>
  timed(
    [join(root, 'dist/index.js')],
    bundleEnv({
      deploy: 'false',
      targets: fleet.slice(0, count).join(','),
      restart: 'ssm',
      'max-concurrency': concurrency,
      'target-group-arn': groups.join(',')
    })
  )

/** restart: ssh of the first 10 of the SSH fleet, 2 at a time, behind `groups` (or none). @param {string[]} groups */
const gatedSshRun = groups =>
  timed(
    [join(root, 'dist/index.js')],
    bundleEnv({
      deploy: 'false',
      targets: sshFleet.slice(0, 10).join(','),
      'deployment-secret-id': 'RestartOnlySecrets',
      'app-secret-id': '',
      'ssh-private-key': sshd.clientPrivateKey,
      'ssh-host-fingerprint': sshd.hostFingerprint,
      'ssh-port': String(sshd.port),
      'max-concurrency': '2',
      'target-group-arn': groups.join(',')
    })
  )

/**
 * DescribeTargetHealth requests per poll round for one gated restart of `count` instances behind
 * the two poll groups: a round asks each group once about every target of the batch.
 * @param {number} count
 */
async function targetHealthPerPollRound(count) {
  aws.calls = []
  await gatedRun(count, pollGroups, '100%')
  const polls = aws.callsOf('DescribeTargetHealth').filter(c => c.params['Targets.member.1.Id'])
  const rounds = polls.filter(c => c.params.TargetGroupArn === pollGroups[0]).length
  const targets = Math.max(
    ...polls.map(c => Object.keys(c.params).filter(k => k.endsWith('.Id')).length)
  )
  return { requests: polls.length, rounds, perRound: polls.length / rounds, targets }
}

/** The action's own CPU time (ms) in each SSH fleet run, by case. */
const cpuFile = join(work, 'cpu')
/** @type {Record<string, number[]>} */
const cpu = { 1: [], 50: [] }

/** @param {string[]} targets */
const sshRun = async targets => {
  writeFileSync(cpuFile, '')
  const ms = await timed(
    ['--import', join(root, 'bench/report-cpu.js'), join(root, 'dist/index.js')],
    {
      ...bundleEnv({
        deploy: 'false',
        targets: targets.join(','),
        'deployment-secret-id': 'RestartOnlySecrets',
        'app-secret-id': '',
        'ssh-private-key': sshd.clientPrivateKey,
        'ssh-host-fingerprint': sshd.hostFingerprint,
        'ssh-port': String(sshd.port),
        'max-concurrency': '100%'
      }),
      BENCH_CPU_FILE: cpuFile
    }
  )
  cpu[targets.length].push(Number(readFileSync(cpuFile, 'utf8').trim()))
  return ms
}

/** A git checkout of `mib` MiB in files of 128 KiB, half compressible text, half random bytes. */
function releaseRepo(/** @type {number} */ mib) {
  const dir = join(work, `repo-${mib}`)
  mkdirSync(dir)
  const git = (/** @type {string[]} */ ...args) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@example.com', ...args], {
      cwd: dir
    })
  git('init', '-q')
  for (let i = 0; i < mib * 8; i++) {
    const body =
      i % 2
        ? randomBytes(128 * 1024)
        : Buffer.from(`line ${i} of some source text\n`.repeat(4096)).subarray(0, 128 * 1024)
    writeFileSync(join(dir, `file-${i}.bin`), body)
  }
  git('add', '.')
  git('commit', '-q', '-m', 'release')
  return dir
}
const wantsReleases = !only || 'release'.includes(only) || only.includes('release')
const releaseRepos = wantsReleases
  ? { 1: releaseRepo(1), 20: releaseRepo(20), 200: releaseRepo(200) }
  : undefined
const fleetAppDir = join(work, 'fleet-app')
mkdirSync(fleetAppDir)
const releaseFleet =
  wantsReleases && process.getuid?.() === 0 && (await loopbackAliasesWork(10))
    ? await startSshdFleet(10, { ownDirectory: fleetAppDir })
    : []
const releaseFleetIds = releaseFleet.map((server, i) => {
  const instanceId = `i-0ae1ea5e${String(i).padStart(9, '0')}`
  aws.addInstance({ instanceId, publicIp: server.host })
  return instanceId
})
let releaseRun = 1000
const maxRssFile = join(work, 'max-rss')
/** @type {Record<string, number[]>} */
const peakRss = {}

/**
 * The action shipping the repo of `mib` MiB; its peak RSS kept under `rssKey` when given.
 * @param {number} mib
 * @param {Record<string, string>} extra
 * @param {string} [rssKey]
 */
async function releaseRunOf(mib, extra, rssKey) {
  releaseRun++
  const repo = /** @type {Record<number, string>} */ (releaseRepos)[mib]
  const ms = await timed([join(root, 'dist/index.js')], {
    ...bundleEnv({
      deploy: 'false',
      'deployment-secret-id': 'RestartOnlySecrets',
      'app-secret-id': '',
      'ssh-private-key': sshd.clientPrivateKey,
      'ssh-port': String(sshd.port),
      'release-path': '.',
      'keep-releases': '1',
      ...extra
    }),
    GITHUB_WORKSPACE: repo,
    GITHUB_RUN_ID: String(releaseRun),
    GITHUB_RUN_ATTEMPT: '1',
    NODE_OPTIONS: `--import=${join(root, 'test-support/max-rss.js')}`,
    MAX_RSS_FILE: maxRssFile
  })
  if (rssKey) (peakRss[rssKey] ??= []).push(Number(readFileSync(maxRssFile, 'utf8')) / 1024)
  return ms
}
const oneAppDir = join(work, 'one-app')
mkdirSync(oneAppDir)
const single = (/** @type {number} */ mib) =>
  releaseRunOf(
    mib,
    { 'app-dir': oneAppDir, 'ssh-host-fingerprint': sshd.hostFingerprint },
    `${mib} MiB`
  )

const cases = {
  'node -e 0 (baseline)': () => timed(['-e', '0'], { PATH: process.env.PATH ?? '' }),
  'ssh restart (OpenSSH)': () =>
    timed(
      [
        '-i',
        keyFile,
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-p',
        String(sshd.port),
        `${sshd.user}@${sshd.host}`,
        'sudo systemctl restart fastapi && systemctl is-active fastapi'
      ],
      { PATH: process.env.PATH ?? '', HOME: work },
      'ssh'
    ),
  'restart only': () =>
    timed(
      [join(root, 'dist/index.js')],
      bundleEnv({
        deploy: 'false',
        'deployment-secret-id': 'RestartOnlySecrets',
        'app-secret-id': '',
        'ssh-private-key': sshd.clientPrivateKey,
        'ssh-host-fingerprint': sshd.hostFingerprint,
        'ssh-port': String(sshd.port)
      })
    ),
  'secrets only': () =>
    timed([join(root, 'dist/index.js')], bundleEnv({ deploy: 'false', restart: 'none' })),
  'secrets + config-path': () =>
    timed(
      [join(root, 'dist/index.js')],
      bundleEnv({ deploy: 'false', restart: 'none', 'config-path': '/bench/config/' })
    ),
  'deploy: diff': () =>
    timed(
      [join(root, 'dist/index.js')],
      bundleEnv({
        deploy: 'diff',
        stack: 'S',
        'working-directory': work,
        'cdk-command': `node ${join(root, 'test-support/cdk-stand-in.js')}`
      })
    ),
  'deploy + write-back': () => {
    aws.putSecret('FastAPIDeploymentSecrets', {
      ec2_key_name: 'k',
      ec2_host: '',
      ec2_user: 'ec2-user',
      github_repo: 'r'
    })
    return timed(
      [join(root, 'dist/index.js')],
      bundleEnv({
        stack: 'S',
        restart: 'none',
        'working-directory': work,
        'cdk-command': `node ${join(root, 'test-support/cdk-stand-in.js')}`
      })
    )
  },
  'ssm, 1 instance': () => ssmRun(fleet.slice(0, 1)),
  'ssm, 50 instances': () => ssmRun(fleet.slice(0, 50)),
  'ssh, 1 instance': () => sshRun(sshFleet.slice(0, 1)),
  'ssh, 50 instances': () => sshRun(sshFleet),
  'release pipeline, 20 MiB': () =>
    timed(
      [
        '-c',
        `git -C "$0" archive HEAD | gzip | ssh -i "$1" -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes ` +
          `-o StrictHostKeyChecking=yes -o UserKnownHostsFile="$2" -p "$3" "$4" ` +
          `'d=${work}/pipeline; rm -rf $d && mkdir $d && tar -xz -C $d && sudo systemctl restart fastapi && systemctl is-active fastapi'`,
        /** @type {Record<number, string>} */ (releaseRepos ?? {})[20] ?? '',
        keyFile,
        knownHosts,
        String(sshd.port),
        `${sshd.user}@${sshd.host}`
      ],
      { PATH: process.env.PATH ?? '', HOME: work },
      '/bin/sh'
    ),
  'target group: ssh, 10 in batches of 2': () => gatedSshRun([sshGroup]),
  'target group: none, ssh, 10, 2 at a time': () => gatedSshRun([]),
  'target group: ssm, 10 in batches of 2': () => gatedRun(10, [gatedGroup]),
  'target group: none, ssm, 10, 2 at a time': () => gatedRun(10, []),
  'release, 20 MiB': () => single(20),
  'release, 20 MiB, 10 instances': () =>
    releaseRunOf(20, {
      targets: releaseFleetIds.join(','),
      'app-dir': fleetAppDir,
      'ssh-host-fingerprint': releaseFleet.map(server => server.hostFingerprint).join('\n'),
      'ssh-port': String(releaseFleet[0]?.port ?? 0),
      'ssh-private-key': releaseFleet[0]?.clientPrivateKey ?? '',
      'max-concurrency': '100%'
    }),
  'release, 1 MiB': () => single(1),
  'release, 200 MiB': () => single(200)
}

/**
 * ListCommandInvocations requests per poll round for one restart of `count` instances: a round
 * asks about every command not yet final, page by page; its first request for the first command
 * carries no NextToken.
 * @param {number} count
 */
async function requestsPerPollRound(count) {
  aws.calls = []
  await ssmRun(fleet.slice(0, count))
  const lists = aws.callsOf('ListCommandInvocations')
  const firstCommand = lists[0]?.params.CommandId
  const rounds = lists.filter(
    c => c.params.CommandId === firstCommand && !c.params.NextToken
  ).length
  return { requests: lists.length, rounds, perRound: lists.length / rounds }
}

const selected = Object.entries(cases).filter(
  ([name]) =>
    (!only || name.includes(only) || name.includes('baseline')) &&
    // Ten servers, each with its own app-dir, need root and 127.0.0.2-10.
    (name !== 'release, 20 MiB, 10 instances' || releaseFleet.length > 0)
)
/** @type {Record<string, number[]>} */
const samples = Object.fromEntries(selected.map(([name]) => [name, []]))
/** @type {Record<number, { requests: number, rounds: number, perRound: number }>} */
const polls = {}
/** @type {Record<number, { requests: number, rounds: number, perRound: number, targets: number }>} */
const healthPolls = {}
try {
  // Interleaved, so that a noisy moment hits every case alike.
  for (let i = 0; i < runs; i++) for (const [name, run] of selected) samples[name].push(await run())
  if (selected.some(([name]) => name.startsWith('ssm')))
    for (const count of [1, 50, 200]) polls[count] = await requestsPerPollRound(count)
  if (selected.some(([name]) => name.startsWith('target group')))
    for (const count of [1, 10, 50]) healthPolls[count] = await targetHealthPerPollRound(count)
} finally {
  await aws.stop()
  await sshd.stop()
  await Promise.all(releaseFleet.map(server => server.stop()))
  rmSync(work, { recursive: true, force: true })
}
const median = (/** @type {number[]} */ xs) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const baseline = median(samples['node -e 0 (baseline)'])
const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
console.log(`node ${version}, ${runs} runs each, medians as multiples of the baseline:`)
for (const [name, xs] of Object.entries(samples)) {
  console.log(
    `  ${name.padEnd(22)} ${(median(xs) / baseline).toFixed(1).padStart(5)}x   (${median(xs).toFixed(0)} ms)`
  )
}
/** Prints `label: a / b` when both cases ran. @param {string} a @param {string} b @param {string} label */
function ratio(a, b, label) {
  if (!samples[a] || !samples[b]) return
  console.log(`${label}: ${(median(samples[a]) / median(samples[b])).toFixed(2)}x`)
}
ratio(
  'restart only',
  'ssh restart (OpenSSH)',
  "restart only / OpenSSH's ssh doing the same restart and check (goal: at most 1.0x)"
)
ratio('secrets + config-path', 'secrets only', '  secrets + config-path / secrets only')
ratio('deploy: diff', 'deploy + write-back', '  deploy: diff / deploy + write-back')
ratio(
  'ssm, 50 instances',
  'ssm, 1 instance',
  '  ssm, 50 instances / ssm, 1 instance (goal: at most 2x)'
)
ratio(
  'ssh, 50 instances',
  'ssh, 1 instance',
  '  ssh, 50 instances / ssh, 1 instance (max-concurrency 100%; the 50 instances are 50 targets ' +
    'on one sshd fixture, not 50 sshd processes)'
)
if (cpu[1].length && cpu[50].length)
  console.log(
    `    the action's own CPU time, ssh 50 / ssh 1: ${(median(cpu[50]) / median(cpu[1])).toFixed(2)}x ` +
      `(${median(cpu[50]).toFixed(0)} ms / ${median(cpu[1]).toFixed(0)} ms; the rest of the wall time is the one sshd ` +
      'and its 50 sessions on this machine)'
  )
ratio(
  'target group: ssh, 10 in batches of 2',
  'target group: none, ssh, 10, 2 at a time',
  '  ssh, 10 instances in batches of 2 behind a target group / the same without one (goal: at most 1.5x)'
)
ratio(
  'target group: ssm, 10 in batches of 2',
  'target group: none, ssm, 10, 2 at a time',
  '  ssm, 10 instances in batches of 2 behind a target group / the same without one (one Run Command per batch)'
)
for (const [count, p] of Object.entries(healthPolls)) {
  console.log(
    `  DescribeTargetHealth requests per poll round at ${String(count).padStart(2)} instances, 2 target groups: ` +
      `${p.perRound.toFixed(1)} (${p.requests} in ${p.rounds} rounds, up to ${p.targets} targets each)`
  )
}
ratio(
  'release, 20 MiB',
  'release pipeline, 20 MiB',
  '  release, 20 MiB / git archive | gzip | ssh tar -xz && restart && is-active (goal: at most 1.1x)'
)
ratio(
  'release, 20 MiB, 10 instances',
  'release, 20 MiB',
  '  release, 20 MiB to 10 instances (10 sshd, 127.0.0.1-10) / to 1 (goal: at most 2.5x)'
)
if (peakRss['1 MiB']?.length && peakRss['200 MiB']?.length)
  console.log(
    `  peak RSS of the action shipping 200 MiB - shipping 1 MiB: ${(median(peakRss['200 MiB']) - median(peakRss['1 MiB'])).toFixed(1)} MiB ` +
      `(${median(peakRss['200 MiB']).toFixed(0)} MiB / ${median(peakRss['1 MiB']).toFixed(0)} MiB; goal: less than 50 MiB)`
  )
for (const [count, p] of Object.entries(polls)) {
  console.log(
    `  ssm requests per poll round at ${String(count).padStart(3)} instances: ${p.perRound.toFixed(1)} ` +
      `(ListCommandInvocations: ${p.requests} in ${p.rounds} rounds)`
  )
}
