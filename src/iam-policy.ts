import { secretResource } from './secrets.js'

/** The action settings that decide which permissions it needs. */
export interface PolicySettings {
  /** Resource (ARN or ARN pattern) of the deployment secret. */
  deploymentSecret: string
  /** Resource of the app secret; empty when the action does not read it. */
  appSecret: string
  deploy: boolean
  restart: 'ssh' | 'ssm' | 'none'
}

export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  deploymentSecret: secretResource('FastAPIDeploymentSecrets'),
  appSecret: secretResource('FastAPIAppSecrets'),
  deploy: true,
  restart: 'ssh'
}

interface Statement {
  Sid: string
  Effect: 'Allow'
  Action: string | string[]
  Resource: string | string[]
}

const one = <T>(items: T[]): T | T[] => (items.length === 1 ? items[0] : items)

/**
 * The least-privilege policy the action needs for these settings: the one source of the
 * `iam-policy` command and the README's "IAM policy" section (a test holds them equal).
 */
export function iamPolicy(settings: PolicySettings): {
  Version: string
  Statement: Statement[]
} {
  const statements: Statement[] = [
    {
      Sid: 'ReadBothSecrets',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: one([settings.appSecret, settings.deploymentSecret].filter(Boolean).sort())
    }
  ]
  if (settings.deploy) {
    statements.push({
      Sid: 'WriteTheAddressBack',
      Effect: 'Allow',
      Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
      Resource: settings.deploymentSecret
    })
  }
  // Deploying finds the instance (DescribeInstances); an SSH restart learns the host key from the
  // instance's console when no fingerprint is pinned (GetConsoleOutput).
  const ec2 = [
    ...(settings.deploy || settings.restart === 'ssh' ? ['ec2:DescribeInstances'] : []),
    ...(settings.restart === 'ssh' ? ['ec2:GetConsoleOutput'] : [])
  ]
  if (ec2.length > 0) {
    statements.push({
      Sid: settings.restart === 'ssh' ? 'FindTheInstanceAndItsHostKey' : 'FindTheInstance',
      Effect: 'Allow',
      Action: one(ec2),
      Resource: '*'
    })
  }
  if (settings.restart === 'ssm') {
    statements.push({
      Sid: 'RestartThroughRunCommand',
      Effect: 'Allow',
      Action: [
        'ssm:SendCommand',
        'ssm:ListCommandInvocations',
        'ssm:GetCommandInvocation',
        'ssm:DescribeInstanceInformation'
      ],
      Resource: '*'
    })
  }
  return { Version: '2012-10-17', Statement: statements }
}
