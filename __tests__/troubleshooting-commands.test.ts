// The command line's troubleshooting commands in-process (audit, doctor --instance): their option
// parsers, and each against the local endpoint through a session as the program opens one. The
// bundle runs them in cli-audit.test.ts and cli-doctor-instance.test.ts.
import { auditCommand, parseSince } from '../src/cli/audit.js'
import { openSession, resolveSecret, type GlobalOptions } from '../src/cli/context.js'
import {
  instanceAccessChecks,
  parseInstanceId,
  parseProfileName
} from '../src/cli/instance-access.js'
import type { Io } from '../src/cli/io.js'
import { startLocalAws, type LocalAws } from './helpers/local-aws.js'

let aws: LocalAws
const saved = { ...process.env }
const globals: GlobalOptions = {
  deploymentSecretId: 'FastAPIDeploymentSecrets',
  appSecretId: 'FastAPIAppSecrets'
}

function recordingIo(): Io & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = []
  const errLines: string[] = []
  return {
    outLines,
    errLines,
    out: line => void outLines.push(line),
    err: line => void errLines.push(line),
    color: false,
    readValue: async () => ''
  }
}

beforeEach(async () => {
  aws = await startLocalAws()
  Object.assign(process.env, aws.environment())
  aws.putSecret('FastAPIDeploymentSecrets', { ec2_user: 'ec2-user' })
  aws.putSecret('FastAPIAppSecrets', { db_password: 'correct-horse-battery' })
})
afterEach(async () => {
  process.env = { ...saved }
  await aws.stop()
})

describe('option parsers', () => {
  it.each([
    ['30m', 30 * 60_000],
    ['12h', 12 * 3600_000],
    ['90d', 90 * 24 * 3600_000]
  ])('--since %s', (text, ms) => expect(parseSince(text)).toBe(ms))

  it.each(['', '7', '0d', '-1d', '1w', '91d', '7d; rm'])('refuses --since %j', text => {
    expect(() => parseSince(text)).toThrow(/give|keeps 90 days/)
  })

  it('takes instance ids and profile names, and nothing that is neither', () => {
    expect(parseInstanceId('i-0abc1234def567890')).toBe('i-0abc1234def567890')
    expect(parseProfileName('web+app=1,a.b@c_d-e')).toBe('web+app=1,a.b@c_d-e')
    for (const bad of ['i-XYZ', 'i-0abc1234def567890 ', '../i-0abc1234'])
      expect(() => parseInstanceId(bad)).toThrow('give an instance id')
    for (const bad of ['', 'a/b', 'x'.repeat(129)])
      expect(() => parseProfileName(bad)).toThrow('give the name of an instance profile')
  })
})

describe('audit, in-process', () => {
  it("lists the secret's events the endpoint recorded, and says how many", async () => {
    const io = recordingIo()
    const session = await openSession(globals, io)
    try {
      await session.read(resolveSecret('deployment', globals))
      await auditCommand(session, io, resolveSecret('deployment', globals), {
        since: parseSince('1h'),
        event: 'read'
      })
    } finally {
      session.clients.destroy()
    }
    expect(io.outLines[0]).toMatch(/^TIME +EVENT +WHO +SOURCE +CLIENT$/)
    expect(io.outLines.slice(1).map(line => line.split(/ {2,}/)[1])).toEqual([
      'DescribeSecret',
      'GetSecretValue'
    ])
    expect(io.errLines.at(-1)).toMatch(/^2 reads of "FastAPIDeploymentSecrets" since /)
  })
})

describe('doctor --instance, in-process', () => {
  it('stops at the first step that fails, and checks the rest otherwise', async () => {
    const io = recordingIo()
    const session = await openSession(globals, io)
    try {
      const missing = await instanceAccessChecks(session, globals, { instanceProfile: 'none' })
      expect(missing.map(c => c.outcome)).toEqual(['fail'])
      aws.iam.addRole('r', [{ Effect: 'Allow', Action: 'secretsmanager:Get*', Resource: '*' }])
      aws.iam.addInstanceProfile('p', ['r'])
      const allowed = await instanceAccessChecks(session, globals, { instanceProfile: 'p' })
      expect(allowed.map(c => [c.outcome, c.check])).toEqual([
        ['ok', 'instance profile "p"'],
        ['ok', 'instance role, deployment secret "FastAPIDeploymentSecrets"'],
        ['ok', 'instance role, app secret "FastAPIAppSecrets"']
      ])
      const noApp = await instanceAccessChecks(
        session,
        { ...globals, appSecretId: '' },
        { instanceProfile: 'p' }
      )
      expect(noApp).toHaveLength(2)
    } finally {
      session.clients.destroy()
    }
  })
})
