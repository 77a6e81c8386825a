// Names and ids that whoever writes the deployment secret, a Parameter Store path or the CDK app
// chooses, through the bundle as the runner runs it: output names the runner takes for one
// (it compares them without case and applies GITHUB_OUTPUT's lines in order), a version id built
// to be workflow commands, and an address inside a stack output's URL.
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager'
import { stripAnsi } from '../src/cdk/diff.js'
import { createCdkApp, type CdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  secretsManagerFor,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'
const ADDRESS = '203.0.113.7'
const SECRET = 'FastAPIDeploymentSecrets'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.addInstance({ instanceId: INSTANCE, publicIp: ADDRESS, privateIp: '10.0.1.7' })
})
afterEach(() => aws.stop())

const errorsOf = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)

const appWith = (outputs: Record<string, string>) =>
  createCdkApp({ stacks: { [STACK]: { outputs: { InstanceId: INSTANCE, ...outputs } } } })

function deployInputs(app: CdkApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    restart: 'none',
    ...extra
  }
}

/** What the runner's `steps.<id>.outputs` holds: names without case, the last line winning. */
function runnerOutputs(outputs: Record<string, string>): Record<string, string> {
  const byName = new Map<string, [string, string]>()
  for (const [name, value] of Object.entries(outputs)) byName.set(name.toLowerCase(), [name, value])
  return Object.fromEntries(byName.values())
}

/** The run failed with this one message, before anything was deployed, written or exported. */
function expectRefusedBeforeAnything(run: BundleRun, app: CdkApp, message: string): void {
  expect(errorsOf(run)).toEqual([message])
  expect(run.code).toBe(1)
  // restarted=false is the one line, written first so that a failed run reads false.
  expect(run.outputs).toEqual({ restarted: 'false' })
  expect(run.exportedEnv).toEqual({})
  expect(app.invocations()).toEqual([])
  expect(aws.callsOf('PutSecretValue')).toEqual([])
  expect(aws.callsOf('UpdateSecretVersionStage')).toEqual([])
}

describe('an output name the runner takes for another', () => {
  it('a secret key "Restarted" fails the run before anything changes, naming both spellings', async () => {
    aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, Restarted: 'true' })
    const before = aws.secretValue(SECRET)
    const app = appWith({})
    const run = await runBundle(deployInputs(app), aws.environment())
    expectRefusedBeforeAnything(
      run,
      app,
      `The deployment secret "${SECRET}" has key "Restarted", which the runner takes for "restarted", an output of ` +
        'this action (instance-id, instance-ip, instance-ids, instance-ips, command-id, secret-version-id, stack-outputs, ' +
        'stack-changed, restarted, release-id, previous-release-id, rolled-back, rolled-back-instances, app-secret-version-id, ' +
        'rotated, out-of-service, changes, diff), as the runner compares step output names without case. ' +
        'Rename the key in the secret.'
    )
    expect(runnerOutputs(run.outputs).restarted).toBe('false')
    expect(aws.secretValue(SECRET)).toEqual(before)
  })

  it('a parameter "EC2_Host" under config-path fails the run before anything changes, naming both spellings', async () => {
    aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_host: '198.51.100.4' })
    aws.parameters.put('/fastapi/staging/EC2_Host', '192.0.2.66')
    const before = aws.secretValue(SECRET)
    const app = appWith({})
    const run = await runBundle(
      deployInputs(app, { 'config-path': '/fastapi/staging/' }),
      aws.environment()
    )
    expectRefusedBeforeAnything(
      run,
      app,
      'Parameter "/fastapi/staging/EC2_Host" under input "config-path" (/fastapi/staging/) would become the output "EC2_Host", ' +
        'which the runner takes for "ec2_host", the key named by input "host-key", which this run writes the address into ' +
        'and sets as an output, as the runner compares step output names without case: one would override the other. ' +
        'Rename the parameter or the key.'
    )
    expect(aws.secretValue(SECRET)).toEqual(before)
  })

  it('a parameter "EC2_Host" cannot replace the address the secret holds when nothing is deployed', async () => {
    aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, ec2_host: '198.51.100.4' })
    aws.parameters.put('/fastapi/staging/EC2_Host', '192.0.2.66')
    const run = await runBundle(
      { deploy: 'false', restart: 'none', 'config-path': '/fastapi/staging/' },
      aws.environment()
    )
    expect(errorsOf(run)).toEqual([
      'Parameter "/fastapi/staging/EC2_Host" under input "config-path" (/fastapi/staging/) would become the output "EC2_Host", ' +
        `which the runner takes for "ec2_host", a key of the deployment secret "${SECRET}", as the runner compares step ` +
        'output names without case: one would override the other. Rename the parameter or the key.'
    ])
    expect(run.code).toBe(1)
    expect(run.outputs).toEqual({ restarted: 'false' })
  })

  it('a secret with keys "Foo" and "foo" fails the run before anything changes', async () => {
    aws.putSecret(SECRET, { ...EXAMPLE_DEPLOYMENT, Foo: 'first-value', foo: 'second-value' })
    const app = appWith({})
    const run = await runBundle(deployInputs(app), aws.environment())
    expectRefusedBeforeAnything(
      run,
      app,
      `The deployment secret "${SECRET}" has keys "Foo" and "foo", which the runner takes for one step output, as the ` +
        'runner compares step output names without case: one would override the other. Keep one of them in the secret.'
    )
  })

  it('a key that differs from input "host-key" only in case fails a deploy before it starts', async () => {
    const withoutHost = Object.entries(EXAMPLE_DEPLOYMENT).filter(([key]) => key !== 'ec2_host')
    aws.putSecret(SECRET, { ...Object.fromEntries(withoutHost), EC2_HOST: '198.51.100.4' })
    const app = appWith({})
    const run = await runBundle(deployInputs(app), aws.environment())
    expectRefusedBeforeAnything(
      run,
      app,
      `The deployment secret "${SECRET}" has key "EC2_HOST", which the runner takes for "ec2_host", the key named by ` +
        'input "host-key", which this run writes the address into and sets as an output, as the runner compares step ' +
        'output names without case. Rename the key in the secret, or spell it in input "host-key" as the secret does.'
    )
  })
})

describe('a version id that whoever writes the secret chose', () => {
  it('is shown inert, still saying which version was read, and the runner obeys nothing in it', async () => {
    aws.putSecret(SECRET, EXAMPLE_DEPLOYMENT)
    // AWS documents a ClientRequestToken as 32 to 64 characters and no character set; the version
    // it writes becomes AWSCURRENT and keeps the token as its id.
    const versionId = 'v0\n::warning::planted\n::stop-commands::pause-it\n##[error]x'
    expect(versionId.length).toBeGreaterThanOrEqual(32)
    expect(versionId.length).toBeLessThanOrEqual(64)
    const client = secretsManagerFor(aws)
    await client.send(
      new PutSecretValueCommand({
        SecretId: SECRET,
        SecretString: JSON.stringify(EXAMPLE_DEPLOYMENT),
        ClientRequestToken: versionId
      })
    )
    client.destroy()
    expect(aws.secretValue(SECRET).versionId).toBe(versionId)

    // A deploy, so that the run registers a mask after the version id is printed: a planted
    // stop-commands that the runner obeyed would leave the new address readable.
    const run = await runBundle(deployInputs(appWith({})), aws.environment())
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.commands.map(c => c.name)).not.toContain('warning')
    expect(run.commands.filter(c => c.name === 'stop-commands').map(c => c.data)).not.toContain(
      'pause-it'
    )
    expect(run.masks).toContain(ADDRESS)
    expect(run.visibleLog).not.toContain(ADDRESS)
    const shown = JSON.stringify(versionId.replace(/\n/g, ' ').replace('##[', '#\u200b#['))
    expect(run.visibleLog).toContain(`Read the deployment secret "${SECRET}" (version ${shown}): `)
    // The summary shows it on one line, escaped, inside its table cell.
    const row = run.summary.split('\n').find(line => line.includes('::warning::planted')) ?? ''
    expect(row).toContain(
      '<td><code>&quot;v0 ::warning::planted ::stop-commands::pause-it #\u200b#[error]x&quot;</code></td>'
    )
    expect(run.summary).not.toMatch(/^::/m)
    // The write-back swapped AWSCURRENT away from it, as from any version.
    expect(aws.secretValue(SECRET).json).toEqual({ ...EXAMPLE_DEPLOYMENT, ec2_host: ADDRESS })
  })
})

describe("the CDK CLI's stack outputs before the address is known", () => {
  it('mask an address inside a URL, in colour or not, and no network or loopback address', async () => {
    aws.putSecret(SECRET, EXAMPLE_DEPLOYMENT)
    const app = appWith({
      ApiUrl: `http://${ADDRESS}:8000/`,
      Ipv6Url: 'http://[2001:db8::7]:8000/',
      VpcCidr: '10.0.0.0/16',
      BindUrl: 'http://0.0.0.0:8000/',
      LocalHealth: 'http://127.0.0.1:8000/health'
    })
    for (const colour of ['0', '1']) {
      const run = await runBundle(deployInputs(app), { ...aws.environment(), FORCE_COLOR: colour })
      expect(errorsOf(run)).toEqual([])
      expect(run.code).toBe(0)
      const line = (name: string) =>
        run.visibleLog
          .split('\n')
          .map(stripAnsi)
          .find(text => text.startsWith(`${STACK}.${name} = `))
      expect(line('ApiUrl')).toBe(`${STACK}.ApiUrl = http://***:8000/`)
      expect(line('Ipv6Url')).toBe(`${STACK}.Ipv6Url = http://[***]:8000/`)
      expect(run.visibleLog).not.toContain(ADDRESS)
      expect(run.summary).toContain(`instance <code>${INSTANCE}</code> at <code>***</code>`)
      expect(run.summary).not.toContain(ADDRESS)
      // Masks on these would hide that text everywhere in the job.
      expect(line('VpcCidr')).toBe(`${STACK}.VpcCidr = 10.0.0.0/16`)
      expect(line('BindUrl')).toBe(`${STACK}.BindUrl = http://0.0.0.0:8000/`)
      expect(line('LocalHealth')).toBe(`${STACK}.LocalHealth = http://127.0.0.1:8000/health`)
      for (const kept of ['10.0.0.0', '0.0.0.0', '127.0.0.1', '10.0.0.0/16'])
        expect(run.masks).not.toContain(kept)
    }
  })

  it('stay readable when the host key is in mask-exclude', async () => {
    aws.putSecret(SECRET, EXAMPLE_DEPLOYMENT)
    const run = await runBundle(
      deployInputs(appWith({ ApiUrl: `http://${ADDRESS}:8000/` }), { 'mask-exclude': 'ec2_host' }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(run.masks).not.toContain(ADDRESS)
    expect(run.visibleLog).toContain(`${STACK}.ApiUrl = http://${ADDRESS}:8000/`)
  })
})
