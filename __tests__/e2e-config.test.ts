// Input config-path through the bundle as the runner runs it, against the local endpoint's
// Parameter Store (GetParametersByPath in SSM's JSON 1.1 format, paged as SSM pages it).
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'

const PATH = '/fastapi/staging/'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
})
afterEach(() => aws.stop())

function configInputs(extra: Record<string, string> = {}): Record<string, string> {
  return { deploy: 'false', restart: 'none', 'config-path': PATH, ...extra }
}

const errorsOf = (run: { commands: { name: string; data: string }[] }) =>
  run.commands.filter(c => c.name === 'error').map(c => c.data)

describe('config-path, end to end', () => {
  it('exports every parameter under the path, nested ones by their path, over several pages', async () => {
    aws.parameters.put('/fastapi/staging/log_level', 'debug-verbose')
    aws.parameters.put('/fastapi/staging/db/host', 'db.staging.internal')
    aws.parameters.put('/fastapi/staging/db/port', '5432')
    aws.parameters.put('/fastapi/staging/allowed-origins', 'a.example,b.example', 'StringList')
    aws.parameters.put('/fastapi/staging/api/stripe/key', 'sk-secure-config-value', 'SecureString')
    // 25 more: three pages of SSM's 10.
    for (let i = 0; i < 25; i++)
      aws.parameters.put(`/fastapi/staging/flags/f${String(i).padStart(2, '0')}`, `on-${i}`)
    // Outside the path, and a sibling that only shares its prefix.
    aws.parameters.put('/fastapi/production/log_level', 'warning-only')
    aws.parameters.put('/fastapi/staging-old/log_level', 'old-value')

    const run = await runBundle(configInputs(), aws.environment())
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({
      log_level: 'debug-verbose',
      db_host: 'db.staging.internal',
      db_port: '5432',
      'allowed-origins': 'a.example,b.example',
      api_stripe_key: 'sk-secure-config-value',
      flags_f00: 'on-0',
      flags_f24: 'on-24',
      // The deployment secret's keys as always.
      ec2_user: 'ec2-user'
    })
    expect(Object.keys(run.outputs).filter(name => name.startsWith('flags_'))).toHaveLength(25)
    const calls = aws.callsOf('GetParametersByPath')
    expect(calls).toHaveLength(3)
    expect(calls[0].params).toMatchObject({
      Path: '/fastapi/staging',
      Recursive: true,
      WithDecryption: true
    })
    // The SecureString is masked; String values stay readable.
    expect(run.masks).toContain('sk-secure-config-value')
    expect(run.masks).not.toContain('db.staging.internal')
    expect(run.visibleLog).toContain('Read 30 parameters under "/fastapi/staging/"')
    expect(run.visibleLog).toContain('api_stripe_key')
  })

  it('makes a parameter an environment variable only when env-keys lists it: for the CDK app and export-env', async () => {
    aws.parameters.put('/fastapi/staging/db/host', 'db.staging.internal')
    aws.parameters.put('/fastapi/staging/api_token', 'secure-token-value', 'SecureString')
    const app = createCdkApp({
      stacks: { S: {} },
      diff: 'none',
      recordEnv: ['DB_HOST', 'API_TOKEN', 'EC2_USER']
    })
    const run = await runBundle(
      configInputs({
        deploy: 'diff',
        stack: 'S',
        'working-directory': app.dir,
        'cdk-command': app.command,
        'env-keys': 'ec2_user, db_host',
        'export-env': 'true'
      }),
      aws.environment()
    )
    expect(errorsOf(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(app.invocations()[0].env).toEqual({
      DB_HOST: 'db.staging.internal',
      API_TOKEN: null,
      EC2_USER: 'ec2-user'
    })
    expect(run.exportedEnv).toEqual({ EC2_USER: 'ec2-user', DB_HOST: 'db.staging.internal' })
    expect(run.outputs.api_token).toBe('secure-token-value')
  })

  it('warns, naming the parameter, when a SecureString is too short to mask', async () => {
    aws.parameters.put('/fastapi/staging/pin', '42', 'SecureString')
    const run = await runBundle(configInputs(), aws.environment())
    expect(run.code).toBe(0)
    expect(run.outputs.pin).toBe('42')
    expect(run.masks).not.toContain('42')
    expect(run.commands.filter(c => c.name === 'warning').map(c => c.data)).toEqual([
      'SecureString parameter "/fastapi/staging/pin" (a plain number) under input "config-path" cannot be masked in the log: ' +
        'masking it would hide that text everywhere and drop job outputs that contain it. Store it as a String if it is not secret.'
    ])
  })

  it('is fine with an empty path, and says so', async () => {
    aws.parameters.put('/fastapi/production/log_level', 'warning-only')
    const run = await runBundle(configInputs(), aws.environment())
    expect(run.code).toBe(0)
    expect(run.visibleLog).toContain(
      'No parameters under "/fastapi/staging/" (input "config-path"): no configuration outputs.'
    )
    expect(run.outputs).not.toHaveProperty('log_level')
  })

  it.each([
    [
      'two parameters with one name',
      [
        ['/fastapi/staging/db/host', 'a.internal'],
        ['/fastapi/staging/db_host', 'b.internal']
      ],
      'Parameters "/fastapi/staging/db/host" and "/fastapi/staging/db_host" under input "config-path" (/fastapi/staging/) both become the output "db_host". Rename one of them in Parameter Store.'
    ],
    [
      'a key of the deployment secret',
      [['/fastapi/staging/ec2_user', 'ubuntu']],
      'Parameter "/fastapi/staging/ec2_user" under input "config-path" (/fastapi/staging/) would become the output "ec2_user", which the deployment secret "FastAPIDeploymentSecrets" also has as a key: one would override the other. Rename the parameter or the key.'
    ],
    [
      'an output of the action',
      [['/fastapi/staging/instance-id', 'i-0abc1234def567890']],
      'Parameter "/fastapi/staging/instance-id" under input "config-path" (/fastapi/staging/) would become the output "instance-id", which is also an output of this action'
    ],
    [
      'a name that cannot be an output',
      [['/fastapi/staging/db/host.name', 'a.internal']],
      'Parameter "/fastapi/staging/db/host.name" under input "config-path" (/fastapi/staging/) would become the output "db_host.name", which cannot be a step output name'
    ]
  ])('refuses %s, naming the parameters', async (_what, parameters, message) => {
    for (const [name, value] of parameters) aws.parameters.put(name, value)
    const run = await runBundle(configInputs(), aws.environment())
    expect(run.code).toBe(1)
    const errors = errorsOf(run)
    expect(errors).toHaveLength(1)
    expect(errors[0].startsWith(message)).toBe(true)
    expect(run.outputs).not.toHaveProperty('ec2_user')
  })

  it('names the permissions when GetParametersByPath is denied', async () => {
    aws.parameters.put('/fastapi/staging/log_level', 'debug-verbose')
    aws.deny('GetParametersByPath')
    const run = await runBundle(configInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(errorsOf(run)).toEqual([
      'Access denied: ssm:GetParametersByPath on the parameters under "/fastapi/staging/" (input "config-path"). ' +
        'Allow "ssm:GetParametersByPath" on "arn:aws:ssm:*:*:parameter/fastapi/staging*", and "kms:Decrypt" on the KMS key ' +
        'of SecureString parameters encrypted with a customer managed key, in the policy of the role or user the workflow runs as (see docs/iam-policy.md of secrets-deploy-action).'
    ])
    expect(run.outputs).not.toHaveProperty('ec2_user')
  })

  it('refuses a key in env-keys that neither the secret nor the path has', async () => {
    aws.parameters.put('/fastapi/staging/log_level', 'debug-verbose')
    const run = await runBundle(
      configInputs({ 'env-keys': 'ec2_user, db_host', 'export-env': 'true' }),
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(errorsOf(run)).toEqual([
      'The deployment secret "FastAPIDeploymentSecrets" has no key "db_host" and no parameter under input "config-path" (/fastapi/staging/) is named so, ' +
        'listed in input "env-keys" (the keys that become environment variables). Add it to the secret or the path, or remove it from "env-keys".'
    ])
  })

  it.each(['fastapi/staging', '/fastapi//staging', '/fastapi/sta ging'])(
    'refuses config-path %j before calling AWS',
    async path => {
      const run = await runBundle(configInputs({ 'config-path': path }), aws.environment())
      expect(run.code).toBe(1)
      expect(errorsOf(run)).toEqual([
        `Input "config-path" is "${path}", which is not a Parameter Store path: give one that starts with "/", ` +
          'such as /fastapi/staging/ (letters, digits, ".", "-" and "_" between single slashes).'
      ])
      expect(aws.calls).toEqual([])
    }
  )
})
