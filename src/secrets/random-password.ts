import {
  GetRandomPasswordCommand,
  type GetRandomPasswordCommandInput,
  type SecretsManagerClient
} from '@aws-sdk/client-secrets-manager'
import { ActionError } from '../lib/errors.js'
import { describeAwsError } from '../aws/errors.js'
import { maskSecret } from '../lib/log.js'

/** GetRandomPassword's own rules, as the command line's `generate` and input "rotate" give them. */
export type PasswordRules = Omit<GetRandomPasswordCommandInput, 'PasswordLength'> & {
  length: number
}

/**
 * A new value from Secrets Manager's GetRandomPassword, registered as a mask before the caller
 * can print anything. `forWhat` names it in messages: `a new value for "jwt_secret"`.
 */
export async function randomPassword(
  client: SecretsManagerClient,
  rules: PasswordRules,
  forWhat: string
): Promise<string> {
  const { length, ...rest } = rules
  let value: string | undefined
  try {
    value = (await client.send(new GetRandomPasswordCommand({ ...rest, PasswordLength: length })))
      .RandomPassword
  } catch (error) {
    throw describeAwsError(error, {
      action: 'secretsmanager:GetRandomPassword',
      subject: forWhat,
      resource: '*'
    })
  }
  if (!value) throw new ActionError('secretsmanager:GetRandomPassword returned no password.')
  maskSecret(value)
  return value
}
