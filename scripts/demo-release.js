// npm run demo -- --release: a release over SSH with the committed bundle, against a local SSH
// server (test-support/sshd.js: OpenSSH's where installed) and the local AWS endpoint: two pushes
// in a row, then a push whose health check fails and is rolled back. The "service" is a small
// HTTP server here that answers health-url from whatever release current points to.
import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalAws } from '../test-support/aws-endpoint.js'
import { EXAMPLE_APP, EXAMPLE_DEPLOYMENT } from '../test-support/example-secrets.js'
import { presentLogLine, runAction } from '../test-support/runner.js'
import { startSshd } from '../test-support/sshd.js'

const RULE = '─'.repeat(78)

/** @returns {Promise<number>} the exit code: 0 when the demo went as it should */
export async function demonstrateRelease() {
  const work = mkdtempSync(join(tmpdir(), 'sda-demo-release-'))
  const repo = join(work, 'repo')
  const appDir = join(work, 'opt', 'fastapi')
  mkdirSync(repo)
  mkdirSync(appDir, { recursive: true })
  const git = (/** @type {string[]} */ ...args) =>
    execFileSync('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.com', ...args], {
      cwd: repo
    })
  git('init', '-q')
  // The service answers healthy unless the release it runs says otherwise.
  const service = createServer((_request, response) => {
    /** @type {string} */
    let state
    try {
      state = readFileSync(join(appDir, 'current', 'HEALTH'), 'utf8').trim()
    } catch {
      state = 'missing'
    }
    response.statusCode = state === 'ok' ? 200 : 503
    response.end(state)
  })
  await new Promise(resolve => service.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = service.address()
  const healthUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/health`
  const sshd = await startSshd()
  const aws = new LocalAws()
  await aws.start()
  let failures = 0
  try {
    aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      ec2_host: sshd.host,
      ec2_user: sshd.user
    })
    const pushes = [
      { version: 'v1', health: 'ok', expect: 0 },
      { version: 'v2', health: 'ok', expect: 0 },
      { version: 'v3 (broken)', health: 'broken', expect: 1 }
    ]
    for (const [i, push] of pushes.entries()) {
      writeFileSync(join(repo, 'main.py'), `print(${JSON.stringify(push.version)})\n`)
      writeFileSync(join(repo, 'HEALTH'), `${push.health}\n`)
      git('add', '.')
      git('commit', '-q', '-m', push.version)
      console.log(`\n${RULE}\nPush ${i + 1}: ${push.version}\n${RULE}`)
      const run = await runAction(
        {
          deploy: 'false',
          restart: 'ssh',
          'ssh-private-key': sshd.clientPrivateKey,
          'ssh-host-fingerprint': sshd.hostFingerprint,
          'ssh-port': String(sshd.port),
          'mask-exclude': 'ec2_host',
          'release-path': '.',
          'app-dir': appDir,
          'health-url': healthUrl,
          'health-timeout': '3'
        },
        { ...aws.environment(), GITHUB_WORKSPACE: repo, GITHUB_RUN_ID: String(7000 + i) },
        {
          cwd: repo,
          onLogLine: line => {
            const shown = presentLogLine(line)
            if (shown !== undefined) console.log(shown)
          }
        }
      )
      const { outputs } = run
      console.log(
        `\n(exit code ${run.code}) release-id ${outputs['release-id']}, previous-release-id ` +
          `${outputs['previous-release-id'] || '(none)'}, rolled-back ${outputs['rolled-back']}`
      )
      console.log(
        `On the instance: current -> ${readlinkSync(join(appDir, 'current'))}; releases: ` +
          readdirSync(join(appDir, 'releases')).join(', ')
      )
      if (run.code !== push.expect) failures++
    }
  } finally {
    await aws.stop()
    await sshd.stop()
    await new Promise(resolve => service.close(() => resolve(undefined)))
    rmSync(work, { recursive: true, force: true })
  }
  console.log(
    failures === 0
      ? '\nAs expected: two releases went live in turn, the broken third was rolled back to the second.'
      : `\n${failures} push(es) did not end as expected.`
  )
  return failures === 0 ? 0 : 1
}
