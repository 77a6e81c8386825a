// The README's examples and those of the pages in docs/, run: every step of their YAML blocks that uses this action runs through the
// bundle as the runner runs it, with the step's own `with:` inputs, against the stand-ins (the
// local AWS endpoint seeded with the example secrets, the CDK stand-in, OpenSSH's sshd, SSM Run
// Command on the endpoint). What the stand-ins stand in for is replaced, and only that: the
// `${{ ... }}` expressions, the CDK app's directory and command, the SSH port, the runner's address
// service for open-ingress, and for a release the checkout (a small git repository), app-dir (a
// temporary directory) and the service that health-url reaches (a server here). So the README
// cannot show inputs that do not work.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { cloudInitConsole } from '../test-support/cloud-init.js'
import { sshServerChoice, startSshd, type SshdFixture } from '../test-support/sshd.js'
import { createCdkApp } from './helpers/cdk-app.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { repoRoot, runBundle, type BundleRun } from './helpers/run-bundle.js'

const ACTION = /^<owner>\/secrets-deploy-action@/

interface Example {
  /** The README section the block is in, and which step of the section it is. */
  name: string
  with: Record<string, unknown>
}

/** The ```yaml blocks of the README, each with the heading it is under. */
function yamlBlocks(readme: string): { heading: string; text: string }[] {
  const blocks: { heading: string; text: string }[] = []
  let heading = ''
  let block: string[] | undefined
  for (const line of readme.split('\n')) {
    if (block) {
      if (line.startsWith('```')) {
        blocks.push({ heading, text: block.join('\n') })
        block = undefined
      } else block.push(line)
    } else if (line.startsWith('```yaml')) block = []
    else if (/^#{1,3} /.test(line)) heading = line.replace(/^#+ /, '')
  }
  return blocks
}

/** Every mapping with `uses: <owner>/secrets-deploy-action@...` in a parsed block. */
function actionSteps(node: unknown): Record<string, unknown>[] {
  if (Array.isArray(node)) return node.flatMap(actionSteps)
  if (typeof node !== 'object' || node === null) return []
  const map = node as Record<string, unknown>
  if (typeof map.uses === 'string' && ACTION.test(map.uses)) return [map]
  return Object.values(map).flatMap(actionSteps)
}

const pages = [
  'README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter(name => name.endsWith('.md'))
    .map(name => `docs/${name}`)
]
const blocks = pages.flatMap(page => yamlBlocks(readFileSync(join(repoRoot, page), 'utf8')))
const examples: Example[] = []
for (const { heading, text } of blocks) {
  for (const step of parseAllDocuments(text).flatMap(doc => actionSteps(doc.toJS()))) {
    const number = examples.filter(example => example.name.startsWith(`${heading}, `)).length + 1
    examples.push({
      name: `${heading}, step ${number}`,
      with: (step.with ?? {}) as Record<string, unknown>
    })
  }
}

// Examples that cannot run here, each with the reason. A test checks that each still exists.
const NOT_RUN: Record<string, string> = {
  'Versions, step 1': 'shows only the form of "uses:" (a tag), with no inputs',
  'Versions, step 2': 'shows only the form of "uses:" (a commit), with no inputs',
  // The in-process SSH server (where OpenSSH's sshd is missing) opens no direct-tcpip channels.
  ...(sshServerChoice().server === 'openssh'
    ? {}
    : { 'Through a bastion, step 1': 'a bastion needs OpenSSH sshd, which this machine lacks' })
}

// The stand-ins' side of the examples.
const QUICK_STACK = 'FastAPIEC2Stack-Staging'
const QUICK_INSTANCE = 'i-0abc1234def567890'
const FLEET_STACK = 'FastAPIFleetStack'
const FLEET = ['i-0f1ee70000000001', 'i-0f1ee70000000002']
const RELEASE_INSTANCE = 'i-0fa57a9100000001'
const EXAMPLE_TARGET_GROUP =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/fastapi-web/73e2d6bc24d8a067'

let sshd: SshdFixture
let aws: LocalAws
/** For a release: the checkout, the instance's app-dir, the service's health endpoint. */
let checkout: string
let appDirs: string
let health: Server
// Stands in for checkip.amazonaws.com (input "runner-ip-url" of open-ingress): the runner's
// address, as that service answers it, with a line break.
let checkip: Server
let checkipUrl: string

beforeAll(async () => {
  sshd = await startSshd()
  checkip = createServer((_, res) => res.writeHead(200).end('203.0.113.7\n'))
  await new Promise<void>(resolve => checkip.listen(0, '127.0.0.1', resolve))
  checkipUrl = `http://127.0.0.1:${(checkip.address() as AddressInfo).port}/`
  checkout = mkdtempSync(join(tmpdir(), 'sda-readme-checkout-'))
  appDirs = mkdtempSync(join(tmpdir(), 'sda-readme-app-'))
  writeFileSync(join(checkout, 'main.py'), 'app = None\n')
  // No requirement: pip installs nothing, and reaches no index.
  writeFileSync(join(checkout, 'requirements.txt'), '')
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: checkout
    })
  git('init', '-q')
  git('add', '.')
  git('commit', '-q', '-m', 'the app')
  health = createServer((_request, response) => response.end('ok'))
  await new Promise<void>(resolve => health.listen(0, '127.0.0.1', resolve))
})
afterAll(async () => {
  checkip.close()
  await sshd.stop()
  await new Promise(resolve => health.close(resolve))
  rmSync(checkout, { recursive: true, force: true })
  rmSync(appDirs, { recursive: true, force: true })
})

beforeEach(async () => {
  await sshd.clearCalls()
  aws = await startLocalAws()
  aws.putSecret('FastAPIDeploymentSecrets', {
    ...EXAMPLE_DEPLOYMENT,
    ec2_user: sshd.user,
    ec2_host: '127.0.0.1'
  })
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  aws.addInstance({
    instanceId: QUICK_INSTANCE,
    publicIp: '127.0.0.1',
    consoleOutput: cloudInitConsole([sshd.hostPublicKey])
  })
  FLEET.forEach((instanceId, i) => {
    aws.addInstance({
      instanceId,
      publicIp: `203.0.113.${i + 1}`,
      tags: { 'aws:cloudformation:stack-name': FLEET_STACK, role: 'web' }
    })
    aws.ssm.addAgent(instanceId)
  })
  // The release over SSM: one instance of that tag, and the bucket its archive goes through.
  aws.addInstance({
    instanceId: RELEASE_INSTANCE,
    publicIp: '203.0.113.9',
    tags: { app: 'fastapi' }
  })
  aws.ssm.addAgent(RELEASE_INSTANCE)
  aws.s3.addBucket('fastapi-releases')
  // The target group of the load balancer example, in front of the fleet.
  aws.targetGroups.addGroup({ arn: EXAMPLE_TARGET_GROUP, targets: FLEET })
  // The security group of the open-ingress example.
  aws.securityGroups.addGroup('sg-0123456789abcdef0')
  // The parameters of the config-path example's table.
  aws.parameters.put('/fastapi/staging/log_level', 'info')
  aws.parameters.put('/fastapi/staging/db/host', 'db.internal.example')
  aws.parameters.put('/fastapi/staging/api/stripe/key', 'sk_live_stand_in_key', 'SecureString')
})
afterEach(() => aws.stop())

/** The example's inputs as the runner would give them, with the stand-ins in place. */
function inputsFor(example: Example): Record<string, string> {
  const expressions: Record<string, string> = {
    'secrets.EC2_SSH_KEY': sshd.clientPrivateKey,
    'vars.EC2_HOST_FINGERPRINT': sshd.hostFingerprint,
    // The one sshd is the bastion too: it forwards the channel to itself.
    'vars.BASTION': `${sshd.user}@127.0.0.1:${sshd.port}`,
    'vars.BASTION_HOST_FINGERPRINT': sshd.hostFingerprint
  }
  const inputs: Record<string, string> = {}
  for (const [name, value] of Object.entries(example.with)) {
    // The runner gives every input as a string: false -> "false", 0 -> "0".
    inputs[name] = String(value).replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
      const given = expressions[expression]
      if (given === undefined)
        throw new Error(`${example.name}: the test has no value for \${{ ${expression} }}`)
      return given
    })
  }
  if (inputs.deploy !== 'false') {
    const app = createCdkApp({
      stacks: {
        [QUICK_STACK]: { outputs: { InstanceId: QUICK_INSTANCE, PublicIp: '127.0.0.1' } },
        // No output names an instance: the action finds them by the stack's tag.
        [FLEET_STACK]: { outputs: {} }
      }
    })
    inputs['working-directory'] = app.dir
    inputs['cdk-command'] = app.command
  }
  if ((inputs.restart ?? 'ssh') === 'ssh') inputs['ssh-port'] = String(sshd.port)
  if (inputs['open-ingress']) inputs['runner-ip-url'] = checkipUrl
  if (inputs['release-path'] !== undefined) {
    const appDir = join(mkdtempSync(join(appDirs, 'instance-')), 'opt-fastapi')
    mkdirSync(appDir)
    inputs['app-dir'] = appDir
    if (inputs['health-url'] !== undefined)
      inputs['health-url'] = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`
  }
  return inputs
}

/** The outputs GitHub would drop between jobs: those that contain a masked value. */
function droppedBetweenJobs(run: BundleRun): string[] {
  return Object.entries(run.outputs)
    .filter(([, value]) => run.masks.some(mask => value.includes(mask)))
    .map(([name]) => name)
}

describe("the README's examples", () => {
  it('are found: the quick start and the others', () => {
    expect(examples.map(e => e.name)).toEqual(
      expect.arrayContaining([
        'Quick start, step 1',
        'Quick start, step 2',
        'Quick start, step 3',
        'Fleets: restart: ssm, step 1',
        'Fleets: restart: ssm, step 2',
        'The weekly rotation, step 1',
        ...Object.keys(NOT_RUN)
      ])
    )
    expect(examples.length).toBeGreaterThanOrEqual(5)
  })

  it('parse as YAML, every block', () => {
    for (const { heading, text } of blocks) {
      for (const doc of parseAllDocuments(text))
        expect({ heading, errors: doc.errors.map(e => e.message) }).toEqual({ heading, errors: [] })
    }
  })

  const run = examples.filter(example => !(example.name in NOT_RUN))
  it.each(run.map(example => [example.name, example] as const))(
    '%s exits 0',
    async (_, example) => {
      const result = await runBundle(inputsFor(example), {
        ...aws.environment(),
        GITHUB_WORKSPACE: checkout
      })
      expect(result.visibleLog).not.toContain('::error::')
      expect(result.code).toBe(0)
      if (example.name === 'Quick start, step 1') {
        expect(result.outputs).toMatchObject({
          restarted: 'true',
          'stack-changed': 'true',
          'instance-ip': '127.0.0.1',
          ec2_host: '127.0.0.1'
        })
        // The quick start's mask-exclude keeps the address readable, and in every output that
        // holds it: GitHub would pass each of them to another job.
        const addressOutputs = ['ec2_host', 'instance-ip', 'instance-ips', 'stack-outputs']
        expect(droppedBetweenJobs(result).filter(name => addressOutputs.includes(name))).toEqual([])
        expect(result.visibleLog).toContain(`at 127.0.0.1`)
      }
      if (example.with['open-ingress']) {
        // The door was opened for the stand-in's address, and closed again.
        expect(aws.callsOf('AuthorizeSecurityGroupIngress')).toHaveLength(1)
        expect(aws.securityGroups.ingressRules('sg-0123456789abcdef0')).toEqual([])
      }
      if (example.name === 'Quick start, step 3') {
        // A restart alone, on the address the secret holds.
        expect(result.outputs).toMatchObject({ restarted: 'true', 'instance-ip': '127.0.0.1' })
        expect(sshd.calls()).toContainEqual(['systemctl', 'is-active', '--', 'fastapi'])
      }
      if (example.name === 'The weekly rotation, step 1') {
        // New values, loaded by the restart; the old ones stay readable as AWSPREVIOUS.
        expect(result.outputs).toMatchObject({
          rotated: '["jwt_secret","generated_password"]',
          restarted: 'true'
        })
        expect(aws.secretValue('FastAPIAppSecrets', 'AWSPREVIOUS').json).toEqual(EXAMPLE_APP)
        expect(aws.secretValue('FastAPIAppSecrets').json.jwt_secret).not.toBe(
          EXAMPLE_APP.jwt_secret
        )
      }
      if (example.name === 'Quick start, step 2') {
        // Only secrets: exported, and the app secret left alone.
        expect(result.exportedEnv).toMatchObject({ EC2_KEY_NAME: EXAMPLE_DEPLOYMENT.ec2_key_name })
        const read = aws.callsOf('GetSecretValue').map(call => call.params.SecretId)
        expect(read).toEqual(['FastAPIDeploymentSecrets'])
      }
    }
  )
})
