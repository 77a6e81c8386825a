import { HOSTILE_VALUES, readablePieces } from './helpers/run-bundle.js'
import { runCli } from './helpers/run-cli.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

let aws: LocalAws
beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIDeploymentSecrets', { ...EXAMPLE_DEPLOYMENT, ...HOSTILE_VALUES })
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
})
afterEach(async () => {
  await aws.stop()
})

const lines = (stdout: string) => stdout.trim().split('\n')

describe('doctor', () => {
  it('gives one verdict per line: region, credentials, both secrets, each permission', async () => {
    const run = await runCli(aws, ['doctor', '--deploy'])
    expect(run.code).toBe(0)
    expect(lines(run.stdout)).toEqual([
      'ok    region: us-east-1',
      'ok    credentials: arn:aws:sts::123456789012:assumed-role/deploy/ci (account 123456789012)',
      expect.stringMatching(
        /^ok {4}deployment secret "FastAPIDeploymentSecrets": version \S+: readable and valid$/
      ),
      expect.stringMatching(
        /^ok {4}app secret "FastAPIAppSecrets": version \S+: readable and valid$/
      ),
      'skip  secretsmanager:PutSecretValue: Secrets Manager has no dry run; a write shows it (secrets-deploy set)',
      'skip  secretsmanager:UpdateSecretVersionStage: Secrets Manager has no dry run; a write shows it (secrets-deploy set)',
      'ok    ec2:DescribeInstances: allowed (dry run)',
      'skip  ec2:GetConsoleOutput: needs an instance id to dry-run against'
    ])
    expect(aws.callsOf('DescribeInstances')[0].params).toMatchObject({ DryRun: 'true' })
    for (const value of [...Object.values(HOSTILE_VALUES), ...Object.values(EXAMPLE_APP)])
      for (const piece of readablePieces(value)) expect(run.output).not.toContain(piece)
  })

  it('checks only what the settings need', async () => {
    const run = await runCli(aws, ['doctor', '--restart', 'none', '--json'])
    expect(run.code).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report.checks.map((c: { check: string }) => c.check)).toEqual([
      'region',
      'credentials',
      'deployment secret "FastAPIDeploymentSecrets"',
      'app secret "FastAPIAppSecrets"'
    ])
    expect(aws.callsOf('DescribeInstances')).toHaveLength(0)
  })

  it('checks that the SSM managed instances can be listed, with restart ssm', async () => {
    const allowed = await runCli(aws, ['doctor', '--restart', 'ssm', '--json'])
    expect(allowed.code).toBe(0)
    expect(JSON.parse(allowed.stdout).checks).toContainEqual({
      outcome: 'ok',
      check: 'ssm:DescribeInstanceInformation',
      detail: 'allowed'
    })
    aws.deny('DescribeInstanceInformation')
    const denied = await runCli(aws, ['doctor', '--restart', 'ssm'])
    expect(denied.code).toBe(1)
    expect(lines(denied.stdout)).toContainEqual(
      expect.stringMatching(
        /^FAIL {2}ssm:DescribeInstanceInformation: Access denied: ssm:DescribeInstanceInformation on any instance/
      )
    )
  })

  it('fails with the fix on each line that is wrong, and goes on checking the rest', async () => {
    aws.deny('GetCallerIdentity')
    aws.deny('DescribeInstances')
    aws.secrets.delete('FastAPIAppSecrets')
    aws.putSecret('FastAPIDeploymentSecrets', {
      ...EXAMPLE_DEPLOYMENT,
      node_options: '--require x'
    })
    const run = await runCli(aws, ['doctor', '--restart', 'ssh'])
    expect(run.code).toBe(1)
    const out = lines(run.stdout)
    expect(out).toContainEqual(
      expect.stringMatching(
        /^FAIL {2}credentials: Access denied: sts:GetCallerIdentity on the caller identity. Allow "sts:GetCallerIdentity"/
      )
    )
    expect(out).toContainEqual(
      expect.stringMatching(
        /^FAIL {2}app secret "FastAPIAppSecrets": App secret "FastAPIAppSecrets" was not found/
      )
    )
    expect(out).toContainEqual(
      expect.stringMatching(
        /^warn {2}deployment secret "FastAPIDeploymentSecrets": Key "node_options" would become/
      )
    )
    expect(out).toContainEqual(
      expect.stringMatching(
        /^FAIL {2}ec2:DescribeInstances: Access denied: ec2:DescribeInstances on any instance. Allow "ec2:DescribeInstances" on "\*"/
      )
    )
  })
})
