// The bundle as the runner runs it, for the first phase alone (deploy: false, restart: none).
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { HOSTILE_VALUES, readablePieces, runBundle } from './helpers/run-bundle.js'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
})
afterEach(() => aws.stop())

const secretsOnly = { deploy: 'false', restart: 'none' }

function expectNothingReadable(
  log: string,
  values: Record<string, string>,
  except: string[] = []
): void {
  for (const [key, value] of Object.entries(values)) {
    if (except.includes(key)) continue
    for (const piece of readablePieces(value))
      expect({ key, leaked: log.includes(piece) }).toEqual({ key, leaked: false })
  }
}

describe('the bundle, secrets only', () => {
  it('exports every key as an output, masked, with hostile values intact', async () => {
    const secret = { ...EXAMPLE_DEPLOYMENT, ...HOSTILE_VALUES }
    const versionId = aws.putSecret('FastAPIDeploymentSecrets', secret)
    const run = await runBundle(
      { ...secretsOnly, 'mask-exclude': 'ec2_user', 'export-env': 'true' },
      aws.environment()
    )

    expect(run.visibleLog).not.toContain('::error::')
    expect(run.code).toBe(0)
    expect(run.outputs).toEqual({
      ...secret,
      restarted: 'false',
      'secret-version-id': versionId,
      'app-secret-version-id': aws.secretValue('FastAPIAppSecrets').versionId
    })
    // Only the keys input "env-keys" declares (by default the reference layout's four).
    expect(run.exportedEnv).toEqual({
      EC2_KEY_NAME: secret.ec2_key_name,
      EC2_HOST: secret.ec2_host,
      EC2_USER: secret.ec2_user,
      GITHUB_REPO: secret.github_repo
    })
    expectNothingReadable(run.visibleLog, { ...secret, ...EXAMPLE_APP }, ['ec2_user'])
    expect(run.masks).not.toContain('ec2-user')
    expect(run.visibleLog).toContain(
      `Read the deployment secret "FastAPIDeploymentSecrets" (version ${versionId})`
    )
    expect(run.summary).toContain(`<code>${versionId}</code>`)
    expect(run.summary).toContain('<code>ec2_key_name</code>')
    for (const value of Object.values({ ...secret, ...EXAMPLE_APP })) {
      if (value.length > 3) expect(run.summary).not.toContain(value)
    }
  })

  it('does not mask short or common values, and names their keys in a warning', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      debug: 'true',
      tier: 'e',
      port: '22',
      stage: 'staging-blue'
    })
    const run = await runBundle(secretsOnly, aws.environment())
    expect(run.code).toBe(0)
    for (const common of ['true', 'e', '22']) expect(run.masks).not.toContain(common)
    expect(run.masks).toContain('staging-blue')
    const warnings = run.stdout.split('\n').filter(line => line.startsWith('::warning::'))
    expect(warnings).toEqual([
      expect.stringContaining(
        'The deployment secret "FastAPIDeploymentSecrets" has keys "debug" (a boolean), "tier" (shorter than 4 characters), "port" (a plain number) whose value is not masked'
      )
    ])
    // The log stays readable: an "e" mask would have hidden every e.
    expect(run.visibleLog).toContain('Read the deployment secret "FastAPIDeploymentSecrets"')
    expect(run.outputs.restarted).toBe('false')
  })

  it('does not export to the environment unless asked', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    const run = await runBundle(secretsOnly, aws.environment())
    expect(run.code).toBe(0)
    expect(run.exportedEnv).toEqual({})
  })

  it('retries throttling and server errors from Secrets Manager', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    aws.failNext('GetSecretValue', { status: 400, code: 'ThrottlingException', times: 2 })
    aws.failNext('GetSecretValue', { status: 500, code: 'InternalServiceError' })
    const run = await runBundle(secretsOnly, aws.environment())
    expect(run.code).toBe(0)
    expect(aws.callsOf('GetSecretValue')).toHaveLength(5)
  })

  it('takes the region from the ARN when the environment has none', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    const arn = String(aws.secrets.get('FastAPIDeploymentSecrets')?.arn)
    const run = await runBundle(
      { ...secretsOnly, 'deployment-secret-id': arn, 'app-secret-id': '' },
      { ...aws.environment(), AWS_REGION: undefined }
    )
    expect(run.code).toBe(0)
    expect(run.outputs.ec2_key_name).toBe('my-key-pair')
  })

  it('skips the app secret when app-secret-id is empty', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    const run = await runBundle({ ...secretsOnly, 'app-secret-id': '' }, aws.environment())
    expect(run.code).toBe(0)
    expect(aws.callsOf('GetSecretValue').map(call => call.params.SecretId)).toEqual([
      'FastAPIDeploymentSecrets'
    ])
  })

  it('reaches the instance metadata service where the SDK asks it (AWS_DEFAULTS_MODE=auto)', async () => {
    // The SDK's only way there is `const { request } = await import("node:http")`, which the
    // bundle must keep working (scripts/build.js turns it into a require()).
    const requests: string[] = []
    const imds = http.createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`)
      response.end(request.method === 'PUT' ? 'imds-token' : 'us-east-1')
    })
    await new Promise<void>(resolve => imds.listen(0, '127.0.0.1', resolve))
    try {
      aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
      const { port } = imds.address() as AddressInfo
      const run = await runBundle(secretsOnly, {
        ...aws.environment(),
        AWS_EC2_METADATA_DISABLED: undefined,
        AWS_DEFAULTS_MODE: 'auto',
        AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}`
      })

      expect(run.code).toBe(0)
      expect(requests).toEqual(['PUT /latest/api/token', 'GET /latest/meta-data/placement/region'])
    } finally {
      await new Promise(resolve => imds.close(resolve))
    }
  })
})

describe('the bundle fails with one clear message', () => {
  const cases: [
    string,
    (aws: LocalAws) => void,
    Record<string, string>,
    Record<string, string | undefined>,
    string
  ][] = [
    [
      'no region',
      a => a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT),
      {},
      { AWS_REGION: undefined },
      'No AWS region: set "aws-region"'
    ],
    [
      'a missing secret',
      () => undefined,
      {},
      {},
      'Deployment secret "FastAPIDeploymentSecrets" was not found'
    ],
    [
      'access denied',
      a => {
        a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
        a.deny('GetSecretValue')
      },
      {},
      {},
      'Access denied: secretsmanager:GetSecretValue on deployment secret "FastAPIDeploymentSecrets"'
    ],
    [
      'a secret that is not JSON',
      a => a.putSecret('FastAPIDeploymentSecrets', 'host=1.2.3.4'),
      {},
      {},
      'The deployment secret "FastAPIDeploymentSecrets" is not valid JSON.'
    ],
    [
      'a secret that is not an object',
      a => a.putSecret('FastAPIDeploymentSecrets', '["x"]'),
      {},
      {},
      'The deployment secret "FastAPIDeploymentSecrets" is an array'
    ],
    [
      'a value that is not a string',
      a => a.putSecret('FastAPIDeploymentSecrets', { ec2_host: 1 }),
      {},
      {},
      'Key "ec2_host" of the deployment secret "FastAPIDeploymentSecrets" is a number'
    ],
    [
      'a missing required key',
      a => a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT),
      { 'required-keys': 'ec2_key_name,ec2_host' },
      {},
      'The deployment secret "FastAPIDeploymentSecrets" has no value for "ec2_host" (listed in input "required-keys")'
    ],
    [
      'a missing app key',
      a => {
        a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
        a.putSecret('FastAPIAppSecrets', { db_password: 'pw-value' })
      },
      {},
      {},
      'The app secret "FastAPIAppSecrets" has no value for "jwt_secret"'
    ],
    [
      'a key that cannot be an output',
      a => a.putSecret('FastAPIDeploymentSecrets', { 'bad key!': 'v' }),
      {},
      {},
      'has key "bad key!" that cannot be a step output name'
    ],
    [
      "a key that is one of the action's outputs",
      a => a.putSecret('FastAPIDeploymentSecrets', { 'instance-id': 'v' }),
      {},
      {},
      'has key "instance-id", which is also an output of this action'
    ],
    [
      'a declared key that would replace PATH',
      a => a.putSecret('FastAPIDeploymentSecrets', { path: '/evil' }),
      { 'export-env': 'true', 'env-keys': 'path' },
      {},
      'Input "env-keys" lists "path", which would become the environment variable PATH: it chooses which programs run.'
    ],
    [
      'a declared key that bash would run (BASH_ENV)',
      a => a.putSecret('FastAPIDeploymentSecrets', { bash_env: '$(touch /tmp/x)' }),
      { 'export-env': 'true', 'env-keys': 'ec2_user, bash_env' },
      {},
      'Input "env-keys" lists "bash_env", which would become the environment variable BASH_ENV: bash runs the file it names before every script.'
    ],
    [
      'a declared npm setting in lower case',
      a => a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT),
      { 'env-keys': 'npm_config_node_options' },
      {},
      'would become the environment variable NPM_CONFIG_NODE_OPTIONS: npm and npx take settings'
    ],
    [
      'a declared key that is no key name',
      a => a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT),
      { 'env-keys': 'ec2 user' },
      {},
      'Input "env-keys" lists "ec2 user", which is not a key name'
    ],
    [
      'a declared key the secret lacks, with export-env',
      a => a.putSecret('FastAPIDeploymentSecrets', { ec2_user: 'ec2-user' }),
      { 'export-env': 'true', 'env-keys': 'ec2_user, api_url' },
      {},
      'The deployment secret "FastAPIDeploymentSecrets" has no key "api_url", listed in input "env-keys"'
    ],
    [
      'a bad boolean input',
      a => a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT),
      { 'export-env': 'yes' },
      {},
      'Input "export-env" must be true or false, not "yes".'
    ],
    [
      'deploy without a stack',
      () => undefined,
      { deploy: 'true' },
      {},
      'Input "stack" is required when "deploy" is true'
    ],
    [
      'an empty deployment-secret-id',
      () => undefined,
      { 'deployment-secret-id': ' ' },
      {},
      'Input "deployment-secret-id" is empty'
    ],
    [
      'an unknown restart mode',
      () => undefined,
      { restart: 'telnet' },
      {},
      'Input "restart" must be one of ssh, ssm, none, not "telnet".'
    ],
    [
      'an unknown address-type',
      () => undefined,
      { 'address-type': 'elastic' },
      {},
      'Input "address-type" must be one of public, private, not "elastic".'
    ],
    [
      'a timeout that is not a number',
      () => undefined,
      { 'instance-timeout': '5m' },
      {},
      'Input "instance-timeout" must be a whole number from 1 to 3600, not "5m".'
    ],
    [
      'a command timeout of zero',
      () => undefined,
      { 'ssh-command-timeout': '0' },
      {},
      'Input "ssh-command-timeout" must be a whole number from 1 to 3600, not "0".'
    ],
    [
      'a host-key that is no key name',
      () => undefined,
      { 'host-key': 'ec2 host' },
      {},
      'Input "host-key" is "ec2 host": it must name a key of the deployment secret'
    ],
    [
      'two declared keys that become one variable',
      a =>
        a.putSecret('FastAPIDeploymentSecrets', { 'api-key': 'one-value', api_key: 'two-value' }),
      { 'export-env': 'true', 'env-keys': 'api-key, api_key' },
      {},
      'Input "env-keys" lists "api-key" and "api_key", which both become the environment variable API_KEY'
    ],
    [
      'a declared key that would replace an AWS variable',
      a => a.putSecret('FastAPIDeploymentSecrets', { aws_region: 'eu-west-1' }),
      { 'export-env': 'true', 'env-keys': 'aws_region' },
      {},
      'Input "env-keys" lists "aws_region", which would become the environment variable AWS_REGION: the AWS SDK'
    ],
    [
      'a missing app secret',
      a => {
        a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
        a.secrets.delete('FastAPIAppSecrets')
      },
      {},
      {},
      'App secret "FastAPIAppSecrets" was not found (secretsmanager:GetSecretValue). Check input "app-secret-id"'
    ],
    [
      'rejected credentials',
      a => {
        a.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
        a.failNext('GetSecretValue', {
          status: 400,
          code: 'UnrecognizedClientException',
          message: 'The security token included in the request is invalid.'
        })
      },
      {},
      {},
      'AWS rejected the credentials for secretsmanager:GetSecretValue'
    ]
  ]

  it.each(cases)('on %s', async (_name, seed, inputs, env, message) => {
    seed(aws)
    const before = JSON.stringify([...aws.secrets.values()].map(s => [...s.versions.values()]))
    const run = await runBundle({ ...secretsOnly, ...inputs }, { ...aws.environment(), ...env })
    expect(run.code).toBe(1)
    const errors = run.stdout.split('\n').filter(line => line.startsWith('::error::'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(message)
    expect(run.outputs).toEqual({ restarted: 'false' })
    expect(JSON.stringify([...aws.secrets.values()].map(s => [...s.versions.values()]))).toBe(
      before
    )
    expect(run.summary).toContain('Failed:')
  })
})
