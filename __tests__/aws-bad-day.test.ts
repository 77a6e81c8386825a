// AWS having a bad day: throttling and failures the SDK's own retries ride out or give up on, and
// the secrets AWS refuses to hand over (scheduled for deletion, in another region, under a KMS key
// the role may not use). Every answer comes from the local endpoint in AWS's own error shapes.
import { jest } from '@jest/globals'
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { readJsonSecret } from '../src/secrets/read.js'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  secretsManagerFor,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle, type BundleRun } from './helpers/run-bundle.js'

let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
})
afterEach(() => aws.stop())

const THROTTLED = { status: 400, code: 'ThrottlingException', message: 'Rate exceeded' }

function errorLines(run: BundleRun): string[] {
  return run.stdout.split('\n').filter(line => line.startsWith('::error'))
}

describe('the action on a bad AWS day, end to end', () => {
  it('rides out throttling and server errors with the SDK retries alone', async () => {
    const STACK = 'FastAPIEC2Stack-Staging'
    const INSTANCE = 'i-0abc1234def567890'
    aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
    aws.failNext('GetSecretValue', { ...THROTTLED, times: 2 })
    aws.failNext('DescribeInstances', {
      status: 503,
      code: 'RequestLimitExceeded',
      message: 'Request limit exceeded.',
      times: 2
    })
    aws.failNext('PutSecretValue', {
      status: 500,
      code: 'InternalServiceError',
      message: 'An error occurred on the server side.',
      times: 2
    })
    const app = createCdkApp({ stacks: { [STACK]: { outputs: { InstanceId: INSTANCE } } } })
    const run = await runBundle(
      {
        stack: STACK,
        'working-directory': app.dir,
        'cdk-command': app.command,
        restart: 'none'
      },
      aws.environment()
    )
    expect(errorLines(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(aws.secretValue('FastAPIDeploymentSecrets').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      ec2_host: '203.0.113.7'
    })
    // Each throttled or failed call was sent again, by the SDK: two reads, one put, one lookup.
    expect(aws.callsOf('GetSecretValue')).toHaveLength(2 + 2)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(1 + 2)
    expect(aws.callsOf('DescribeInstances')).toHaveLength(1 + 2)
  }, 60_000)

  it('gives up after 5 attempts when AWS keeps throttling, and says what helps', async () => {
    aws.throttle('GetSecretValue')
    const started = Date.now()
    const run = await runBundle({ deploy: 'false', restart: 'none' }, aws.environment())
    const seconds = (Date.now() - started) / 1000
    expect(run.code).toBe(1)
    // The bound: 5 attempts, whose waits are random up to 1, 2, 4 and 8 s (15 s at most).
    expect(aws.callsOf('GetSecretValue')).toHaveLength(5)
    expect(seconds).toBeLessThan(15 + 10)
    expect(errorLines(run)).toEqual([
      expect.stringMatching(
        /^::error::AWS throttled secretsmanager:GetSecretValue on deployment secret "FastAPIDeploymentSecrets" \(ThrottlingException\) after 5 attempts over \d+\.\d s of backoff\. The SDK's own retries ran out: re-run the job later\. If many jobs read this secret at once, read it once per workflow and pass it on \(a caching step\), or run fewer jobs in parallel/
      )
    ])
    expect(run.summary).toContain('AWS throttled secretsmanager:GetSecretValue')
    expect(run.outputs.ec2_user).toBeUndefined()
  }, 60_000)
})

describe('secrets AWS will not hand over', () => {
  let client: SecretsManagerClient
  beforeEach(() => {
    client = secretsManagerFor(aws)
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  })
  afterEach(() => {
    jest.restoreAllMocks()
    client.destroy()
  })

  const read = (id: string) => readJsonSecret(client, id, 'deployment')

  it('says when a secret scheduled for deletion goes, and how to restore it', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.scheduleDeletion('Deploy', new Date('2026-12-06T10:00:00Z'))
    await expect(read('Deploy')).rejects.toThrow(
      'The deployment secret "Deploy" is scheduled for deletion and will be deleted for good on 2026-12-06T10:00:00.000Z; ' +
        'until then it cannot be read or written. If it is still needed, restore it: ' +
        'aws secretsmanager restore-secret --secret-id Deploy'
    )
  })

  it('still says how to restore it when DescribeSecret is not allowed', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.scheduleDeletion('Deploy', new Date('2026-12-06T10:00:00Z'))
    aws.deny('DescribeSecret')
    await expect(read('Deploy')).rejects.toThrow(
      /is scheduled for deletion and will be deleted for good at the end of its recovery window .*restore-secret --secret-id Deploy$/
    )
  })

  it('names both regions and the one used for an ARN from another region', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:Deploy-a1b2c3'
    await expect(read(arn)).rejects.toThrow(
      `The deployment secret "${arn}" is an ARN in region eu-west-1, but the job's region is us-east-1 (AWS_REGION), ` +
        'and us-east-1 was used: secretsmanager:GetSecretValue answered ResourceNotFoundException. ' +
        'Set aws-region: eu-west-1 on aws-actions/configure-aws-credentials (or AWS_REGION), or use a replica of the secret in us-east-1.'
    )
  })

  it('names the KMS key and kms:Decrypt when the key may not be used', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const key = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
    aws.denyKms('Deploy', key)
    await expect(read('Deploy')).rejects.toThrow(
      'Deployment secret "Deploy": secretsmanager:GetSecretValue failed with AccessDeniedException: Access to KMS is not allowed. ' +
        `Allow "kms:Decrypt" on the KMS key ${key} for the role the workflow runs as`
    )
  })

  it('names the default key on a DecryptionFailure of a secret without a key of its own', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.failNext('GetSecretValue', {
      status: 400,
      code: 'DecryptionFailure',
      message: "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
    })
    await expect(read('Deploy')).rejects.toThrow(
      'Allow "kms:Decrypt" on the KMS key aws/secretsmanager (the default key) for the role'
    )
  })

  it("quotes AWS's own text as one defused line when AWS keeps failing", async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.failNext('GetSecretValue', {
      status: 500,
      code: 'InternalServiceError',
      message: 'down\n::error::forged ##[set-output name=x]y',
      times: 5
    })
    const error = (await read('Deploy').catch(e => e)) as Error
    expect(error.message).toMatch(
      /^AWS failed secretsmanager:GetSecretValue on deployment secret "Deploy" \(InternalServiceError, HTTP 500\) after 5 attempts over [\d.]+ s of backoff: down ::error::forged #\u200b#\[set-output name=x\]y\. This is an error on AWS's side/
    )
    expect(error.message).not.toContain('\n')
  })
})
