import { ActionError, failureMessage } from '../src/lib/errors.js'
import { describeAwsError } from '../src/aws/errors.js'

const call = {
  action: 'secretsmanager:GetSecretValue',
  subject: 'deployment secret "Deploy"',
  resource: 'arn:aws:secretsmanager:*:*:secret:Deploy-*',
  notFoundHint: 'Check input "deployment-secret-id".'
}

describe('describeAwsError', () => {
  it("quotes the service's error name and message as untrusted text", () => {
    const error = Object.assign(new Error('denied\n::stop-commands::planted'), {
      name: 'Odd\n::warning::planted',
      $metadata: { httpStatusCode: 418 }
    })
    expect(describeAwsError(error, call).message).toBe(
      'secretsmanager:GetSecretValue on deployment secret "Deploy" failed (Odd ::warning::planted, HTTP 418): ' +
        'denied ::stop-commands::planted'
    )
    const busy = Object.assign(new Error('busy'), {
      name: '##[error]x',
      $metadata: { httpStatusCode: 503 }
    })
    expect(describeAwsError(busy, call).message).toContain('(#\u200b#[error]x, HTTP 503)')
  })

  it('quotes a KMS key id that DescribeSecret answered', () => {
    const error = Object.assign(new Error('Access to KMS is not allowed'), {
      name: 'AccessDeniedException'
    })
    expect(
      describeAwsError(error, { ...call, kmsKeyId: 'alias/x\n::warning::planted' }).message
    ).toContain('on the KMS key alias/x ::warning::planted for the role')
  })

  it('names the IAM action and resource on access denied', () => {
    const error = Object.assign(new Error('User x is not authorized'), {
      name: 'AccessDeniedException'
    })
    const message = describeAwsError(error, call).message
    expect(message).toContain(
      'Allow "secretsmanager:GetSecretValue" on "arn:aws:secretsmanager:*:*:secret:Deploy-*"'
    )
  })
  it('gives the hint when the resource is missing', () => {
    const error = Object.assign(new Error('nope'), { name: 'ResourceNotFoundException' })
    expect(describeAwsError(error, call).message).toBe(
      'Deployment secret "Deploy" was not found (secretsmanager:GetSecretValue). Check input "deployment-secret-id".'
    )
  })
  it('says where credentials come from when there are none', () => {
    const error = Object.assign(new Error('Could not load credentials'), {
      name: 'CredentialsProviderError'
    })
    expect(describeAwsError(error, call).message).toContain('aws-actions/configure-aws-credentials')
  })
  it('says AWS could not be reached when the connection kept failing', () => {
    const error = Object.assign(new Error('socket hang up'), {
      name: 'Error',
      code: 'ECONNRESET',
      $metadata: { attempts: 5, totalRetryDelay: 1234 }
    })
    expect(describeAwsError(error, call).message).toBe(
      'Could not reach AWS for secretsmanager:GetSecretValue on deployment secret "Deploy" (ECONNRESET) after 5 attempts ' +
        "over 1.2 s of backoff. Check the runner's network (proxy, firewall, DNS); if it was a passing fault, re-run the job later."
    )
  })
  it('gives no GetSecretValue advice for throttling of other calls', () => {
    const error = Object.assign(new Error('Request limit exceeded.'), {
      name: 'RequestLimitExceeded',
      $metadata: { httpStatusCode: 503, attempts: 8, totalRetryDelay: 30000 }
    })
    const message = describeAwsError(error, {
      action: 'ec2:DescribeInstances',
      subject: 'instance i-0abc',
      resource: '*'
    }).message
    expect(message).toBe(
      "AWS throttled ec2:DescribeInstances on instance i-0abc (RequestLimitExceeded) after 8 attempts over 30.0 s of backoff. The SDK's own retries ran out: re-run the job later."
    )
  })
  it('passes ActionErrors through unchanged', () => {
    const error = new ActionError('as written')
    expect(describeAwsError(error, call)).toBe(error)
  })
  it('marks anything else as unexpected', () => {
    expect(failureMessage(new TypeError('boom'))).toMatch(/^Unexpected error: boom\. This is a bug/)
    expect(failureMessage(new ActionError('clear'))).toBe('clear')
  })
})
