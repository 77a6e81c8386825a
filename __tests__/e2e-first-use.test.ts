// What a first-time user meets, through the bundle as the runner runs it: a CDK CLI that is not
// installed where the CDK app is (the real npx, offline), and a deploy that changes nothing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
  aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
})
afterEach(() => aws.stop())

function errors(run: BundleRun): string[] {
  return run.visibleLog.split('\n').filter(line => line.startsWith('::error::'))
}

describe('a CDK CLI that is not installed in working-directory', () => {
  it('fails with one error that says to add aws-cdk there or set cdk-command', async () => {
    // An empty directory: no package.json, no node_modules. The default cdk-command, offline, so
    // that npm asks no registry and fails as it does when the package is not installed.
    const dir = mkdtempSync(join(tmpdir(), 'sda-no-cdk-'))
    try {
      const before = aws.secretValue('FastAPIDeploymentSecrets')
      const run = await runBundle(
        {
          stack: STACK,
          'working-directory': dir,
          'cdk-command': 'npx --no-install --offline cdk',
          restart: 'none'
        },
        // npm's own cache stays out of the user's home: nothing cached, nothing written there.
        { ...aws.environment(), npm_config_cache: join(dir, '.npm-cache') }
      )
      expect(run.code).toBe(1)
      const [error, ...more] = errors(run)
      expect(more).toEqual([])
      expect(error).toContain(`cdk deploy of stack "${STACK}" failed with exit code 1`)
      expect(error).toContain(`npx found no CDK CLI installed in "${dir}"`)
      expect(error).toContain('npm i -D aws-cdk')
      expect(error).toContain('input "cdk-command"')
      // Nothing lost: the secret is as it was, no address was set.
      expect(aws.secretValue('FastAPIDeploymentSecrets').versionId).toBe(before.versionId)
      expect(run.outputs['instance-ip']).toBeUndefined()
      expect(run.outputs['stack-changed']).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('gives no such advice when the CLI ran and the deploy itself failed', async () => {
    const app = createCdkApp({ fail: { message: 'Resource handler returned message: denied' } })
    const run = await runBundle(
      { stack: STACK, 'working-directory': app.dir, 'cdk-command': app.command, restart: 'none' },
      aws.environment()
    )
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain('Resource handler returned message: denied')
    expect(error).not.toContain('npm i -D aws-cdk')
  })
})

describe('output stack-changed', () => {
  const outputs = { InstanceId: INSTANCE }

  it('is true when cdk deploy changed the stack', async () => {
    const app = createCdkApp({ stacks: { [STACK]: { outputs } } })
    const run = await runBundle(
      { stack: STACK, 'working-directory': app.dir, 'cdk-command': app.command, restart: 'none' },
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(run.outputs['stack-changed']).toBe('true')
    expect(run.visibleLog).toContain(
      `cdk deploy changed stack "${STACK}" (output stack-changed is true).`
    )
  })

  it('is false for a no-op deploy, which the log says outside the collapsed group', async () => {
    const app = createCdkApp({ stacks: { [STACK]: { outputs, unchanged: true } } })
    const run = await runBundle(
      { stack: STACK, 'working-directory': app.dir, 'cdk-command': app.command, restart: 'none' },
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(run.outputs['stack-changed']).toBe('false')
    // The rest of the run goes on as for any deploy: the outputs are current, the address known.
    expect(run.outputs['instance-ip']).toBe('203.0.113.7')
    const log = run.visibleLog
    const group = log.slice(log.indexOf('::group::'), log.indexOf('::endgroup::'))
    expect(group).toContain(` ✅  ${STACK} (no changes)`)
    const after = log.slice(log.indexOf('::endgroup::'))
    expect(after).toContain(
      `cdk deploy left stack "${STACK}" as it was: the CDK CLI reported no changes (output stack-changed is false).`
    )
  })
})
