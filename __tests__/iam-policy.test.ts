import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  DEFAULT_POLICY_SETTINGS,
  README_POLICY_SETTINGS,
  iamPolicy
} from '../src/secrets/iam-policy.js'
import { repoRoot } from './helpers/run-bundle.js'
import { runCli } from './helpers/run-cli.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

/** The JSON between the iam-policy markers of the IAM policy page. */
function readmePolicy(): unknown {
  const readme = readFileSync(join(repoRoot, 'docs', 'iam-policy.md'), 'utf8')
  const block =
    /<!-- iam-policy:start[^>]*-->\s*```json\n([\s\S]*?)```\s*<!-- iam-policy:end -->/.exec(readme)
  if (!block) throw new Error('docs/iam-policy.md has no iam-policy:start ... iam-policy:end block')
  return JSON.parse(block[1])
}

const actionsOf = (policy: ReturnType<typeof iamPolicy>) =>
  policy.Statement.flatMap(s => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort()

describe('the IAM policy', () => {
  it('is the same in the README as the generated one (a deploy, with either restart)', () => {
    expect(readmePolicy()).toEqual(iamPolicy(README_POLICY_SETTINGS))
  })

  it('asks for only what each setting needs', () => {
    const readOnly = iamPolicy({ ...DEFAULT_POLICY_SETTINGS, deploy: false, restarts: [] })
    expect(actionsOf(readOnly)).toEqual(['secretsmanager:GetSecretValue'])
    const ssm = iamPolicy({ ...DEFAULT_POLICY_SETTINGS, deploy: true, restarts: ['ssm'] })
    expect(actionsOf(ssm)).toEqual([
      'ec2:DescribeInstances',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
      'ssm:CancelCommand',
      'ssm:DescribeInstanceInformation',
      'ssm:GetCommandInvocation',
      'ssm:ListCommandInvocations',
      'ssm:SendCommand'
    ])
    const sshOnly = iamPolicy({ ...DEFAULT_POLICY_SETTINGS, deploy: false, restarts: ['ssh'] })
    expect(actionsOf(sshOnly)).toEqual([
      'ec2:DescribeInstances',
      'ec2:GetConsoleOutput',
      'secretsmanager:GetSecretValue'
    ])
    const config = iamPolicy({
      ...DEFAULT_POLICY_SETTINGS,
      deploy: false,
      restarts: [],
      configPath: '/app/'
    })
    expect(actionsOf(config)).toEqual([
      'kms:Decrypt',
      'secretsmanager:GetSecretValue',
      'ssm:GetParametersByPath'
    ])
    expect(config.Statement[1].Resource).toBe('arn:aws:ssm:*:*:parameter/app*')
    const noApp = iamPolicy({ ...DEFAULT_POLICY_SETTINGS, appSecret: '' })
    expect(noApp.Statement[0].Resource).toBe(DEFAULT_POLICY_SETTINGS.deploymentSecret)
  })
})

describe('secrets-deploy iam-policy', () => {
  let aws: LocalAws
  beforeEach(async () => {
    aws = await startLocalAws()
  })
  afterEach(async () => {
    await aws.stop()
  })

  it('prints the policy for the default settings offline: the README one less the SSM and config-path statements', async () => {
    const run = await runCli(aws, ['iam-policy', '--deploy', '--offline'])
    expect(run.code).toBe(0)
    const readme = readmePolicy() as ReturnType<typeof iamPolicy>
    expect(JSON.parse(run.stdout)).toEqual({
      ...readme,
      Statement: readme.Statement.filter(
        s => ![s.Action].flat().some(a => a.startsWith('ssm:') || a.startsWith('kms:'))
      )
    })
  })

  it('adds the config-path statements with --config-path', async () => {
    const run = await runCli(aws, [
      'iam-policy',
      '--restart',
      'none',
      '--offline',
      '--config-path',
      '/fastapi/prod/'
    ])
    expect(run.code).toBe(0)
    const statements = JSON.parse(run.stdout).Statement
    expect(statements.map((s: { Sid: string }) => s.Sid)).toEqual([
      'ReadBothSecrets',
      'ReadTheConfiguration',
      'DecryptSecureStringParameters'
    ])
    expect(statements[1].Resource).toBe('arn:aws:ssm:*:*:parameter/fastapi/prod*')
  })

  it('adds the rotation statements with --rotate: the app secret, and GetRandomPassword on *', async () => {
    const run = await runCli(aws, ['iam-policy', '--restart', 'none', '--offline', '--rotate'])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).Statement.slice(1)).toEqual([
      {
        Sid: 'RotateAppSecretKeys',
        Effect: 'Allow',
        Action: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage'
        ],
        Resource: DEFAULT_POLICY_SETTINGS.appSecret
      },
      {
        Sid: 'GenerateNewValues',
        Effect: 'Allow',
        Action: 'secretsmanager:GetRandomPassword',
        Resource: '*'
      }
    ])
  })

  it('refuses --rotate with --no-app', async () => {
    const run = await runCli(aws, ['iam-policy', '--offline', '--rotate', '--no-app'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('--rotate rotates keys of the app secret')
    expect(run.stdout).toBe('')
  })

  it('adds the open-ingress statements with --open-ingress, scoped to that security group', async () => {
    const run = await runCli(aws, [
      'iam-policy',
      '--offline',
      '--open-ingress',
      'sg-0123456789abcdef0'
    ])
    expect(run.code).toBe(0)
    const statements = JSON.parse(run.stdout).Statement.slice(-3)
    expect(statements).toEqual([
      {
        Sid: 'OpenAndCloseTheRunnersRule',
        Effect: 'Allow',
        Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
        Resource: [
          'arn:aws:ec2:*:*:security-group/sg-0123456789abcdef0',
          'arn:aws:ec2:*:*:security-group-rule/*'
        ]
      },
      {
        Sid: 'TagTheRunnersRule',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: 'arn:aws:ec2:*:*:security-group-rule/*',
        Condition: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' } }
      },
      {
        Sid: 'FindStaleRules',
        Effect: 'Allow',
        Action: 'ec2:DescribeSecurityGroupRules',
        Resource: '*'
      }
    ])
  })

  it('adds the target group statements with --target-group, scoped to those groups', async () => {
    const other =
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'.replace(
        '/web/',
        '/api/'
      )
    const run = await runCli(aws, [
      'iam-policy',
      '--offline',
      '--restart',
      'ssm',
      '--target-group',
      'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
      other
    ])
    expect(run.code).toBe(0)
    const policy = JSON.parse(run.stdout)
    expect(policy.Statement.slice(-2)).toEqual([
      {
        Sid: 'TakeTargetsOutAndPutThemBack',
        Effect: 'Allow',
        Action: ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets'],
        Resource: [
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
          other
        ]
      },
      {
        Sid: 'WatchTheTargetGroups',
        Effect: 'Allow',
        Action: [
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeTargetGroups',
          'elasticloadbalancing:DescribeTargetHealth'
        ],
        Resource: '*'
      }
    ])
    // Groups of type ip are matched by the instances' private addresses.
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({ Action: 'ec2:DescribeInstances', Resource: '*' })
    )
  })

  it('refuses a --target-group that is not a target group ARN, printing no policy', async () => {
    const run = await runCli(aws, ['iam-policy', '--offline', '--target-group', 'arn:aws:iam::*'])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(
      'Option --target-group has "arn:aws:iam::*", which is not a target group ARN'
    )
  })

  it('refuses an --open-ingress that is not a security group id, printing no policy', async () => {
    const run = await runCli(aws, ['iam-policy', '--offline', '--open-ingress', 'sg-*'])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(
      'Option --open-ingress is "sg-*", which is not a security group id'
    )
  })

  it('adds the release bucket statement with --release-bucket, scoped to the default prefix', async () => {
    const run = await runCli(aws, [
      'iam-policy',
      '--restart',
      'ssm',
      '--offline',
      '--release-bucket',
      'deploy-releases'
    ])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).Statement.slice(-1)).toEqual([
      {
        Sid: 'ShipReleasesThroughTheBucket',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
        Resource: 'arn:aws:s3:::deploy-releases/secrets-deploy-action/releases/*'
      }
    ])
  })

  it('scopes the release bucket statement to --release-prefix', async () => {
    const run = await runCli(aws, [
      'iam-policy',
      '--offline',
      '--release-bucket',
      'deploy-releases',
      '--release-prefix',
      'fastapi/prod/'
    ])
    expect(run.code).toBe(0)
    const statements = JSON.parse(run.stdout).Statement
    expect(statements.filter((s: { Sid: string }) => s.Sid.includes('Release'))).toEqual([
      expect.objectContaining({ Resource: 'arn:aws:s3:::deploy-releases/fastapi/prod/*' })
    ])
    const without = await runCli(aws, ['iam-policy', '--offline'])
    expect(without.stdout).not.toContain('s3:')
  })

  it.each([
    [
      ['--release-bucket', 'Deploy_Releases'],
      'error: Option --release-bucket is "Deploy_Releases", which is not an S3 bucket name: a bucket name has only lowercase letters, digits, "." and "-". Give the name of the bucket (not its ARN or an s3:// URL).'
    ],
    [
      ['--release-bucket', 'deploy-releases', '--release-prefix', 'releases/*'],
      `error: Option --release-prefix is "releases/*", which is not a key prefix this action uses: it may hold only letters, digits and / ! - _ . ' ( ). Leave it empty for secrets-deploy-action/releases/, or give one like it.`
    ],
    [
      ['--release-prefix', 'fastapi/'],
      'error: --release-prefix is the key prefix in the bucket of --release-bucket: give both.'
    ]
  ])('refuses %j, printing no policy', async (args, message) => {
    const run = await runCli(aws, ['iam-policy', ...args])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim()).toBe(message)
    // Refused before the ARNs are looked up.
    expect(aws.calls).toEqual([])
  })

  it('names the real ARNs when it can look them up', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
    const run = await runCli(aws, ['iam-policy', '--restart', 'none'])
    expect(run).toMatchObject({ code: 0, stderr: '' })
    const arns = [
      aws.secrets.get('FastAPIAppSecrets')?.arn,
      aws.secrets.get('FastAPIDeploymentSecrets')?.arn
    ].sort()
    expect(JSON.parse(run.stdout)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadBothSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: arns
        }
      ]
    })
  })

  it('falls back to name patterns, saying why, when a secret cannot be looked up', async () => {
    aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
    aws.deny('DescribeSecret')
    const run = await runCli(aws, ['iam-policy', '--deploy', '--no-app'])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(
      'note: Access denied: secretsmanager:DescribeSecret on deployment secret "FastAPIDeploymentSecrets".'
    )
    expect(JSON.parse(run.stdout).Statement[0].Resource).toBe(
      'arn:aws:secretsmanager:*:*:secret:FastAPIDeploymentSecrets-*'
    )
  })
})

describe('the command line troubleshooting statements', () => {
  it('adds what audit needs with audit, and what doctor --instance needs with doctor', () => {
    const plain = actionsOf(iamPolicy(DEFAULT_POLICY_SETTINGS))
    expect(plain).not.toContain('cloudtrail:LookupEvents')
    expect(plain).not.toContain('iam:SimulatePrincipalPolicy')
    const audit = iamPolicy({ ...DEFAULT_POLICY_SETTINGS, audit: true })
    expect(audit.Statement.find(s => s.Sid === 'ReadTheEventHistory')).toEqual({
      Sid: 'ReadTheEventHistory',
      Effect: 'Allow',
      Action: 'cloudtrail:LookupEvents',
      Resource: '*'
    })
    const doctor = actionsOf(iamPolicy({ ...DEFAULT_POLICY_SETTINGS, doctor: true }))
    for (const action of [
      'ec2:DescribeInstances',
      'iam:GetInstanceProfile',
      'iam:SimulatePrincipalPolicy',
      'secretsmanager:GetResourcePolicy'
    ])
      expect(doctor).toContain(action)
  })
})
