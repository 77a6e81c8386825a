// The door of one run in this process: the rule through the real EC2 client against the local
// endpoint (EC2's Query wire format), the runner's address from a local HTTP server, and the post
// step's reading of the state the runner hands it (STATE_<name>, as @actions/core's getState
// reads it).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { closeRule, CREATED_TAG, openRule, removeStaleRules, RUN_TAG } from '../src/ec2/ingress.js'
import { checkRunnerIpUrl, hostCidr, publicAddressProblem } from '../src/ec2/runner-address.js'
import { chooseAddress, runnerAddress } from '../src/ec2/runner-ip.js'
import { runPost } from '../src/action/post.js'
import { INGRESS_STATE, planIngress, throughDoor, type IngressPlan } from '../src/phases/ingress.js'
import { readInputs } from '../src/action/inputs.js'
import { inputEnvironment } from '../test-support/runner.js'
import { newReport } from '../src/action/summary.js'
import type { AwsClients } from '../src/aws/clients.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { recordingLogger } from './helpers/recording-logger.js'

const GROUP = 'sg-0123456789abcdef0'
const HOUR = 3600 * 1000

let aws: LocalAws
beforeEach(async () => {
  aws = await startLocalAws()
  aws.securityGroups.addGroup(GROUP)
})
afterEach(() => aws.stop())

/** An HTTP server on 127.0.0.1 that answers every request with `body`. */
async function answering(body: string, status = 200): Promise<{ url: URL; server: Server }> {
  const server = createServer((_, res) => res.writeHead(status).end(body))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: new URL(`http://127.0.0.1:${port}/`), server }
}

describe('the runner address', () => {
  it.each([
    ['203.0.113.7', undefined],
    ['2001:db8::7', undefined],
    ['::ffff:203.0.113.7', undefined],
    ['10.1.2.3', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['100.64.0.1', 'a private address'],
    ['fd00::1', 'a private address'],
    ['127.0.0.1', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['169.254.169.254', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['224.0.0.1', 'a multicast address'],
    ['ff02::1', 'a multicast address'],
    ['0.0.0.0', 'an unspecified address'],
    ['::', 'an unspecified address'],
    ['203.0.113.0/24', 'a network in CIDR notation, not one address'],
    ['0.0.0.0/0', 'a network in CIDR notation, not one address'],
    ['example.com', 'not an IPv4 or IPv6 address'],
    ['203.0.113.7 198.51.100.1', 'not an IPv4 or IPv6 address']
  ])('%s: %s', (address, problem) => {
    expect(publicAddressProblem(address)).toBe(problem)
  })

  it('gives a host its own /32 or /128', () => {
    expect(hostCidr('203.0.113.7')).toEqual({ cidr: '203.0.113.7/32', family: 4 })
    expect(hostCidr('::ffff:203.0.113.7')).toEqual({ cidr: '203.0.113.7/32', family: 4 })
    expect(hostCidr('2001:db8::7')).toEqual({ cidr: '2001:db8::7/128', family: 6 })
  })

  it.each([
    'http://checkip.example.com/',
    'ftp://127.0.0.1/',
    'https://user:pass@checkip.example.com/',
    'not a url',
    'http://10.0.0.1/'
  ])('refuses runner-ip-url %j', value => {
    expect(() => checkRunnerIpUrl(value)).toThrow('Input "runner-ip-url" is')
  })

  it('takes https anywhere and http on loopback', () => {
    expect(checkRunnerIpUrl('https://checkip.amazonaws.com/').hostname).toBe(
      'checkip.amazonaws.com'
    )
    expect(checkRunnerIpUrl('http://127.0.0.1:8080/ip').port).toBe('8080')
    expect(checkRunnerIpUrl('http://[::1]:8080/').hostname).toBe('[::1]')
  })

  it("reads the service's answer, as checkip answers: one address and a line break", async () => {
    const { url, server } = await answering('203.0.113.7\n')
    try {
      await expect(runnerAddress(url)).resolves.toBe('203.0.113.7')
    } finally {
      server.close()
    }
  })

  it.each([
    ['10.0.0.5\n', 'which is a private address'],
    ['0.0.0.0/0\n', 'which is a network in CIDR notation'],
    ['203.0.113.7\n::error::owned\n', 'which is not an IPv4 or IPv6 address']
  ])('refuses the answer %j', async (body, problem) => {
    const { url, server } = await answering(body)
    try {
      const refused = runnerAddress(url)
      await expect(refused).rejects.toThrow(problem)
      await expect(refused).rejects.not.toThrow(/\n::error::/)
    } finally {
      server.close()
    }
  })

  it("takes the connection's own local address where it is public (no NAT), else the answer", () => {
    const url = new URL('https://checkip.amazonaws.com/')
    const answer = '198.51.100.9\n'
    expect(chooseAddress(url, { body: answer, localAddress: '203.0.113.7' })).toBe('203.0.113.7')
    expect(chooseAddress(url, { body: answer, localAddress: '::ffff:203.0.113.7' })).toBe(
      '203.0.113.7'
    )
    // Behind NAT (a private local address), the service says what the instance will see.
    expect(chooseAddress(url, { body: answer, localAddress: '10.1.0.4' })).toBe('198.51.100.9')
    expect(chooseAddress(url, { body: answer })).toBe('198.51.100.9')
  })

  it('refuses an answer too long to be an address, and a failed answer', async () => {
    const long = await answering('2'.repeat(100_000))
    const failed = await answering('203.0.113.7', 503)
    try {
      await expect(runnerAddress(long.url)).rejects.toThrow('longer than 256 bytes')
      await expect(runnerAddress(failed.url)).rejects.toThrow('it answered HTTP 503')
    } finally {
      long.server.close()
      failed.server.close()
    }
  })
})

describe('the ingress rule', () => {
  const now = new Date('2026-12-04T20:00:00Z')
  const rule = {
    groupId: GROUP,
    cidr: '203.0.113.7/32',
    family: 4 as const,
    port: 22,
    run: 'o/r/1/1',
    now
  }

  it('opens one tagged rule and closes it by its id', async () => {
    const ec2 = ec2For(aws)
    const opened = await openRule(ec2, rule)
    expect(opened?.ruleId).toMatch(/^sgr-[0-9a-f]{17}$/)
    const [stored, ...more] = aws.securityGroups.ingressRules(GROUP)
    expect(more).toEqual([])
    expect(stored).toMatchObject({
      ruleId: opened?.ruleId,
      ipProtocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      cidrIpv4: '203.0.113.7/32',
      tags: { [RUN_TAG]: 'o/r/1/1', [CREATED_TAG]: now.toISOString() }
    })
    await closeRule(ec2, opened!)
    expect(aws.securityGroups.ingressRules(GROUP)).toEqual([])
    // Closing again (the post step after the main step closed it) is no error.
    await expect(closeRule(ec2, opened!)).resolves.toBeUndefined()
  })

  it('leaves a rule that admits the address already to whoever opened it', async () => {
    aws.securityGroups.addIngressRule({ groupId: GROUP, cidr: '203.0.113.7/32', port: 22 })
    await expect(openRule(ec2For(aws), rule)).resolves.toBeUndefined()
    expect(aws.securityGroups.ingressRules(GROUP)).toHaveLength(1)
  })

  it("removes this action's rules older than 6 hours, and no other rule", async () => {
    const tagged = (hoursAgo: number) => ({
      [RUN_TAG]: 'o/r/0/1',
      [CREATED_TAG]: new Date(now.getTime() - hoursAgo * HOUR).toISOString()
    })
    const add = (cidr: string, tags?: Record<string, string>) =>
      aws.securityGroups.addIngressRule({ groupId: GROUP, cidr, port: 22, tags })
    const stale = add('198.51.100.1/32', tagged(7))
    const concurrent = add('198.51.100.2/32', tagged(1))
    const someoneElses = add('198.51.100.3/32', { [CREATED_TAG]: tagged(9)[CREATED_TAG] })
    const untagged = add('0.0.0.0/0')
    const log = recordingLogger()
    await expect(removeStaleRules(ec2For(aws), GROUP, now, log)).resolves.toEqual([stale])
    expect(
      aws.securityGroups
        .ingressRules(GROUP)
        .map(r => r.ruleId)
        .sort()
    ).toEqual([concurrent, someoneElses, untagged].sort())
    expect(log.said).toEqual([
      ['info', `Removed 1 ingress rule of this action older than 6 hours from ${GROUP}: ${stale}.`]
    ])
  })

  it('names the IAM action when the credentials may not change the group', async () => {
    aws.deny('AuthorizeSecurityGroupIngress')
    await expect(openRule(ec2For(aws), rule)).rejects.toThrow(
      `Access denied: ec2:AuthorizeSecurityGroupIngress on security group ${GROUP} (input "open-ingress"). ` +
        `Allow "ec2:AuthorizeSecurityGroupIngress" on "arn:aws:ec2:*:*:security-group/${GROUP}"`
    )
  })
})

describe('planIngress', () => {
  function inputsWith(inputs: Record<string, string>) {
    const env = inputEnvironment({ 'open-ingress': GROUP, ...inputs })
    const saved = { ...process.env }
    Object.assign(process.env, env)
    try {
      return readInputs()
    } finally {
      for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name]
      Object.assign(process.env, saved)
    }
  }

  it('opens the door on the port the runner connects to, for restart: ssh', () => {
    expect(planIngress(inputsWith({ stack: 'S' }), 2222, 'eu-west-1')).toMatchObject({
      groupId: GROUP,
      port: 2222,
      region: 'eu-west-1',
      runnerIpUrl: new URL('https://checkip.amazonaws.com/')
    })
  })

  it('refuses it where nothing connects from the runner, and ignores it in a preview', () => {
    expect(() => planIngress(inputsWith({ stack: 'S', restart: 'ssm' }), 22, 'r')).toThrow(
      'Input "open-ingress" is for restart: ssh, which connects from the runner; with restart: ssm nothing does.'
    )
    expect(() => planIngress(inputsWith({ deploy: 'false', restart: 'none' }), 22, 'r')).toThrow(
      'with restart: none nothing does'
    )
    expect(planIngress(inputsWith({ stack: 'S', deploy: 'diff' }), 22, 'r')).toBeUndefined()
  })
})

describe('throughDoor', () => {
  const clients = () => ({ ec2: () => Promise.resolve(ec2For(aws)) }) as unknown as AwsClients

  it('holds the rule open while the work runs, saves it for the post step, closes it after a failure', async () => {
    const { url, server } = await answering('203.0.113.7')
    const plan: IngressPlan = { groupId: GROUP, runnerIpUrl: url, port: 2222, region: aws.region }
    const saved: [string, string][] = []
    const report = newReport()
    const deps = {
      ec2: clients().ec2,
      env: { GITHUB_REPOSITORY: 'octo/app', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' },
      log: recordingLogger(),
      state: { save: (name: string, value: string) => void saved.push([name, value]) },
      report
    }
    try {
      const during = throughDoor(plan, deps, async () => {
        expect(aws.securityGroups.ingressRules(GROUP)).toMatchObject([
          { cidrIpv4: '203.0.113.7/32', fromPort: 2222, tags: { [RUN_TAG]: 'octo/app/42/2' } }
        ])
        throw new Error('the restart failed')
      })
      await expect(during).rejects.toThrow('the restart failed')
      expect(aws.securityGroups.ingressRules(GROUP)).toEqual([])
      expect(saved.map(([name]) => name)).toEqual([INGRESS_STATE, INGRESS_STATE])
      expect(JSON.parse(saved[0][1])).toMatchObject({ groupId: GROUP, region: aws.region })
      expect(saved[1][1]).toBe('')
      expect(report.ingress).toMatchObject({ groupId: GROUP, cidr: '203.0.113.7/32', closed: true })
    } finally {
      server.close()
    }
  })
})

describe('the post step', () => {
  const clients = () =>
    Promise.resolve({ ec2: () => Promise.resolve(ec2For(aws)) } as unknown as AwsClients)

  it('does nothing without saved state, and calls no AWS API', async () => {
    const log = recordingLogger()
    await runPost({ env: {}, log, awsClients: clients })
    await runPost({ env: { [`STATE_${INGRESS_STATE}`]: '' }, log, awsClients: clients })
    expect(log.said).toEqual([])
    expect(aws.calls).toEqual([])
  })

  it('removes the rule the main step saved', async () => {
    const ruleId = aws.securityGroups.addIngressRule({
      groupId: GROUP,
      cidr: '203.0.113.7/32',
      port: 22
    })
    const saved = { groupId: GROUP, ruleId, cidr: '203.0.113.7/32', port: 22, region: aws.region }
    const log = recordingLogger()
    await runPost({
      env: { [`STATE_${INGRESS_STATE}`]: JSON.stringify(saved) },
      log,
      awsClients: clients
    })
    expect(aws.securityGroups.ingressRules(GROUP)).toEqual([])
    expect(log.said[0][1]).toContain(
      `Removed the ingress rule ${ruleId} of security group ${GROUP}`
    )
  })

  it('refuses state that is not a rule, removing nothing', async () => {
    const ruleId = aws.securityGroups.addIngressRule({
      groupId: GROUP,
      cidr: '0.0.0.0/0',
      port: 22
    })
    const log = recordingLogger()
    const forged = JSON.stringify({
      groupId: GROUP,
      ruleId: `${ruleId} `,
      cidr: 'x',
      port: 22,
      region: 'r'
    })
    await runPost({ env: { [`STATE_${INGRESS_STATE}`]: forged }, log, awsClients: clients })
    expect(aws.securityGroups.ingressRules(GROUP)).toHaveLength(1)
    expect(log.said[0][0]).toBe('warning')
  })
})
