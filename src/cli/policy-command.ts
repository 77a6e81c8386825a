import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager'
import { describeAwsError } from '../aws/errors.js'
import { secretCall, secretResource } from '../secrets/read.js'
import { openSession, resolveSecret, type GlobalOptions } from './context.js'
import { shown, type Io } from './io.js'

/**
 * The two secrets' ARNs from DescribeSecret, so the policy names exactly them; a name pattern
 * (with a note on standard error) for each that cannot be looked up.
 */
export async function resolvePolicyArns(
  io: Io,
  globals: GlobalOptions,
  withApp: boolean
): Promise<{ deploymentSecret: string; appSecret: string }> {
  const roles = withApp ? (['deployment', 'app'] as const) : (['deployment'] as const)
  const resolved = { deploymentSecret: secretResource(globals.deploymentSecretId), appSecret: '' }
  if (withApp) resolved.appSecret = secretResource(globals.appSecretId)
  let session
  try {
    session = await openSession(globals, io)
  } catch (error) {
    io.err(`note: ARNs not looked up (${shown((error as Error).message)}); using name patterns.`)
    return resolved
  }
  try {
    for (const role of roles) {
      const secret = resolveSecret(role, globals)
      try {
        const answer = await session.client.send(new DescribeSecretCommand({ SecretId: secret.id }))
        if (answer.ARN)
          resolved[role === 'deployment' ? 'deploymentSecret' : 'appSecret'] = answer.ARN
      } catch (error) {
        const why = describeAwsError(
          error,
          secretCall('DescribeSecret', secret.role, secret.id, secret.notFoundHint)
        )
        io.err(`note: ${shown(why.message)} Using the name pattern.`)
      }
    }
  } finally {
    session.clients.destroy()
  }
  return resolved
}
