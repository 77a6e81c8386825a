import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { ActionError } from '../lib/errors.js'
import {
  readJsonSecret,
  type JsonSecret,
  type ReadOptions,
  type SecretLog,
  type SecretRole
} from '../secrets/read.js'
import { cliLogger, type Io } from './io.js'
import { createAwsClients, userAgentOf, type AllAwsClients } from '../aws/clients.js'

/** The reference document's names for the two secrets. */
export const DEFAULT_SECRET_IDS = {
  deployment: 'FastAPIDeploymentSecrets',
  app: 'FastAPIAppSecrets'
} as const

/** Environment variables that override the two names, like the options do. */
export const SECRET_ID_ENV = {
  deployment: 'SECRETS_DEPLOY_DEPLOYMENT_SECRET_ID',
  app: 'SECRETS_DEPLOY_APP_SECRET_ID'
} as const

const MAX_ATTEMPTS = 5

/**
 * Whether a read failed because the secret (or the version asked for) does not exist: the one
 * message describeAwsError writes for ResourceNotFoundException.
 */
export function isNotFound(error: unknown): boolean {
  return (
    error instanceof ActionError &&
    /was not found \(secretsmanager:GetSecretValue\)/.test(error.message)
  )
}

/** The options every command takes. */
export interface GlobalOptions {
  region?: string
  deploymentSecretId: string
  appSecretId: string
}

/** A secret as the command line names it: its id, and which of the two it is, if either. */
export interface SecretRef {
  id: string
  role: SecretRole
  notFoundHint: string
}

/** `deployment` and `app` stand for the two secrets; any other name or ARN is used as given. */
export function resolveSecret(name: string, options: GlobalOptions): SecretRef {
  const list = '"secrets-deploy list" lists the secrets the credentials can see.'
  const region = 'the region (--region, AWS_REGION)'
  for (const role of ['deployment', 'app'] as const) {
    const id = role === 'deployment' ? options.deploymentSecretId : options.appSecretId
    if (name === role || name === id) {
      return {
        id,
        role,
        notFoundHint: `Check --${role}-secret-id (or ${SECRET_ID_ENV[role]}) and ${region}; ${list}`
      }
    }
  }
  return {
    id: name,
    role: 'other',
    notFoundHint: `Check the secret's name or ARN and ${region}; ${list}`
  }
}

export interface Session {
  client: SecretsManagerClient
  /** Every client of the session, made on first use with the SDK's retries (src/aws/clients.ts). */
  clients: AllAwsClients
  region: string
  /** Where reading a secret warns: standard error, in the command line's words. */
  log: SecretLog
  read(
    secret: SecretRef,
    options?: Pick<ReadOptions, 'versionId' | 'versionStage'>
  ): Promise<JsonSecret>
}

/** The command line has no input "mask-exclude": what to do about a value the action cannot mask. */
const UNMASKED_ADVICE =
  'If it is a secret, store a real one (at least 4 characters, not a number or boolean), e.g. with ' +
  '"secrets-deploy generate <secret> <key>"; if it is not, list the key in the action\'s "mask-exclude" ' +
  'in the workflow.'

/** A Secrets Manager client on the SDK's default chain, with a region it can name. */
export async function openSession(options: GlobalOptions, io: Io): Promise<Session> {
  const client = new SecretsManagerClient({
    ...(options.region ? { region: options.region } : {}),
    customUserAgent: userAgentOf('cli'),
    maxAttempts: MAX_ATTEMPTS
  })
  let region: string
  try {
    region = await client.config.region()
  } catch {
    region = ''
  }
  if (!region) {
    client.destroy()
    throw new ActionError(
      'No AWS region: give --region, set AWS_REGION, or set "region" in the AWS profile in use.'
    )
  }
  const log: SecretLog = { logger: cliLogger(io), unmaskedAdvice: UNMASKED_ADVICE }
  return {
    client,
    clients: createAwsClients(region, 'cli', client),
    region,
    log,
    read: (secret, readOptions = {}) =>
      readJsonSecret(client, secret.id, secret.role, [], {
        ...readOptions,
        notFoundHint: secret.notFoundHint,
        log
      })
  }
}
