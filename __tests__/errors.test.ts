import { ActionError, describeAwsError, failureMessage } from '../src/errors.js'

const call = {
  action: 'secretsmanager:GetSecretValue',
  subject: 'deployment secret "Deploy"',
  resource: 'arn:aws:secretsmanager:*:*:secret:Deploy-*',
  notFoundHint: 'Check input "deployment-secret-id".'
}

describe('describeAwsError', () => {
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
  it('passes ActionErrors through unchanged', () => {
    const error = new ActionError('as written')
    expect(describeAwsError(error, call)).toBe(error)
  })
  it('marks anything else as unexpected', () => {
    expect(failureMessage(new TypeError('boom'))).toMatch(/^Unexpected error: boom\. This is a bug/)
    expect(failureMessage(new ActionError('clear'))).toBe('clear')
  })
})
