// Someone who can write the deployment secret, but not the repository, tries to run code in the
// workflow through the environment (issue: a secret must not choose environment variable names).
// Each attack is shown to work when the variable does get through, so that a pass means
// something: the action keeps it out.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'

let aws: LocalAws
let dir: string
let marker: string

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
  dir = mkdtempSync(join(tmpdir(), 'sda-attack-'))
  marker = join(dir, 'pwned')
})
afterEach(async () => {
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** A later `run:` step as the runner starts it: bash, with the job's environment. */
function laterBashStep(env: Record<string, string>): void {
  spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', 'true'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: 'ignore'
  })
}

describe('a secret that names an environment variable', () => {
  it('cannot make later bash steps run a command through BASH_ENV (export-env: true)', async () => {
    const payload = `$(touch ${marker})`
    // The attack is real: bash expands BASH_ENV, command substitution included.
    laterBashStep({ BASH_ENV: payload })
    expect(existsSync(marker)).toBe(true)
    rmSync(marker)

    aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, bash_env: payload })
    const run = await runBundle(
      { deploy: 'false', restart: 'none', 'export-env': 'true' },
      aws.environment()
    )
    expect(run.code).toBe(0)
    // Still a (masked) step output, inert until a workflow uses it ...
    expect(run.outputs.bash_env).toBe(payload)
    // ... but no environment variable: only the declared keys are exported.
    expect(Object.keys(run.exportedEnv).sort()).toEqual([
      'EC2_HOST',
      'EC2_KEY_NAME',
      'EC2_USER',
      'GITHUB_REPO'
    ])
    laterBashStep(run.exportedEnv)
    expect(existsSync(marker)).toBe(false)
  })

  it('cannot run code inside the deploy through npx (NPM_CONFIG_NODE_OPTIONS)', async () => {
    const script = join(dir, 'payload.cjs')
    writeFileSync(script, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')\n`)
    const nodeOptions = `--require ${script}`
    // The attack is real: npx hands npm's node-options setting to Node.js as NODE_OPTIONS.
    spawnSync('npx', ['--no-install', '--offline', 'node', '-e', '0'], {
      env: { ...process.env, NPM_CONFIG_NODE_OPTIONS: nodeOptions },
      stdio: 'ignore'
    })
    expect(existsSync(marker)).toBe(true)
    rmSync(marker)

    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      npm_config_node_options: nodeOptions,
      api_url: 'https://api.example.test'
    })
    const app = createCdkApp({
      stacks: { [STACK]: { outputs: { InstanceId: INSTANCE } } },
      recordEnv: ['NPM_CONFIG_NODE_OPTIONS', 'npm_config_node_options', 'API_URL', 'EC2_USER']
    })
    const run = await runBundle(
      {
        stack: STACK,
        'working-directory': app.dir,
        // As users call the CDK CLI: through npx.
        'cdk-command': `npx --no-install --offline ${app.command}`,
        restart: 'none',
        'env-keys': 'ec2_user, ec2_host, api_url'
      },
      aws.environment()
    )
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(existsSync(marker)).toBe(false)
    // A declared extra key reaches the CDK app; an undeclared one does not.
    expect(app.invocations()[0].env).toEqual({
      NPM_CONFIG_NODE_OPTIONS: null,
      npm_config_node_options: null,
      API_URL: 'https://api.example.test',
      EC2_USER: 'ec2-user'
    })
    app.remove()
  })

  it('refuses a dangerous name even when the workflow declares it, before deploying', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      npm_config_node_options: `--require ${join(dir, 'payload.cjs')}`
    })
    const app = createCdkApp({ stacks: { [STACK]: { outputs: { InstanceId: INSTANCE } } } })
    const run = await runBundle(
      {
        stack: STACK,
        'working-directory': app.dir,
        'cdk-command': app.command,
        restart: 'none',
        'env-keys': 'ec2_user, npm_config_node_options'
      },
      aws.environment()
    )
    expect(run.code).toBe(1)
    const errors = run.stdout.split('\n').filter(line => line.startsWith('::error::'))
    expect(errors).toEqual([
      expect.stringContaining(
        'Input "env-keys" lists "npm_config_node_options", which would become the environment variable NPM_CONFIG_NODE_OPTIONS'
      )
    ])
    expect(app.invocations()).toEqual([])
    expect(aws.secretValue('FastAPIDeploymentSecrets').json.ec2_host).toBe('')
    app.remove()
  })

  it('reaches no command the fleet runs (restart: ssm builds it from validated parts only)', async () => {
    const payload = `$(touch ${marker})`
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      bash_env: payload,
      ec2_user: `ec2-user; touch ${marker}`,
      ec2_host: `203.0.113.7; touch ${marker}`
    })
    aws.ssm.addAgent(INSTANCE)
    const run = await runBundle(
      {
        deploy: 'false',
        targets: INSTANCE,
        restart: 'ssm',
        'export-env': 'true',
        'env-keys': 'ec2_key_name'
      },
      aws.environment()
    )
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(aws.ssm.calls(INSTANCE).map(call => call[0])).toEqual(['systemctl', 'systemctl'])
    const scripts = [...aws.ssm.commands.values()].map(command => command.script).join('\n')
    expect(scripts).not.toContain('touch')
    expect(existsSync(marker)).toBe(false)
  })
})
