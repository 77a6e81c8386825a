// `secrets-deploy doctor --instance` through the command-line bundle, against the local endpoint's
// EC2 (the instance's iamInstanceProfile) and IAM (test-support/iam.js: GetInstanceProfile and
// SimulatePrincipalPolicy in IAM's Query protocol, shaped as the IAM API Reference's sample
// responses, which that file's header quotes) and Secrets Manager's GetResourcePolicy.
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runCli } from './helpers/run-cli.js'

const INSTANCE = 'i-0abc1234def567890'
let aws: LocalAws
let deploymentArn: string
let appArn: string

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  deploymentArn = aws.secrets.get('FastAPIDeploymentSecrets')?.arn ?? ''
  appArn = aws.secrets.get('FastAPIAppSecrets')?.arn ?? ''
})
afterEach(() => aws.stop())

/** An instance whose profile holds a role with these statements. */
function instanceWithRole(statements: object[]): void {
  aws.iam.addRole('fastapi-instance', statements as never)
  const profile = aws.iam.addInstanceProfile('fastapi-profile', ['fastapi-instance'])
  aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7', instanceProfileArn: profile })
}

const readBoth = {
  Effect: 'Allow',
  Action: 'secretsmanager:GetSecretValue',
  Resource: 'arn:aws:secretsmanager:*:*:secret:FastAPI*'
}
const lines = (stdout: string) => stdout.trim().split('\n')
const ROLE = 'arn:aws:iam::123456789012:role/fastapi-instance'

describe('doctor --instance', () => {
  it("says the instance's role may read both secrets, worded as what it checked", async () => {
    instanceWithRole([readBoth])
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE])
    expect(run.code).toBe(0)
    expect(lines(run.stdout).slice(2)).toEqual([
      `ok    instance ${INSTANCE}: instance profile "fastapi-profile"`,
      `ok    instance profile "fastapi-profile": role ${ROLE}`,
      `ok    instance role, deployment secret "FastAPIDeploymentSecrets": secretsmanager:GetSecretValue allowed by the role's policies (the secret has no resource policy); the KMS key policy is not checked`,
      `ok    instance role, app secret "FastAPIAppSecrets": secretsmanager:GetSecretValue allowed by the role's policies (the secret has no resource policy); the KMS key policy is not checked`
    ])
    expect(aws.callsOf('GetInstanceProfile')[0].params).toMatchObject({
      InstanceProfileName: 'fastapi-profile'
    })
    expect(aws.callsOf('SimulatePrincipalPolicy')[0].params).toMatchObject({
      PolicySourceArn: ROLE,
      'ActionNames.member.1': 'secretsmanager:GetSecretValue',
      'ResourceArns.member.1': deploymentArn
    })
  })

  it('says which secret the role may not read, with the statement to add', async () => {
    instanceWithRole([{ ...readBoth, Resource: deploymentArn }])
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE, '--json'])
    expect(run.code).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.ok).toBe(false)
    expect(report.checks.at(-1)).toEqual({
      outcome: 'fail',
      check: 'instance role, app secret "FastAPIAppSecrets"',
      detail:
        "secretsmanager:GetSecretValue is not allowed: no statement of the role's policies allows it; add this statement to the role's policy",
      fix: { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: appArn }
    })
    const text = await runCli(aws, ['doctor', '--instance', INSTANCE])
    expect(lines(text.stdout).slice(-2)).toEqual([
      `FAIL  instance role, app secret "FastAPIAppSecrets": secretsmanager:GetSecretValue is not allowed: no statement of the role's policies allows it; add this statement to the role's policy`,
      `      {"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:FastAPIAppSecrets-${appArn.slice(-6)}"}`
    ])
  })

  it("passes the secret's resource policy to the simulator: its Deny wins over the role's Allow", async () => {
    instanceWithRole([readBoth])
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Deny',
          Principal: { AWS: ROLE },
          Action: 'secretsmanager:GetSecretValue',
          Resource: '*'
        }
      ]
    }
    aws.iam.putResourcePolicy('FastAPIAppSecrets', policy)
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE])
    expect(run.code).toBe(1)
    expect(lines(run.stdout).at(-1)).toBe(
      'FAIL  instance role, app secret "FastAPIAppSecrets": secretsmanager:GetSecretValue is denied by a Deny statement (ResourcePolicy): remove or narrow it; an Allow cannot override it'
    )
    const simulated = aws.callsOf('SimulatePrincipalPolicy').map(c => c.params.ResourcePolicy)
    expect(simulated).toEqual([undefined, JSON.stringify(policy)])
  })

  it('checks kms:Decrypt on a customer managed key, saying the key policy is not checked', async () => {
    instanceWithRole([readBoth])
    aws.iam.secretKeys.set('FastAPIAppSecrets', '1234abcd-12ab-34cd-56ef-1234567890ab')
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE, '--json'])
    expect(run.code).toBe(1)
    const kms = JSON.parse(run.stdout).checks.at(-1)
    expect(kms).toEqual({
      outcome: 'fail',
      check: 'instance role, the KMS key of the app secret',
      detail:
        "kms:Decrypt is not allowed: no statement of the role's policies allows it; add this statement to the role's policy",
      fix: {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } }
      }
    })
    aws.iam.addRole('fastapi-instance', [
      readBoth,
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }
    ] as never)
    const allowed = await runCli(aws, ['doctor', '--instance-profile', 'fastapi-profile'])
    expect(allowed.code).toBe(0)
    expect(lines(allowed.stdout).at(-1)).toBe(
      "ok    instance role, the KMS key of the app secret: kms:Decrypt allowed by the role's policies; the KMS key policy is not checked"
    )
  })

  it('says so, with the statement to check by hand, when the simulator is denied to the caller', async () => {
    instanceWithRole([readBoth])
    aws.deny('SimulatePrincipalPolicy')
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE])
    expect(run.code).toBe(0)
    expect(lines(run.stdout).slice(-2)).toEqual([
      `warn  instance role, app secret "FastAPIAppSecrets": not checked: iam:SimulatePrincipalPolicy is denied to these credentials; check by hand that the role's policies hold this statement`,
      `      {"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"${appArn}"}`
    ])
  })

  it('fails at an instance without a profile, and asks IAM nothing', async () => {
    aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.7' })
    const run = await runCli(aws, ['doctor', '--instance', INSTANCE])
    expect(run.code).toBe(1)
    expect(lines(run.stdout).at(-1)).toMatch(
      new RegExp(
        `^FAIL {2}instance ${INSTANCE}: has no instance profile, so nothing on it can read the secrets`
      )
    )
    expect(aws.calls.filter(c => c.service === 'iam')).toEqual([])
  })

  it('fails at a profile that does not exist', async () => {
    const run = await runCli(aws, ['doctor', '--instance-profile', 'nope'])
    expect(run.code).toBe(1)
    expect(lines(run.stdout).at(-1)).toBe(
      'FAIL  instance profile "nope": does not exist (iam:GetInstanceProfile): check the name.'
    )
  })

  it.each([
    [['--instance', 'web-1'], 'give an instance id such as i-0abc1234def567890.'],
    [['--instance-profile', 'a b'], 'give the name of an instance profile'],
    [
      ['--instance', INSTANCE, '--instance-profile', 'p'],
      "cannot be used with option '--instance-profile <name>'"
    ]
  ])('refuses %j before calling AWS', async (args, message) => {
    const run = await runCli(aws, ['doctor', ...args])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
    expect(aws.calls).toEqual([])
  })
})
