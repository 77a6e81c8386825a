// The bundle as the runner runs it, through cdk deploy (the CDK stand-in), the instance lookup
// and the write-back of its address; restart: none (the SSH phase has its own end-to-end test).
import { createCdkApp, type CdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { HOSTILE_VALUES, readablePieces, runBundle } from './helpers/run-bundle.js'

const STACK = 'FastAPIEC2Stack-Staging'
const INSTANCE = 'i-0abc1234def567890'
const DEPLOYMENT = { ...EXAMPLE_DEPLOYMENT, ...HOSTILE_VALUES }

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', DEPLOYMENT)
  aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7', privateIp: '10.0.1.7' })
})
afterEach(() => aws.stop())

function deployInputs(app: CdkApp, extra: Record<string, string> = {}): Record<string, string> {
  return {
    stack: STACK,
    'working-directory': app.dir,
    'cdk-command': app.command,
    restart: 'none',
    ...extra
  }
}

const okApp = (extra: Parameters<typeof createCdkApp>[0] = {}) =>
  createCdkApp({
    stacks: {
      [STACK]: {
        outputs: { InstanceId: INSTANCE, PublicIp: '203.0.113.7', Url: 'http://203.0.113.7:8000/' }
      }
    },
    recordEnv: [
      'EC2_KEY_NAME',
      'MULTI_LINE',
      'INPUT_SSH-PRIVATE-KEY',
      'INPUT_STACK',
      'GITHUB_OUTPUT',
      'ACTIONS_RUNTIME_TOKEN',
      'ACTIONS_ID_TOKEN_REQUEST_TOKEN'
    ],
    ...extra
  })

describe('deploy and write-back, end to end', () => {
  it('deploys, finds the address, writes it into ec2_host and sets the outputs', async () => {
    const app = okApp()
    const run = await runBundle(
      deployInputs(app, {
        'cdk-args': '--context "env=staging blue"',
        'ssh-private-key': 'held-for-ssh-only',
        'env-keys': 'ec2_key_name, multi_line'
      }),
      {
        ...aws.environment(),
        // What the runner gives an action and a plain `run: npx cdk deploy` step never gets.
        ACTIONS_RUNTIME_TOKEN: 'runtime-token-for-the-cache',
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-request-token'
      }
    )
    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)

    const current = aws.secretValue('FastAPIDeploymentSecrets')
    expect(current.json).toEqual({ ...DEPLOYMENT, ec2_host: '203.0.113.7' })
    expect(run.outputs).toMatchObject({
      'instance-id': INSTANCE,
      'instance-ip': '203.0.113.7',
      ec2_host: '203.0.113.7',
      'secret-version-id': current.versionId,
      'stack-outputs': JSON.stringify({
        InstanceId: INSTANCE,
        PublicIp: '203.0.113.7',
        Url: 'http://203.0.113.7:8000/'
      }),
      restarted: 'false'
    })

    // The CDK app got the secret as environment, and no secret in any argument.
    const [invocation] = app.invocations()
    // ... and none of the action's own inputs (the SSH key is one of them) ...
    expect(invocation.env).toEqual({
      EC2_KEY_NAME: 'my-key-pair',
      MULTI_LINE: HOSTILE_VALUES.multi_line,
      'INPUT_SSH-PRIVATE-KEY': null,
      INPUT_STACK: null,
      // ... nor the step's file commands, through which it could set the action's outputs ...
      GITHUB_OUTPUT: null,
      // ... nor the runner's tokens for the cache, artifacts and OIDC.
      ACTIONS_RUNTIME_TOKEN: null,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: null
    })
    expect(invocation.argv.slice(2)).toEqual([
      'deploy',
      STACK,
      '--require-approval',
      'never',
      '--ci',
      '--outputs-file',
      expect.stringMatching(/cdk-outputs-.*\.json$/),
      '--context',
      'env=staging blue'
    ])
    const argv = invocation.argv.join('\n')
    for (const value of Object.values({ ...DEPLOYMENT, ...EXAMPLE_APP })) {
      for (const piece of readablePieces(value)) expect(argv).not.toContain(piece)
    }

    // The deploy's output is in the log, in a group; the new address is masked like the secret.
    expect(run.visibleLog).toContain(`::group::cdk deploy ${STACK}`)
    expect(run.visibleLog).toContain(` ✅  ${STACK}`)
    expect(run.masks).toContain('203.0.113.7')
    for (const value of Object.values(DEPLOYMENT))
      for (const piece of readablePieces(value)) expect(run.visibleLog).not.toContain(piece)
    expect(run.summary).toContain(
      `Deployed stack <code>${STACK}</code>: instance <code>${INSTANCE}</code>`
    )
    expect(run.summary).toContain(`new secret version <code>${current.versionId}</code>`)
  })

  it("masks the address in the CLI's own output, before the line shows", async () => {
    const run = await runBundle(deployInputs(okApp()), aws.environment())
    expect(run.code).toBe(0)
    expect(run.visibleLog).toContain(`${STACK}.PublicIp = ***`)
    expect(run.visibleLog).toContain(`${STACK}.Url = http://***:8000/`)
    expect(run.visibleLog).not.toContain('203.0.113.7')
  })

  it('obeys no workflow command the CDK app prints, however it is hidden', async () => {
    // Every payload carries PWN; the runner parser in test-support/runner.js follows the runner's
    // own rules (.NET TrimStart, "##[" anywhere in a line, stop-commands tokens).
    const app = createCdkApp({
      stacks: {
        [STACK]: {
          outputs: {
            InstanceId: INSTANCE,
            PublicIp: '203.0.113.7',
            Note: 'PWN ##[set-output name=from-output;]yes'
          }
        }
      },
      print: [
        '::error::PWN injected by the app',
        '  ::set-output name=restarted::true PWN',
        'synth: done ##[set-output name=deploy-approved;]yes PWN',
        '\u0085::warning title=Approve::PWN https://evil.example/approve',
        '\u00a0::add-mask::203',
        'progress 50%\r::error::PWN after a carriage return',
        '##[stop-commands]PWNtoken',
        '::stop-commands::PWNtoken2',
        '::group::PWN fake group'
      ]
    })
    const run = await runBundle(deployInputs(app), aws.environment())
    expect(run.code).toBe(0)
    expect(run.commands.filter(command => command.line.includes('PWN'))).toEqual([])
    expect(run.commands.map(command => command.name)).not.toContain('set-output')
    // The lines are still shown, and the action's own commands after them still work: the group
    // ends, and the new address (printed later) was registered as a mask.
    expect(run.visibleLog).toContain('PWN injected by the app')
    expect(run.visibleLog).toContain('deploy-approved;]yes PWN')
    expect(run.commands.filter(command => command.name === 'endgroup')).toHaveLength(1)
    expect(run.masks).toContain('203.0.113.7')
    expect(run.visibleLog).not.toContain('203.0.113.7')
    expect(run.outputs).not.toHaveProperty('deploy-approved')
    expect(run.outputs).not.toHaveProperty('from-output')
    expect(run.outputs.restarted).toBe('false')
  })

  it('keeps an edit made to the secret while cdk deploy runs', async () => {
    const app = okApp({
      concurrentEdit: {
        secretId: 'FastAPIDeploymentSecrets',
        key: 'github_repo',
        value: 'https://example.test/moved.git'
      }
    })
    const run = await runBundle(deployInputs(app), aws.environment())
    expect(run.code).toBe(0)
    expect(aws.secretValue('FastAPIDeploymentSecrets').json).toEqual({
      ...DEPLOYMENT,
      github_repo: 'https://example.test/moved.git',
      ec2_host: '203.0.113.7'
    })
    expect(run.outputs['secret-version-id']).toBe(
      aws.secretValue('FastAPIDeploymentSecrets').versionId
    )
    expect(run.visibleLog).toContain('changed while this run deployed; merging "ec2_host"')
  })

  it('exports the new address as EC2_HOST with export-env, after the old one', async () => {
    const run = await runBundle(deployInputs(okApp(), { 'export-env': 'true' }), aws.environment())
    expect(run.code).toBe(0)
    expect(run.exportedEnv).toEqual({
      EC2_HOST: '203.0.113.7',
      EC2_KEY_NAME: 'my-key-pair',
      EC2_USER: 'ec2-user',
      GITHUB_REPO: EXAMPLE_DEPLOYMENT.github_repo
    })
  })

  it('writes nothing when ec2_host already holds the address, and honours address-type', async () => {
    const before = aws.putSecret('FastAPIDeploymentSecrets', {
      ...DEPLOYMENT,
      ec2_host: '10.0.1.7'
    })
    const run = await runBundle(
      deployInputs(okApp(), { 'address-type': 'private', 'mask-exclude': 'ec2_host' }),
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(run.outputs).toMatchObject({ 'instance-ip': '10.0.1.7', 'secret-version-id': before })
    expect(run.masks).not.toContain('10.0.1.7')
    expect(run.summary).toContain('already held the address')
  })

  it('finds the instance by the stack tag when no output names it', async () => {
    aws.addInstance({
      instanceId: 'i-0fff0000000000001',
      publicIp: '203.0.113.9',
      tags: { 'aws:cloudformation:stack-name': STACK }
    })
    const app = createCdkApp({ stacks: { [STACK]: { outputs: { Url: 'http://x' } } } })
    const run = await runBundle(deployInputs(app), aws.environment())
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({
      'instance-id': 'i-0fff0000000000001',
      ec2_host: '203.0.113.9'
    })
  })

  it('with deploy: false, runs no CDK and writes nothing', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...DEPLOYMENT, ec2_host: '203.0.113.7' })
    const app = okApp()
    const run = await runBundle(
      { ...deployInputs(app), deploy: 'false', stack: '' },
      aws.environment()
    )
    expect(run.code).toBe(0)
    expect(app.invocations()).toEqual([])
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
  })
})

describe('a failed deploy changes nothing', () => {
  const unchanged = (run: Awaited<ReturnType<typeof runBundle>>, message: string | RegExp) => {
    expect(run.code).toBe(1)
    const errors = run.stdout.split('\n').filter(line => line.startsWith('::error::'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(message)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(aws.secretValue('FastAPIDeploymentSecrets').json).toEqual(DEPLOYMENT)
    expect(run.outputs['instance-ip']).toBeUndefined()
  }

  it('when cdk deploy exits non-zero, quoting its error', async () => {
    const app = okApp({
      fail: {
        exitCode: 1,
        message: 'Resource handler returned message: "The key pair does not exist"'
      }
    })
    const run = await runBundle(deployInputs(app), aws.environment())
    unchanged(
      run,
      `cdk deploy of stack "${STACK}" failed with exit code 1; nothing was written back or restarted. Its last error lines:%0A ❌  ${STACK} failed: Error: Resource handler returned message: "The key pair does not exist"`
    )
  })

  it('when the stack is not the one deployed', async () => {
    const app = createCdkApp({ stacks: { [STACK]: {} } })
    const run = await runBundle(deployInputs(app, { stack: 'Other' }), aws.environment())
    unchanged(run, 'No stack found matching')
  })

  it('when cdk deploy exits 0 but writes no outputs file', async () => {
    const run = await runBundle(deployInputs(okApp({ outputsFile: 'missing' })), aws.environment())
    unchanged(run, `cdk deploy of stack "${STACK}" exited 0 but wrote no outputs file`)
  })

  it('when the outputs file has no entry for the stack', async () => {
    const run = await runBundle(
      deployInputs(okApp({ outputsFile: 'other-stack' })),
      aws.environment()
    )
    unchanged(
      run,
      `cdk deploy wrote no outputs for stack "${STACK}" (the file has "${STACK}-Other"). Check input "stack"`
    )
  })

  it('when the CDK CLI cannot be started', async () => {
    const run = await runBundle(
      deployInputs(okApp(), { 'cdk-command': 'definitely-not-cdk' }),
      aws.environment()
    )
    unchanged(run, 'Could not run "definitely-not-cdk" from input "cdk-command"')
  })

  it('when cdk-args holds a shell operator', async () => {
    const app = okApp()
    const run = await runBundle(
      deployInputs(app, { 'cdk-args': '--force; rm -rf /' }),
      aws.environment()
    )
    unchanged(run, 'Input "cdk-args" has the shell operator ";", but it is not run through a shell')
    expect(app.invocations()).toEqual([])
  })

  it('when cdk-args sets a flag the action owns', async () => {
    const run = await runBundle(
      deployInputs(okApp(), { 'cdk-args': '--outputs-file=/tmp/x.json' }),
      aws.environment()
    )
    unchanged(run, 'Input "cdk-args" has --outputs-file, which the action sets itself')
  })

  it('when the instance is terminated', async () => {
    aws.addInstance({ instanceId: INSTANCE, state: 'terminated' })
    const run = await runBundle(deployInputs(okApp()), aws.environment())
    unchanged(run, `Instance ${INSTANCE} is terminated`)
  })

  it('when the app secret check fails, before deploying', async () => {
    aws.putSecret('FastAPIAppSecrets', { db_password: 'pw-value-1' })
    const app = okApp()
    const run = await runBundle(deployInputs(app), aws.environment())
    unchanged(run, 'The app secret "FastAPIAppSecrets" has no value for "jwt_secret"')
    expect(app.invocations()).toEqual([])
  })

  it('when the working directory does not exist', async () => {
    const run = await runBundle(
      deployInputs(okApp(), { 'working-directory': '/nonexistent/app' }),
      aws.environment()
    )
    unchanged(run, 'Input "working-directory" is "/nonexistent/app", which does not exist.')
  })
})
