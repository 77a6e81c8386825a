// deploy: diff through the bundle as the runner runs it: the secrets phase, then cdk diff (the CDK
// stand-in prints the real CLI's diff text, in colour), outputs changes and diff, the job summary,
// fail-on-replace; and nothing deployed, written back or restarted.
import { createCdkApp, type CdkApp, type StandInConfig } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
// With an address already: a run that restarted over SSH (restart's default) would try it.
const DEPLOYMENT = { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.7' }

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', DEPLOYMENT)
})
afterEach(() => aws.stop())

const diffApp = (config: StandInConfig) =>
  createCdkApp({ stacks: { [STACK]: {} }, recordEnv: ['EC2_KEY_NAME'], ...config })

// No "restart" input: its default, ssh, applies, and deploy: diff must not use it.
function diffInputs(app: CdkApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'diff',
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    'env-keys': 'ec2_key_name',
    ...extra
  }
}

/** What must hold after any preview: the secret as it was, and no call that changes anything. */
function expectNothingChanged(versionsBefore: Record<string, string[]>): void {
  expect(aws.versionStages('FastAPIDeploymentSecrets')).toEqual(versionsBefore)
  expect(aws.secretValue('FastAPIDeploymentSecrets').json).toEqual(DEPLOYMENT)
  for (const action of [
    'PutSecretValue',
    'UpdateSecretVersionStage',
    'DescribeInstances',
    'GetConsoleOutput',
    'SendCommand'
  ])
    expect(aws.callsOf(action)).toEqual([])
}

describe('deploy: diff, end to end', () => {
  it('previews a first deploy (additions): changes true, the diff without colours, nothing changed', async () => {
    const versions = aws.versionStages('FastAPIDeploymentSecrets')
    const app = diffApp({ diff: 'additions' })
    const run = await runBundle(diffInputs(app), aws.environment())
    expect(run.code).toBe(0)

    expect(run.outputs.changes).toBe('true')
    expect(run.outputs.diff).toMatch(
      /^Stack FastAPIEC2Stack-Staging\nResources\n\[\+\] AWS::IAM::Role/
    )
    expect(run.outputs.diff).toContain('[+] AWS::EC2::Instance Instance InstanceC1063A87')
    expect(run.outputs.diff).not.toContain('\u001b')
    // The secrets phase ran as always.
    expect(run.outputs.ec2_host).toBe('203.0.113.7')
    expect(run.outputs.restarted).toBe('false')
    expect(run.summary).toContain('3 resources change; nothing was deployed')
    expect(run.summary).not.toContain(':warning:')

    // The same CLI and app as cdk deploy, the declared key as environment, no deploy-only flags.
    const [call] = app.invocations()
    expect(call.argv.slice(2)).toEqual(['diff', STACK, '--ci'])
    expect(call.env).toEqual({ EC2_KEY_NAME: 'my-key-pair' })
    expect(run.visibleLog).toContain(
      'deploy: diff previews the stack: nothing is deployed, written back or restarted (input "restart" is not used).'
    )
    expectNothingChanged(versions)
  })

  it('previews an update: one resource changes, no warning', async () => {
    const app = diffApp({ diff: 'update' })
    const run = await runBundle(diffInputs(app, { 'fail-on-replace': 'true' }), aws.environment())
    expect(run.code).toBe(0)
    expect(run.outputs.changes).toBe('true')
    expect(run.outputs.diff).toContain('[~] AWS::Lambda::Function Handler Handler886CB40B')
    expect(run.summary).toContain('1 resource changes; nothing was deployed')
    expect(run.commands.filter(c => c.name === 'warning')).toEqual([])
  })

  it('previews a replacement: a warning per resource replaced or destroyed, in the log and the summary', async () => {
    const versions = aws.versionStages('FastAPIDeploymentSecrets')
    const app = diffApp({ diff: 'replacement' })
    const run = await runBundle(diffInputs(app), aws.environment())
    expect(run.code).toBe(0)
    expect(run.outputs.changes).toBe('true')
    const warnings = run.commands.filter(c => c.name === 'warning').map(c => c.data)
    expect(warnings).toEqual([
      'AWS::EC2::Instance Instance InstanceC1063A87 will be replaced (a new instance has a new address; the write-back records it)',
      'AWS::S3::Bucket OldBucket OldBucket1A2B3C4D will be destroyed'
    ])
    expect(run.summary).toContain(
      '5 resources change, 1 is replaced, 1 is destroyed; nothing was deployed'
    )
    expect(run.summary).toContain(
      '<p>:warning: AWS::S3::Bucket OldBucket OldBucket1A2B3C4D will be destroyed</p>'
    )
    expect(run.summary).toMatch(/<details><summary>The diff<\/summary>\n\n<pre>Stack /)
    expect(run.summary).toContain('[~] AWS::EC2::Instance Instance InstanceC1063A87 replace')
    expectNothingChanged(versions)
  })

  it('fails with fail-on-replace, naming the resources, and still reports the diff', async () => {
    const versions = aws.versionStages('FastAPIDeploymentSecrets')
    const app = diffApp({ diff: 'replacement' })
    const run = await runBundle(diffInputs(app, { 'fail-on-replace': 'true' }), aws.environment())
    expect(run.code).toBe(1)
    const errors = run.commands.filter(c => c.name === 'error').map(c => c.data)
    expect(errors).toEqual([
      'cdk diff of stack "FastAPIEC2Stack-Staging" replaces or destroys 2 resources: ' +
        'AWS::EC2::Instance Instance InstanceC1063A87, AWS::S3::Bucket OldBucket OldBucket1A2B3C4D. ' +
        'Input "fail-on-replace" is true: review the change, or set fail-on-replace: false to let it pass.'
    ])
    expect(run.outputs.changes).toBe('true')
    expect(run.outputs.diff).toContain('OldBucket1A2B3C4D destroy')
    expect(run.summary).toContain('Failed:')
    expect(run.summary).toContain('<details><summary>The diff</summary>')
    expectNothingChanged(versions)
  })

  it('says so when nothing changes', async () => {
    const app = diffApp({ diff: 'none' })
    const run = await runBundle(diffInputs(app, { 'fail-on-replace': 'true' }), aws.environment())
    expect(run.code).toBe(0)
    expect(run.outputs.changes).toBe('false')
    expect(run.outputs.diff).toBe(
      'Stack FastAPIEC2Stack-Staging\nThere were no differences\n\n✨  Number of stacks with differences: 0'
    )
    expect(run.summary).toContain('no changes; nothing was deployed')
  })

  it('obeys no workflow command in the diff, renders none of it as markup, and hides secret values', async () => {
    const app = diffApp({
      diff: 'update',
      print: ['::error::PWN from the app while it synthesizes'],
      diffLines: [
        '[+] AWS::SSM::Parameter ::set-output name=changes::false PWN <img src=x onerror=alert(1)> Param1 replace',
        '::add-mask::Handler886CB40B PWN',
        '',
        '# PWN heading [PWN link](https://evil.example/)',
        '[~] AWS::SSM::Parameter Key Key my-key-pair'
      ]
    })
    const run = await runBundle(diffInputs(app), aws.environment())
    expect(run.code).toBe(0)
    // The action's own warning quotes the resource line; nothing else from the diff is obeyed.
    expect(run.commands.filter(c => c.line.includes('PWN') && c.name !== 'warning')).toEqual([])
    expect(run.masks).not.toContain('Handler886CB40B PWN')
    expect(run.outputs.changes).toBe('true')
    expect(run.visibleLog).toContain('PWN from the app')
    // The line is data, in the output as in the summary, where it stays text inside the <pre>.
    expect(run.outputs.diff).toContain('::set-output name=changes::false PWN')
    expect(run.summary).not.toContain('<img')
    expect(run.summary).toContain('&lt;img src=x onerror=alert(1)&gt;')
    const pre = /<pre>([\s\S]*?)<\/pre>/.exec(run.summary)?.[1] ?? ''
    expect(pre).toContain('\n\n# PWN heading [PWN link](https://evil.example/)')
    // The warning quotes the untrusted resource line on one line, as text.
    const warnings = run.commands.filter(c => c.name === 'warning').map(c => c.data)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('will be replaced')
    // A masked value the CDK app put in the template does not travel in the diff output.
    expect(run.outputs.diff).toContain('[~] AWS::SSM::Parameter Key Key ***')
    expect(run.outputs.diff).not.toContain('my-key-pair')
    expect(run.summary).not.toContain('my-key-pair')
  })

  it('cuts a diff larger than 64 KiB in the output, saying so; the log and the summary have all of it', async () => {
    const lines = Array.from(
      { length: 1500 },
      (_, i) => `[+] AWS::SSM::Parameter Flag${i} Flag${i}ABCDEF0123456789 `
    )
    const app = diffApp({ diff: 'update', diffLines: lines })
    const run = await runBundle(diffInputs(app), aws.environment())
    expect(run.code).toBe(0)
    expect(Buffer.byteLength(run.outputs.diff)).toBeLessThan(65 * 1024)
    expect(run.outputs.diff).toMatch(
      /\n\[\.\.\. cut at 65536 bytes; the step's log has the whole diff\]$/
    )
    expect(run.outputs.diff).not.toContain('Flag1499')
    expect(run.visibleLog).toContain('Flag1499ABCDEF0123456789')
    // The verdict counts every resource, not only those in the part shown.
    expect(run.summary).toContain('1501 resources change; nothing was deployed')
    expect(run.summary).toContain('[+] AWS::SSM::Parameter Flag1499 Flag1499ABCDEF0123456789')
    expect(run.summary).not.toContain('[... cut at')
  })

  it('fails with one clear message when cdk diff fails, changing nothing', async () => {
    const versions = aws.versionStages('FastAPIDeploymentSecrets')
    const app = diffApp({ diff: 'update' })
    const run = await runBundle(diffInputs(app, { stack: 'NoSuchStack' }), aws.environment())
    expect(run.code).toBe(1)
    const errors = run.commands.filter(c => c.name === 'error').map(c => c.data)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /^cdk diff of stack "NoSuchStack" failed with exit code 1; nothing was deployed, written back or restarted\. Its last error lines:/
    )
    expect(run.outputs).not.toHaveProperty('changes')
    expectNothingChanged(versions)
  })

  it.each([
    [{ deploy: 'preview' }, 'Input "deploy" must be true, false or diff, not "preview".'],
    [
      { stack: '' },
      'Input "stack" is required when "deploy" is diff: name the CDK stack to preview, or set deploy: false.'
    ],
    [
      { targets: 'i-0abc1234def567890' },
      'Input "targets" is for deploy: false; with deploy: diff the action restarts nothing. Remove "targets", or set deploy: false.'
    ],
    [{ 'fail-on-replace': 'yes' }, 'Input "fail-on-replace" must be true or false, not "yes".'],
    [
      { 'cdk-args': '--fail' },
      'Input "cdk-args" has --fail, which the action sets itself; remove it.'
    ]
  ])('refuses bad input %j with one message', async (extra, message) => {
    const app = diffApp({ diff: 'update' })
    const run = await runBundle(diffInputs(app, extra), aws.environment())
    expect(run.code).toBe(1)
    expect(run.commands.filter(c => c.name === 'error').map(c => c.data)).toEqual([message])
    expect(app.invocations()).toEqual([])
  })
})
