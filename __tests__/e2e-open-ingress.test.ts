// open-ingress through the bundle as the runner runs it: the security group's rule on the local
// endpoint, the runner's address from a local "what is my address" server on 127.0.0.1 (input
// "runner-ip-url"), the restart on OpenSSH's sshd. The rule must exist while the restart runs and
// be gone however the step ends; a step killed outright leaves it to the post step (dist/post.js),
// which gets the main step's state as the runner passes it: STATE_<name> variables.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { CREATED_TAG, RUN_TAG } from '../src/ec2/ingress.js'
import { startSshd, type SshdFixture } from '../test-support/sshd.js'
import { EXAMPLE_APP, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { repoRoot, runBundle, type BundleRun } from './helpers/run-bundle.js'

const GROUP = 'sg-0fee1dead0000000a'
const RUNNER = '203.0.113.7'
const HOUR = 3600 * 1000

let sshd: SshdFixture
let aws: LocalAws
let checkip: Server
let checkipUrl: string

beforeAll(async () => {
  sshd = await startSshd()
  // As checkip.amazonaws.com answers: the address and a line break.
  checkip = createServer((_, res) => res.writeHead(200).end(`${RUNNER}\n`))
  await new Promise<void>(resolve => checkip.listen(0, '127.0.0.1', resolve))
  checkipUrl = `http://127.0.0.1:${(checkip.address() as AddressInfo).port}/`
}, 60_000)
afterAll(async () => {
  checkip.close()
  await sshd.stop()
})

beforeEach(async () => {
  await sshd.clearCalls()
  await sshd.setBehaviour({})
  aws = await startLocalAws()
  aws.securityGroups.addGroup(GROUP)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.putSecret('FastAPIDeploymentSecrets', { ec2_host: '127.0.0.1', ec2_user: sshd.user })
})
afterEach(() => aws.stop())

function doorInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'false',
    'mask-exclude': 'ec2_host, ec2_user',
    restart: 'ssh',
    'ssh-private-key': sshd.clientPrivateKey,
    'ssh-port': String(sshd.port),
    'ssh-host-fingerprint': sshd.hostFingerprint,
    'open-ingress': GROUP,
    'runner-ip-url': checkipUrl,
    ...extra
  }
}

const environment = () => ({
  ...aws.environment(),
  GITHUB_REPOSITORY: 'octo/app',
  GITHUB_RUN_ID: '4242',
  GITHUB_RUN_ATTEMPT: '1'
})

const rules = () => aws.securityGroups.ingressRules(GROUP)
const errors = (run: BundleRun) => run.commands.filter(c => c.name === 'error').map(c => c.data)

/** The rules as they were when the instance printed `marker` (during the restart). */
function rulesWhen(marker: string): { seen?: ReturnType<typeof rules> } & {
  onLogLine: (line: string) => void
} {
  const watch: { seen?: ReturnType<typeof rules>; onLogLine: (line: string) => void } = {
    onLogLine: line => {
      if (watch.seen === undefined && line.includes(marker)) watch.seen = rules()
    }
  }
  return watch
}

const runPost = (env: Record<string, string>) =>
  runBundle({}, env, { entry: join(repoRoot, 'dist/post.js') })

describe('open-ingress, end to end', () => {
  it('holds a rule for the runner alone while restarting, and removes it after success', async () => {
    await sshd.setBehaviour({ restartStderr: 'restarting now' })
    const watch = rulesWhen('restarting now')
    const run = await runBundle(doorInputs(), environment(), { onLogLine: watch.onLogLine })
    expect(errors(run)).toEqual([])
    expect(run.code).toBe(0)
    expect(watch.seen).toMatchObject([
      {
        cidrIpv4: `${RUNNER}/32`,
        ipProtocol: 'tcp',
        fromPort: sshd.port,
        toPort: sshd.port,
        tags: { [RUN_TAG]: 'octo/app/4242/1' }
      }
    ])
    const ruleId = watch.seen?.[0].ruleId ?? ''
    expect(rules()).toEqual([])
    expect(aws.callsOf('RevokeSecurityGroupIngress')[0].params).toMatchObject({
      GroupId: GROUP,
      'SecurityGroupRuleId.1': ruleId
    })
    // The state the post step would get is cleared: the post step has nothing to do.
    expect(run.state.open_ingress).toBe('')
    expect(run.summary).toContain(
      `Opened security group <code>${GROUP}</code> to <code>${RUNNER}/32</code> on TCP port ${sshd.port} for this run (rule <code>${ruleId}</code>): closed again`
    )
    const post = await runPost({ ...environment(), STATE_open_ingress: run.state.open_ingress })
    expect(post.code).toBe(0)
    expect(post.stdout).toBe('')
  }, 60_000)

  it('removes the rule after a failed restart', async () => {
    await sshd.setBehaviour({
      restartExitCode: 1,
      restartStderr: 'Job for fastapi.service failed.'
    })
    const watch = rulesWhen('Job for fastapi.service failed.')
    const run = await runBundle(doorInputs(), environment(), { onLogLine: watch.onLogLine })
    expect(run.code).toBe(1)
    expect(watch.seen).toHaveLength(1)
    expect(rules()).toEqual([])
    expect(errors(run)[0]).toContain('Restarting service "fastapi"')
  }, 60_000)

  it('removes the rule when cancelled during the restart, SIGINT then SIGTERM', async () => {
    await sshd.setBehaviour({ hangOn: 'restart' })
    let seen: ReturnType<typeof rules> | undefined
    let runner: { kill: (signal: NodeJS.Signals) => void } | undefined
    // The runner's second signal arrives while the rule is being removed: the removal goes on.
    aws.before('RevokeSecurityGroupIngress', async () => {
      runner?.kill('SIGTERM')
      await new Promise(resolve => setTimeout(resolve, 300))
    })
    const run = await runBundle(doorInputs({ 'ssh-command-timeout': '60' }), environment(), {
      onStart: started => (runner = started),
      onLogLine: line => {
        if (seen !== undefined || !line.includes('hanging')) return
        seen = rules()
        runner?.kill('SIGINT')
      }
    })
    expect(run.signalsSent).toEqual(['SIGINT', 'SIGTERM'])
    expect(run.visibleLog).toContain('Received SIGTERM again: still stopping.')
    expect(run.code).toBe(1)
    expect(seen).toHaveLength(1)
    expect(rules()).toEqual([])
    expect(errors(run)[0]).toContain('The run was cancelled (SIGINT) during the SSH restart')
  }, 60_000)

  it('leaves a rule of a killed main step to the post step, which removes it', async () => {
    await sshd.setBehaviour({ hangOn: 'restart' })
    let runner: { kill: (signal: NodeJS.Signals) => void } | undefined
    const run = await runBundle(doorInputs({ 'ssh-command-timeout': '60' }), environment(), {
      onStart: started => (runner = started),
      onLogLine: line => {
        if (line.includes('hanging')) runner?.kill('SIGKILL')
      }
    })
    expect(run.signalsSent).toEqual(['SIGKILL'])
    const [left] = rules()
    expect(left).toBeDefined()
    expect(JSON.parse(run.state.open_ingress)).toEqual({
      groupId: GROUP,
      ruleId: left.ruleId,
      cidr: `${RUNNER}/32`,
      port: sshd.port,
      region: aws.region
    })
    const post = await runPost({ ...environment(), STATE_open_ingress: run.state.open_ingress })
    expect(post.code).toBe(0)
    expect(rules()).toEqual([])
    expect(post.visibleLog).toContain(
      `Removed the ingress rule ${left.ruleId} of security group ${GROUP} (${RUNNER}/32 on TCP port ${sshd.port}) that the main step left open.`
    )
  }, 60_000)

  it('the post step of a run that saved nothing does nothing', async () => {
    const post = await runPost(environment())
    expect(post.code).toBe(0)
    expect(post.stdout).toBe('')
    expect(aws.calls).toEqual([])
  }, 30_000)

  it("removes this action's rules older than 6 hours first, and leaves a concurrent run's", async () => {
    const tags = (hoursAgo: number, run: string) => ({
      [RUN_TAG]: run,
      [CREATED_TAG]: new Date(Date.now() - hoursAgo * HOUR).toISOString()
    })
    const stale = aws.securityGroups.addIngressRule({
      groupId: GROUP,
      cidr: '198.51.100.1/32',
      port: sshd.port,
      tags: tags(7, 'octo/app/4000/1')
    })
    const concurrent = aws.securityGroups.addIngressRule({
      groupId: GROUP,
      cidr: '198.51.100.2/32',
      port: sshd.port,
      tags: tags(0.5, 'octo/app/4241/1')
    })
    const run = await runBundle(doorInputs(), environment())
    expect(errors(run)).toEqual([])
    expect(rules().map(rule => rule.ruleId)).toEqual([concurrent])
    const revoked = aws
      .callsOf('RevokeSecurityGroupIngress')
      .map(c => c.params['SecurityGroupRuleId.1'])
    expect(revoked[0]).toBe(stale)
    expect(revoked).not.toContain(concurrent)
  }, 60_000)

  it('fails with the IAM action named when the credentials may not change the group, restarting nothing', async () => {
    aws.deny('AuthorizeSecurityGroupIngress')
    const run = await runBundle(doorInputs(), environment())
    expect(run.code).toBe(1)
    const [error, ...more] = errors(run)
    expect(more).toEqual([])
    expect(error).toContain(
      `Access denied: ec2:AuthorizeSecurityGroupIngress on security group ${GROUP} (input "open-ingress"). ` +
        `Allow "ec2:AuthorizeSecurityGroupIngress" on "arn:aws:ec2:*:*:security-group/${GROUP}"`
    )
    expect(sshd.calls()).toEqual([])
    expect(rules()).toEqual([])
  }, 60_000)

  it('refuses a runner-ip-url answer that is not one public address, before opening anything', async () => {
    const lying = createServer((_, res) => res.writeHead(200).end('0.0.0.0/0\n'))
    await new Promise<void>(resolve => lying.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(lying.address() as AddressInfo).port}/`
      const run = await runBundle(doorInputs({ 'runner-ip-url': url }), environment())
      expect(run.code).toBe(1)
      expect(errors(run)[0]).toContain('answered "0.0.0.0/0", which is a network in CIDR notation')
      expect(aws.callsOf('AuthorizeSecurityGroupIngress')).toEqual([])
      expect(sshd.calls()).toEqual([])
    } finally {
      lying.close()
    }
  }, 60_000)

  it.each([
    [
      { 'open-ingress': 'sg-nothex' },
      'Input "open-ingress" is "sg-nothex", which is not a security group id'
    ],
    [
      { 'runner-ip-url': 'http://checkip.example.com/' },
      'Input "runner-ip-url" is "http://checkip.example.com/"'
    ],
    [{ restart: 'ssm' }, 'Input "open-ingress" is for restart: ssh']
  ])(
    'refuses %j before anything changes',
    async (extra, message) => {
      const run = await runBundle(doorInputs(extra), environment())
      expect(run.code).toBe(1)
      expect(errors(run)).toEqual([expect.stringContaining(message)])
      expect(aws.callsOf('AuthorizeSecurityGroupIngress')).toEqual([])
    },
    30_000
  )
})
