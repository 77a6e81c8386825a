// The tools say who they are: every client createAwsClients makes sends the tool's user agent
// suffix, which CloudTrail records as the call's `userAgent`.
import { readFileSync } from 'node:fs'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2'
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm'
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager'
import { ListAliasesCommand } from '@aws-sdk/client-kms'
import { createAwsClients, TOOL_VERSION, userAgentOf } from '../src/aws/clients.js'
import { startLocalAws, type LocalAws } from './helpers/local-aws.js'

let aws: LocalAws
const saved = { ...process.env }

beforeEach(async () => {
  aws = await startLocalAws()
  Object.assign(process.env, aws.environment())
})
afterEach(async () => {
  process.env = { ...saved }
  await aws.stop()
})

it('names the version package.json gives, so a release cannot forget it', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  expect(TOOL_VERSION).toBe(pkg.version)
  expect(userAgentOf('action')).toBe(`secrets-deploy-action/${pkg.version}`)
  expect(userAgentOf('cli')).toBe(`secrets-deploy-cli/${pkg.version}`)
})

it.each(['action', 'cli'] as const)('sends the %s suffix on every client it makes', async tool => {
  const clients = createAwsClients(aws.region, tool)
  try {
    await clients.secretsManager.send(new ListSecretsCommand({}))
    await (await clients.ec2()).send(new DescribeInstancesCommand({}))
    await (await clients.ssm()).send(new GetParametersByPathCommand({ Path: '/app' }))
    await (await clients.sts()).send(new GetCallerIdentityCommand({}))
    // The local KMS answers no ListAliases: the request still reaches it, with its user agent.
    await (await clients.kms()).send(new ListAliasesCommand({})).catch(() => undefined)
  } finally {
    clients.destroy()
  }
  expect(aws.userAgents.length).toBeGreaterThanOrEqual(5)
  for (const userAgent of aws.userAgents) {
    expect(userAgent.split(' ')).toContain(userAgentOf(tool))
  }
})
