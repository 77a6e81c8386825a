// The tools say who they are, through the bundles as users run them: every request the action and
// the command line send carries its user agent suffix, the field CloudTrail records as
// `userAgent` and `secrets-deploy audit` shows.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TOOL_VERSION } from '../src/aws/clients.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'
import { runCli } from './helpers/run-cli.js'

const INSTANCE = 'i-0aaa0000000000001'
let aws: LocalAws

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
})
afterEach(() => aws.stop())

/** The services the requests went to, so that a test shows it covered each client. */
const services = () => new Set(aws.calls.map(call => call.service))

function expectEveryRequestNames(suffix: string): void {
  expect(aws.userAgents.length).toBe(aws.calls.length)
  for (const userAgent of aws.userAgents) expect(userAgent.split(' ')).toContain(suffix)
}

it('the action names itself on every request: Secrets Manager, EC2 and SSM', async () => {
  aws.addInstance({ instanceId: INSTANCE, publicIp: '203.0.113.1' })
  aws.ssm.addAgent(INSTANCE)
  aws.parameters.put('/fastapi/staging/log_level', 'debug')
  const run = await runBundle(
    { deploy: 'false', targets: INSTANCE, restart: 'ssm', 'config-path': '/fastapi/staging' },
    aws.environment()
  )
  expect(run.code).toBe(0)
  expect(services()).toEqual(new Set(['secretsmanager', 'ec2', 'ssm']))
  expectEveryRequestNames(`secrets-deploy-action/${TOOL_VERSION}`)
})

it('the command line names itself on every request: Secrets Manager, STS, EC2 and KMS', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'user-agent-')), 'backup.json')
  for (const args of [
    ['get', 'deployment', 'ec2_user'],
    ['doctor', '--deploy'],
    ['backup', 'app', '--out', out, '--kms-key-id', aws.createKmsKey('backup-key')]
  ]) {
    const run = await runCli(aws, args)
    expect(run.stderr).not.toMatch(/error/i)
    expect(run.code).toBe(0)
  }
  expect(services()).toEqual(new Set(['secretsmanager', 'sts', 'ec2', 'kms']))
  expectEveryRequestNames(`secrets-deploy-cli/${TOOL_VERSION}`)
})
