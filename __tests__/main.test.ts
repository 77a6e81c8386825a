// run() in this process, with the AWS clients pointed at the local endpoint: the pipeline's
// decisions without a child process (the end-to-end suites prove the bundle).
import { jest } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager'
import type { AwsClients } from '../src/aws/clients.js'
import { run } from '../src/action/main.js'
import { parseFileCommand, inputEnvironment } from '../test-support/runner.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  ec2For,
  secretsManagerFor,
  ssmFor,
  s3For,
  elbv2For,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

let aws: LocalAws
let dir: string
let stdout: string
const saved = { ...process.env }

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  dir = mkdtempSync(join(tmpdir(), 'sda-main-'))
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
})
afterEach(async () => {
  jest.restoreAllMocks()
  process.exitCode = undefined
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
  Object.assign(process.env, saved)
  core.summary.emptyBuffer()
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

const clients = (): AwsClients => {
  const ec2 = ec2For(aws)
  const ssm = ssmFor(aws)
  const s3 = s3For(aws)
  const elbv2 = elbv2For(aws)
  return {
    secretsManager: secretsManagerFor(aws),
    ec2: async () => ec2,
    ssm: async () => ssm,
    s3: async () => s3,
    elbv2: async () => elbv2
  }
}

async function runWith(inputs: Record<string, string>): Promise<Record<string, string>> {
  const output = join(dir, 'output')
  writeFileSync(output, '')
  Object.assign(process.env, inputEnvironment(inputs), {
    GITHUB_OUTPUT: output,
    AWS_REGION: aws.region
  })
  await run({ awsClients: clients, sleep: async () => undefined })
  return parseFileCommand(readFileSync(output, 'utf8'))
}

const errors = () => stdout.split('\n').filter(line => line.startsWith('::error::'))

describe('run', () => {
  it('exports the secret as outputs and leaves the exit code alone', async () => {
    const versionId = aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    const outputs = await runWith({ deploy: 'false', restart: 'none' })
    expect(errors()).toEqual([])
    expect(process.exitCode).toBeUndefined()
    expect(outputs).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      restarted: 'false',
      'secret-version-id': versionId,
      'app-secret-version-id': aws.secretValue('FastAPIAppSecrets').versionId
    })
  })

  it('turns a failure into one error and exit code 1, with restarted already false', async () => {
    const outputs = await runWith({ deploy: 'false', restart: 'none' })
    expect(process.exitCode).toBe(1)
    expect(errors()).toEqual([
      expect.stringContaining('Deployment secret "FastAPIDeploymentSecrets" was not found')
    ])
    expect(outputs).toEqual({ restarted: 'false' })
  })

  it('checks the restart target before reading anything else, when deploy is false', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ec2_host: 'not a host!' })
    await runWith({ deploy: 'false', restart: 'ssh', 'ssh-private-key': 'x' })
    expect(process.exitCode).toBe(1)
    expect(errors()).toEqual([
      expect.stringContaining(
        'Key "ec2_host" of the deployment secret "FastAPIDeploymentSecrets" is not an IP address or host name'
      )
    ])
    expect(aws.callsOf('GetSecretValue')).toHaveLength(1)
  })

  it('checks every output name before any other call or output, and before the app secret', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, 'Secret-Version-Id': 'v1' })
    aws.parameters.put('/fastapi/staging/log_level', 'debug')
    const outputs = await runWith({
      deploy: 'false',
      restart: 'none',
      'config-path': '/fastapi/staging/'
    })
    expect(process.exitCode).toBe(1)
    expect(errors()).toEqual([
      expect.stringContaining(
        'has key "Secret-Version-Id", which the runner takes for "secret-version-id"'
      )
    ])
    expect(outputs).toEqual({ restarted: 'false' })
    expect(aws.callsOf('GetSecretValue')).toHaveLength(1)
    expect(aws.callsOf('GetParametersByPath')).toEqual([])
  })

  it('says which version it read, and shows an id that is not AWS-shaped as inert text', async () => {
    const plain = aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    await runWith({ deploy: 'false', restart: 'none' })
    expect(stdout).toContain(
      `Read the deployment secret "FastAPIDeploymentSecrets" (version ${plain}): `
    )

    const client = secretsManagerFor(aws)
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'FastAPIDeploymentSecrets',
        SecretString: JSON.stringify(EXAMPLE_DEPLOYMENT),
        ClientRequestToken: 'chosen-by-a-writer\n::error::planted-failure'
      })
    )
    client.destroy()
    stdout = ''
    const outputs = await runWith({ deploy: 'false', restart: 'none' })
    expect(stdout).toContain(
      '(version "chosen-by-a-writer ::error::planted-failure"): 4 keys exported as step outputs.'
    )
    expect(errors()).toEqual([])
    // The output holds the id as it is: a value, not a log line.
    expect(outputs['secret-version-id']).toBe('chosen-by-a-writer\n::error::planted-failure')
  })
})
