// `secrets-deploy audit` through the command-line bundle, against the local endpoint's CloudTrail
// (test-support/cloudtrail.js: LookupEvents in its real wire shape, JSON 1.1, target
// CloudTrail_20131101.LookupEvents; the record's shape and a real GetSecretValue record, with
// where they come from, are in that file's header).
import { TOOL_VERSION } from '../src/aws/clients.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { runBundle } from './helpers/run-bundle.js'
import { runCli } from './helpers/run-cli.js'

let aws: LocalAws
let arn: string
const DEPLOYMENT = 'FastAPIDeploymentSecrets'
const GHA = 'arn:aws:sts::123456789012:assumed-role/deploy/gha-7712345678-1'
const PERSON = 'arn:aws:iam::123456789012:user/alice'
const DAY = 24 * 3600 * 1000

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret(DEPLOYMENT, EXAMPLE_DEPLOYMENT)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  arn = aws.secrets.get(DEPLOYMENT)?.arn ?? ''
})
afterEach(() => aws.stop())

const ago = (ms: number) => new Date(Date.now() - ms)
const rows = (stdout: string) => stdout.trim().split('\n').slice(1)

/** A history of the test's own; the command's own DescribeSecret is not recorded in it. */
function seedHistory(): void {
  const trail = aws.cloudTrail
  trail.recordCalls = false
  trail.add({
    eventName: 'GetSecretValue',
    time: ago(3 * 3600_000),
    principalArn: GHA,
    sourceIPAddress: '20.42.0.7',
    userAgent: `aws-sdk-js/3.1164.0 ua/2.1 os/linux#6.8.0 lang/js md/nodejs#24.1.0 secrets-deploy-action/${TOOL_VERSION}`,
    requestParameters: { secretId: DEPLOYMENT }
  })
  trail.add({
    eventName: 'PutSecretValue',
    time: ago(2 * 3600_000),
    principalArn: PERSON,
    sourceIPAddress: '198.51.100.23',
    requestParameters: { secretId: arn, clientRequestToken: 'c0ffee00-0000-4000-8000-000000000001' }
  })
  // By the ARN without its random suffix: still this secret.
  trail.add({
    eventName: 'UpdateSecretVersionStage',
    time: ago(3600_000),
    principalArn: PERSON,
    requestParameters: { secretId: arn.slice(0, -7), versionStage: 'AWSCURRENT' }
  })
  // Not this secret, and no secret at all.
  trail.add({
    eventName: 'GetSecretValue',
    time: ago(60_000),
    requestParameters: { secretId: 'FastAPIAppSecrets' }
  })
  trail.add({ eventName: 'ListSecrets', time: ago(60_000) })
  // Older than the default week.
  trail.add({
    eventName: 'GetSecretValue',
    time: ago(10 * DAY),
    principalArn: PERSON,
    requestParameters: { secretId: DEPLOYMENT }
  })
}

describe('audit', () => {
  it('lists the reads and writes of the secret, newest first, with who, where from and the client', async () => {
    seedHistory()
    const run = await runCli(aws, ['audit', 'deployment'])
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^TIME +EVENT +WHO +SOURCE +CLIENT$/)
    expect(rows(run.stdout).map(line => line.split(/ {2,}/).slice(1, 3))).toEqual([
      ['UpdateSecretVersionStage', PERSON],
      ['PutSecretValue', PERSON],
      ['GetSecretValue', `${GHA} (session gha-7712345678-1)`]
    ])
    expect(rows(run.stdout)[2]).toContain('20.42.0.7')
    expect(rows(run.stdout)[2]).toMatch(new RegExp(`secrets-deploy-action/${TOOL_VERSION}$`))
    expect(run.stderr).toMatch(
      /^3 reads and writes of "FastAPIDeploymentSecrets" since \S+ \(CloudTrail's event history; it holds no secret values\)\.\n$/
    )
    expect(aws.callsOf('LookupEvents')[0].params).toMatchObject({
      LookupAttributes: [
        { AttributeKey: 'EventSource', AttributeValue: 'secretsmanager.amazonaws.com' }
      ]
    })
  })

  it('keeps reads or writes alone with --event, and goes further back with --since', async () => {
    seedHistory()
    const reads = await runCli(aws, ['audit', 'deployment', '--event', 'read', '--json'])
    expect(reads.code).toBe(0)
    expect(JSON.parse(reads.stdout).events.map((e: { event: string }) => e.event)).toEqual([
      'GetSecretValue'
    ])
    const writes = await runCli(aws, ['audit', 'deployment', '--event', 'write', '--json'])
    expect(JSON.parse(writes.stdout).events.map((e: { event: string }) => e.event)).toEqual([
      'UpdateSecretVersionStage',
      'PutSecretValue'
    ])
    const month = await runCli(aws, [
      'audit',
      'deployment',
      '--since',
      '30d',
      '--event',
      'read',
      '--json'
    ])
    expect(JSON.parse(month.stdout).events).toHaveLength(2)
  })

  it('pages through the history with the paginator', async () => {
    aws.cloudTrail.recordCalls = false
    for (let i = 0; i < 120; i++)
      aws.cloudTrail.add({
        eventName: 'GetSecretValue',
        time: ago(i * 60_000),
        requestParameters: { secretId: DEPLOYMENT }
      })
    const run = await runCli(aws, ['audit', 'deployment', '--json'])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).events).toHaveLength(120)
    const calls = aws.callsOf('LookupEvents')
    expect(calls).toHaveLength(3)
    expect(calls[0].params.NextToken).toBeUndefined()
    expect(calls[1].params.NextToken).toEqual(expect.any(String))
  })

  it('rides out throttling on the SDK retries', async () => {
    seedHistory()
    aws.failNext('LookupEvents', {
      status: 400,
      code: 'ThrottlingException',
      message: 'Rate exceeded',
      times: 2
    })
    const run = await runCli(aws, ['audit', 'deployment'])
    expect(run.code).toBe(0)
    expect(rows(run.stdout)).toHaveLength(3)
    expect(aws.callsOf('LookupEvents')).toHaveLength(3)
  })

  it('prints nothing of a record but its columns, and those as inert one-line text', async () => {
    aws.cloudTrail.add({
      eventName: 'GetSecretValue',
      principalArn: 'arn:aws:sts::123456789012:assumed-role/deploy/x\n::set-output name=a::b',
      userAgent: 'evil/1.0 \u001b[31m##[error]forged\r\n::warning::forged',
      sourceIPAddress: 'ssm.amazonaws.com',
      requestParameters: { secretId: DEPLOYMENT, versionId: 'planted-version-id-in-request' },
      responseElements: { secretString: 'planted-response-value' },
      extra: {
        errorMessage: 'planted-error-message',
        additionalEventData: { note: 'planted-extra' }
      }
    })
    for (const args of [
      ['audit', 'deployment'],
      ['audit', 'deployment', '--json']
    ]) {
      const run = await runCli(aws, args)
      expect(run.code).toBe(0)
      for (const planted of [
        'planted-version-id-in-request',
        'planted-response-value',
        'planted-error-message',
        'planted-extra'
      ])
        expect(run.output).not.toContain(planted)
      for (const line of run.output.split('\n')) {
        expect(line.trimStart()).not.toMatch(/^::/)
        expect(line).not.toContain('##[')
        expect(line).not.toContain('\u001b')
      }
    }
  })

  it("shows the tools' own reads by their user agent", async () => {
    const action = await runBundle({ deploy: 'false', restart: 'none' }, aws.environment())
    expect(action.code).toBe(0)
    const get = await runCli(aws, ['get', 'deployment'])
    expect(get.code).toBe(0)
    const run = await runCli(aws, ['audit', 'deployment', '--event', 'read', '--json'])
    const clients = JSON.parse(run.stdout).events.map((e: { userAgent: string }) => e.userAgent)
    expect(clients.some((ua: string) => ua.endsWith(`secrets-deploy-action/${TOOL_VERSION}`))).toBe(
      true
    )
    expect(clients.some((ua: string) => ua.endsWith(`secrets-deploy-cli/${TOOL_VERSION}`))).toBe(
      true
    )
  })

  it.each([
    [
      ['--event', 'reads'],
      "option '--event <kind>' argument 'reads' is invalid. Allowed choices are read, write, all."
    ],
    [['--since', '7'], 'give a duration such as 30m, 12h or 7d'],
    [['--since', '91d'], "CloudTrail's event history keeps 90 days: give at most 90d"]
  ])('refuses %j before calling AWS', async (args, message) => {
    const run = await runCli(aws, ['audit', 'deployment', ...args])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stdout).toBe('')
    expect(aws.calls).toEqual([])
  })

  it('says which permission is missing when LookupEvents is denied', async () => {
    aws.deny('LookupEvents')
    const run = await runCli(aws, ['audit', 'deployment'])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      /^error: Access denied: cloudtrail:LookupEvents on the event history\. Allow "cloudtrail:LookupEvents" on "\*"/
    )
    expect(run.stdout).toBe('')
  })

  it('says so when the secret does not exist', async () => {
    const run = await runCli(aws, ['audit', 'NoSuchSecret'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('"NoSuchSecret" was not found')
    expect(aws.callsOf('LookupEvents')).toEqual([])
  })

  it('says in --help that CloudTrail holds no values', async () => {
    const run = await runCli(aws, ['audit', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout.replace(/\s+/g, ' ')).toContain('CloudTrail holds no secret values')
    expect(run.stdout).toContain('cloudtrail:LookupEvents')
  })
})
