import { jest } from '@jest/globals'
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { readJsonSecret, requireKeys, secretResource } from '../src/secrets/read.js'
import { recordingLogger, type Said } from './helpers/recording-logger.js'
import {
  EXAMPLE_DEPLOYMENT,
  secretsManagerFor,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

let aws: LocalAws
let client: SecretsManagerClient
let stdout: string[]

beforeEach(async () => {
  aws = await startLocalAws()
  client = secretsManagerFor(aws)
  stdout = []
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout.push(String(chunk))
    return true
  })
})

afterEach(async () => {
  jest.restoreAllMocks()
  client.destroy()
  await aws.stop()
})

const masked = () =>
  stdout
    .filter(line => line.startsWith('::add-mask::'))
    .map(line => line.slice(12).replace(/\n$/, ''))

describe('readJsonSecret', () => {
  it('reads a JSON object of strings by name and by ARN, with its version', async () => {
    const versionId = aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const byName = await readJsonSecret(client, 'Deploy', 'deployment')
    expect(byName).toEqual({
      id: 'Deploy',
      arn: aws.secrets.get('Deploy')?.arn,
      versionId,
      values: EXAMPLE_DEPLOYMENT
    })
    const arn = String(aws.secrets.get('Deploy')?.arn)
    expect((await readJsonSecret(client, arn, 'deployment')).values).toEqual(EXAMPLE_DEPLOYMENT)
  })

  it('masks every non-empty value and each line of a multi-line one, except excluded keys', async () => {
    aws.putSecret('Deploy', {
      a: 'alpha-secret',
      b: 'line one\n  line two  ',
      empty: '',
      ec2_user: 'ec2-user'
    })
    await readJsonSecret(client, 'Deploy', 'deployment', ['ec2_user'])
    expect(masked()).toEqual([
      'alpha-secret',
      'line one%0A  line two  ',
      'line one%0A  line two',
      'line one',
      'line two'
    ])
  })

  it('masks a padded value also trimmed: the runner masks only the exact form it was given', async () => {
    aws.putSecret('Deploy', { padded: '  padded-value  ' })
    await readJsonSecret(client, 'Deploy', 'deployment')
    expect(masked()).toEqual(['  padded-value  ', 'padded-value'])
  })

  it.each([
    ['not JSON', 'not json at all {', 'is not valid JSON'],
    ['an array', '["a"]', 'is an array, not a JSON object'],
    ['a string', '"just-a-string"', 'is a string, not a JSON object'],
    ['a number', '31337', 'is a number, not a JSON object']
  ])('refuses a secret that is %s, without quoting it', async (_kind, secretString, expected) => {
    aws.putSecret('Deploy', secretString)
    const error = await readJsonSecret(client, 'Deploy', 'deployment').catch(e => e as Error)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain(`The deployment secret "Deploy" ${expected}`)
    expect((error as Error).message).not.toContain(secretString)
  })

  it('names the key whose value is not a string, and masks it anyway', async () => {
    aws.putSecret('Deploy', { ec2_host: '', creds: { token: 'nested-token-value' } })
    await expect(readJsonSecret(client, 'Deploy', 'deployment')).rejects.toThrow(
      'Key "creds" of the deployment secret "Deploy" is an object; every value must be a string.'
    )
    expect(masked()).toContain('{"token":"nested-token-value"}')
  })

  it('quotes a key name as untrusted text in its message', async () => {
    aws.putSecret('Deploy', { '\n::warning::planted\n##[error]x': 22 })
    const failure = readJsonSecret(client, 'Deploy', 'deployment')
    await expect(failure).rejects.toThrow(
      'Key "\u200b ::warning::planted #\u200b#[error]x" of the deployment secret "Deploy" is a number'
    )
  })

  it('does not mask a plain number, which is no secret and would hide text everywhere', async () => {
    aws.putSecret('Deploy', { ec2_host: '', port: 2222 })
    await expect(readJsonSecret(client, 'Deploy', 'deployment')).rejects.toThrow(
      'Key "port" of the deployment secret "Deploy" is a number; every value must be a string.'
    )
    expect(masked()).not.toContain('2222')
  })

  it('says which input and which IAM permission when the secret is missing or denied', async () => {
    await expect(readJsonSecret(client, 'Missing', 'app')).rejects.toThrow(
      'App secret "Missing" was not found (secretsmanager:GetSecretValue). Check input "app-secret-id"'
    )
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.deny('GetSecretValue')
    await expect(readJsonSecret(client, 'Deploy', 'deployment')).rejects.toThrow(
      'Access denied: secretsmanager:GetSecretValue on deployment secret "Deploy". Allow ' +
        '"secretsmanager:GetSecretValue" on "arn:aws:secretsmanager:*:*:secret:Deploy-*"'
    )
  })

  it('retries throttling and server errors, and nothing else', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.failNext('GetSecretValue', { status: 400, code: 'ThrottlingException', times: 1 })
    aws.failNext('GetSecretValue', { status: 500, code: 'InternalServiceError', times: 1 })
    await expect(readJsonSecret(client, 'Deploy', 'deployment')).resolves.toMatchObject({
      values: EXAMPLE_DEPLOYMENT
    })
    expect(aws.callsOf('GetSecretValue')).toHaveLength(3)

    aws.calls = []
    aws.failNext('GetSecretValue', {
      status: 400,
      code: 'InvalidRequestException',
      message: "You can't perform this operation on the secret because it was marked for deletion."
    })
    await expect(readJsonSecret(client, 'Deploy', 'deployment')).rejects.toThrow(
      'The deployment secret "Deploy" is scheduled for deletion'
    )
    expect(aws.callsOf('GetSecretValue')).toHaveLength(1)
  })
})

describe('warnings about values left unmasked', () => {
  // A port is a plain number, too common to be masked, and not secret: the simplest such value.
  beforeEach(() => aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, ssh_port: '22' }))

  it("go to the action's log as an annotation that names input mask-exclude", async () => {
    await readJsonSecret(client, 'Deploy', 'deployment')
    expect(stdout.filter(line => line.startsWith('::warning::'))).toEqual([
      '::warning::The deployment secret "Deploy" has key "ssh_port" (a plain number) whose value is not masked ' +
        'in the log: masking it would hide that text everywhere and drop job outputs that contain it. If the ' +
        'value is not secret, add the key to input "mask-exclude"; if it is, store a real secret (at least 4 ' +
        'characters, not a number or boolean).\n'
    ])
  })

  it("go to the logger the reader gives, with the reader's advice, and nothing to standard output", async () => {
    const said: Said = []
    const logger = recordingLogger(said)
    await readJsonSecret(client, 'Deploy', 'deployment', [], {
      log: { logger, unmaskedAdvice: 'Do what this program says.' }
    })
    expect(said).toEqual([
      [
        'warning',
        expect.stringMatching(
          /has key "ssh_port" \(a plain number\) .* contain it\. Do what this program says\.$/
        )
      ]
    ])
    expect(stdout.filter(line => !line.startsWith('::add-mask::'))).toEqual([])
  })
})

describe('requireKeys', () => {
  const secret = {
    id: 'App',
    arn: 'arn',
    versionId: 'v1',
    values: { db_password: 'x', jwt_secret: '  ' }
  }
  it('names every missing or blank key at once', () => {
    expect(() =>
      requireKeys(
        secret,
        ['db_password', 'jwt_secret', 'api_keys'],
        'app',
        'listed in input "app-required-keys"'
      )
    ).toThrow(
      'The app secret "App" has no value for "jwt_secret", "api_keys" (listed in input "app-required-keys").'
    )
  })
  it('passes when every key has a value', () => {
    expect(() => requireKeys(secret, ['db_password'], 'app', 'why')).not.toThrow()
  })
})

describe('secretResource', () => {
  it('keeps ARNs and adds the random suffix wildcard to names', () => {
    expect(secretResource('arn:aws:secretsmanager:eu-west-1:1:secret:X-abc')).toBe(
      'arn:aws:secretsmanager:eu-west-1:1:secret:X-abc'
    )
    expect(secretResource('X')).toBe('arn:aws:secretsmanager:*:*:secret:X-*')
  })
})
