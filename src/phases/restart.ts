import type { AwsClients } from '../aws/clients.js'
import type { Rate } from '../restart/rate.js'
import type { AddressType } from '../ec2/instances.js'
import type { JumpInputs } from './jump.js'
import { sshTransport } from '../restart/ssh/transport.js'
import type { JsonSecret } from '../secrets/read.js'
import { EarlySocket } from '../restart/ssh/connect.js'
import type { JumpHost } from '../restart/ssh/jump.js'
import { actionState, quoteUntrusted, type Logger } from '../lib/log.js'
import { ActionError } from '../lib/errors.js'
import { TARGET_GROUP_ARN } from '../lib/aws-ids.js'
import type { TrafficSettings } from '../restart/traffic-gate.js'
import { planJump, refuseUnusedJump, type PlannedJump } from './jump.js'
import {
  checkSshKey,
  checkSshNames,
  type SshCredentials,
  type SshLogin
} from '../restart/ssh/validate.js'
import { ssmTransport } from '../restart/ssm/transport.js'
import { hostKeyPolicy } from '../restart/host-key-policy.js'
import { checkServiceName, restartScript } from '../restart/script.js'
import type { RestartSettings, RestartTransport } from '../restart/transport.js'
import { sshReleases } from '../restart/ssh/release.js'
import type { HealthSettings, ReleaseSettings } from '../release/settings.js'

export type RestartMode = 'ssh' | 'ssm' | 'none'

/** Run Command's rate control, in SSM's own syntax: a count, or a percentage of the fleet. */
export interface SsmInputs {
  maxConcurrency: Rate
  maxErrors: Rate
  timeoutSeconds: number
}

export interface SshInputs {
  privateKey: string
  passphrase: string
  user: string
  port: number
  hostFingerprints: string[]
  insecureSkipHostKeyCheck: boolean
  connectTimeoutSeconds: number
  commandTimeoutSeconds: number
  healthCommand: string
  jump: JumpInputs
}

/** Input "target-group-arn" and its waits, as read (traffic-gate.ts has the rest). */
export interface TrafficInputs {
  /** ARNs, or from-stack: the stack's outputs with "TargetGroupArn" in their key (main.ts). */
  groupArns: string[] | 'from-stack'
  drainTimeoutSeconds?: number
  healthyTimeoutSeconds: number
  minHealthy: number
}

/** What the restart phase reads of the inputs. */
export interface RestartInputs {
  restart: RestartMode
  service: string
  hostKey: string
  userKey: string
  addressType: AddressType
  ssh: SshInputs
  ssm: SsmInputs
  /** Input "open-ingress": no connection opens before the door does. */
  ingress: { groupId: string }
  /** Input "release-path" and the rest of a release; undefined: no release. */
  release?: ReleaseSettings
  /** Inputs "health-url" and "health-timeout". */
  health: HealthSettings
  /** Input "failure-logs": a failed restart shows the unit's status and journal. */
  failureLogs: boolean
  /** Input "target-group-arn"; undefined: no load balancer. */
  traffic?: TrafficInputs
}

/** The restart phase, worked out and checked before anything is deployed or written. */
export interface RestartPlan {
  /** As a stopped run's message names the phase: "the SSH restart". */
  phase: string
  settings: RestartSettings
  /** Holds the settings it alone uses (the SSH login reaches the SSH transport only). */
  transport: RestartTransport
  /** The connection to the secret's address, opened while the SSH login is checked. */
  earlySocket?: EarlySocket
  /** The bastion (input "ssh-jump"): closed once the restart is over. */
  jump?: JumpHost
  /** Over SSH, the port the runner connects to: input "ssh-port", or the bastion's. */
  runnerPort?: number
}

/**
 * Checks what the restart needs (the unit name, and over SSH the login) and builds its script,
 * once. `restartAddress` is the address the secret holds, when the restart goes there.
 */
export async function planRestart(
  inputs: RestartInputs,
  deployment: JsonSecret,
  restartAddress: string | undefined,
  clients: AwsClients,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env
): Promise<RestartPlan | undefined> {
  if (inputs.restart === 'none') return undefined
  const { ssh, ssm, addressType } = inputs
  const settings: RestartSettings = {
    script: restartScript(
      checkServiceName(inputs.service),
      ssh.healthCommand,
      inputs.health,
      inputs.failureLogs
    ),
    maxConcurrency: ssm.maxConcurrency,
    maxErrors: ssm.maxErrors,
    // Loaded only for a release: with it comes the tar library.
    release:
      inputs.release && (await (await import('./release.js')).planRelease(inputs.release, env)),
    traffic: planTraffic(inputs.traffic, clients)
  }
  if (inputs.restart === 'ssm') {
    refuseUnusedJump(ssh.jump, inputs.restart)
    const transport = ssmTransport(
      { timeoutSeconds: ssm.timeoutSeconds, addressType, hostKey: inputs.hostKey },
      clients,
      settings.release,
      log
    )
    return { phase: 'the SSM restart', settings, transport }
  }
  const login = sshLogin(inputs, deployment)
  const jump = await planJump(inputs, login, clients, log)
  // The server takes a while to answer a connection (sshd forks and loads its keys; over a real
  // network, a round trip): open it now, while the SSH library loads and the key is parsed.
  // Through a bastion, only the bastion is connected to from here; with input "open-ingress",
  // nothing before the door is open.
  const early = restartAddress !== undefined && !jump && inputs.ingress.groupId === ''
  const earlySocket = early ? new EarlySocket(restartAddress, ssh.port) : undefined
  try {
    const credentials = await checkSshKey(login)
    const transport = sshRestartTransport(inputs, credentials, jump, clients, settings)
    const runnerPort = jump?.port ?? ssh.port
    return {
      phase: 'the SSH restart',
      settings,
      transport,
      earlySocket,
      jump: jump?.host,
      runnerPort
    }
  } catch (error) {
    earlySocket?.discard()
    jump?.host.close()
    throw error
  }
}

/**
 * The gate's settings; from-stack's ARNs are known once the stack is deployed (main.ts fills
 * them with trafficFromStack), and the post step's state is the action's.
 */
function planTraffic(
  traffic: TrafficInputs | undefined,
  clients: AwsClients
): TrafficSettings | undefined {
  if (!traffic) return undefined
  return {
    ...traffic,
    groupArns: traffic.groupArns === 'from-stack' ? [] : traffic.groupArns,
    elbv2: clients.elbv2,
    ec2: clients.ec2,
    state: actionState
  }
}

/**
 * Input "target-group-arn: from-stack": every output of the deployed stack whose key contains
 * "TargetGroupArn"; the settings as they were otherwise.
 */
export function trafficFromStack(
  settings: RestartSettings,
  inputs: Pick<RestartInputs, 'traffic'>,
  stackOutputs: Record<string, string> | undefined
): RestartSettings {
  if (!settings.traffic || inputs.traffic?.groupArns !== 'from-stack') return settings
  const entries = Object.entries(stackOutputs ?? {}).filter(([key]) =>
    key.includes('TargetGroupArn')
  )
  const bad = entries.find(([, arn]) => !TARGET_GROUP_ARN.test(arn))
  if (entries.length === 0 || bad) {
    throw new ActionError(
      bad
        ? `Stack output "${quoteUntrusted(bad[0], 200)}" is "${quoteUntrusted(bad[1], 300)}", not a target group ARN (input "target-group-arn: from-stack").`
        : 'Input "target-group-arn" is from-stack, and the stack has no output whose key contains "TargetGroupArn": add a CfnOutput of the target group\'s ARN, or give the ARNs.'
    )
  }
  return {
    ...settings,
    traffic: { ...settings.traffic, groupArns: [...new Set(entries.map(([, arn]) => arn))] }
  }
}

/** The instances' login: input "ssh-user", else the secret's user key; the names checked. */
function sshLogin(inputs: RestartInputs, deployment: JsonSecret): SshLogin {
  const { ssh } = inputs
  const user = ssh.user || deployment.values[inputs.userKey] || ''
  const userSource = ssh.user
    ? 'input "ssh-user"'
    : `key "${inputs.userKey}" of the deployment secret "${deployment.id}" (input "user-key", used when input "ssh-user" is empty)`
  const login = { username: user, privateKey: ssh.privateKey, passphrase: ssh.passphrase }
  checkSshNames(login, userSource)
  return login
}

/** The SSH transport, with the host key policy of the instances and the bastion, if any. */
function sshRestartTransport(
  inputs: RestartInputs,
  credentials: SshCredentials,
  jump: PlannedJump | undefined,
  clients: AwsClients,
  settings: RestartSettings
): RestartTransport {
  const { ssh, addressType } = inputs
  const connectTimeoutMs = ssh.connectTimeoutSeconds * 1000
  const hostKeys = hostKeyPolicy(
    {
      fingerprints: ssh.hostFingerprints,
      skipCheck: ssh.insecureSkipHostKeyCheck,
      consoleTimeoutMs: connectTimeoutMs,
      addressType
    },
    clients.ec2
  )
  const sshSettings = {
    credentials,
    port: ssh.port,
    connectTimeoutMs,
    commandTimeoutMs: ssh.commandTimeoutSeconds * 1000,
    addressType,
    jump
  }
  return {
    ...sshTransport(sshSettings, hostKeys),
    ...(settings.release ? { releases: sshReleases(sshSettings, hostKeys) } : {})
  }
}
