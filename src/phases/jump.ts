import type { AddressType } from '../ec2/instances.js'
import type { RestartInputs, RestartMode } from './restart.js'
import type { AwsClients } from '../aws/clients.js'
import { ActionError } from '../lib/errors.js'
import type { Logger } from '../lib/log.js'
import { EarlySocket } from '../restart/ssh/connect.js'
import { describeHostKeyMode, type HostKeyCheck } from '../restart/ssh/host-keys.js'
import { JumpHost, parseJumpSpec, type JumpEndpoint, type JumpSpec } from '../restart/ssh/jump.js'
import { checkSshKey, checkUserName, type SshLogin } from '../restart/ssh/validate.js'

/** Inputs ssh-jump*: the bastion the targets are reached through; an empty spec means none. */
export interface JumpInputs {
  /** Input "ssh-jump": `[user@]host[:port]` or an instance id; empty: no bastion. */
  spec: string
  /** Which address of a bastion named by instance id: input "ssh-jump-address-type". */
  addressType: AddressType
  hostFingerprints: string[]
  /** Empty: the key of input "ssh-private-key". */
  privateKey: string
  user: string
}

/** The bastion of the restart, and how the log names it. */
export interface PlannedJump {
  host: JumpHost
  label: string
  /** The bastion's port: the one the runner connects to. */
  port: number
}

// OpenSSH's port: input "ssh-port" is the instances'.
const DEFAULT_JUMP_PORT = 22

/** Inputs ssh-jump* without ssh-jump would be silently unused: refused, as with restart: ssm. */
export function refuseUnusedJump(jump: JumpInputs, restart: RestartMode): void {
  if (jump.spec !== '' && restart === 'ssm') {
    throw new ActionError(
      'Input "ssh-jump" is for restart: ssh; SSM Run Command reaches the instances through the ' +
        'SSM agent, with no bastion. Remove "ssh-jump", or set restart: ssh.'
    )
  }
  const others = [
    jump.hostFingerprints.length > 0 && 'ssh-jump-host-fingerprint',
    jump.privateKey.trim() !== '' && 'ssh-jump-private-key',
    jump.user !== '' && 'ssh-jump-user'
  ].filter(Boolean)
  if (jump.spec === '' && others.length > 0) {
    throw new ActionError(
      `Input "${others[0]}" is for a bastion, but input "ssh-jump" is empty: give the bastion ` +
        `in "ssh-jump", or remove ${others.map(name => `"${name}"`).join(', ')}.`
    )
  }
}

/**
 * Checks the bastion's inputs (before anything is deployed) and makes the JumpHost the SSH
 * transport connects through; undefined without input "ssh-jump". A bastion given by address has
 * its host key pinned, or the check is skipped by choice: it is refused before connecting else.
 */
export async function planJump(
  inputs: Pick<RestartInputs, 'ssh' | 'restart'>,
  target: SshLogin,
  clients: AwsClients,
  log: Logger
): Promise<PlannedJump | undefined> {
  const { jump, insecureSkipHostKeyCheck: skipCheck } = inputs.ssh
  refuseUnusedJump(jump, inputs.restart)
  if (jump.spec === '') return undefined
  const spec = parseJumpSpec(jump.spec, DEFAULT_JUMP_PORT)
  const username = jumpUser(jump, spec, target.username)
  const label = spec.kind === 'instance' ? spec.instanceId : `${spec.host}:${spec.port}`
  if (spec.kind === 'address' && jump.hostFingerprints.length === 0 && !skipCheck) {
    throw new ActionError(
      `Input "ssh-jump" names the bastion by address (${label}), and input ` +
        '"ssh-jump-host-fingerprint" is empty: nothing would tell the bastion from whoever answers ' +
        "there. Pin its host key (ssh-keygen -lf on the bastion's /etc/ssh/ssh_host_ed25519_key.pub), " +
        "or give the bastion's instance id, whose key is read from its console output."
    )
  }
  const earlySocket = spec.kind === 'address' ? new EarlySocket(spec.host, spec.port) : undefined
  try {
    const credentials = await checkSshKey(
      { username, privateKey: jump.privateKey || target.privateKey, passphrase: target.passphrase },
      jump.privateKey ? 'ssh-jump-private-key' : 'ssh-private-key'
    )
    const connectTimeoutMs = inputs.ssh.connectTimeoutSeconds * 1000
    const endpoint = jumpEndpoint(spec, jump, { skipCheck, connectTimeoutMs, clients, log })
    const host = new JumpHost({ credentials, endpoint, connectTimeoutMs, log, earlySocket })
    return { host, label, port: spec.port }
  } catch (error) {
    earlySocket?.discard()
    throw error
  }
}

/** Input "ssh-jump-user", else the user in "ssh-jump", else the instances' user. */
function jumpUser(jump: JumpInputs, spec: JumpSpec, targetUser: string): string {
  if (jump.user && spec.user !== undefined && jump.user !== spec.user) {
    throw new ActionError(
      'Inputs "ssh-jump-user" and "ssh-jump" name two different users for the bastion: give it in one of them.'
    )
  }
  const username = jump.user || spec.user || targetUser
  const source = jump.user
    ? 'input "ssh-jump-user"'
    : spec.user !== undefined
      ? 'the user in input "ssh-jump"'
      : 'the bastion\'s login user (the instances\' user, as input "ssh-jump-user" is empty)'
  checkUserName(username, source)
  return username
}

interface EndpointContext {
  skipCheck: boolean
  connectTimeoutMs: number
  clients: AwsClients
  log: Logger
}

/** Where the bastion is, and its host key check: an instance id is looked up in EC2 first. */
function jumpEndpoint(
  spec: JumpSpec,
  jump: JumpInputs,
  context: EndpointContext
): (sleep: (ms: number) => Promise<void>) => Promise<JumpEndpoint> {
  const { log } = context
  const pinned: HostKeyCheck | undefined =
    jump.hostFingerprints.length > 0
      ? { kind: 'pinned', fingerprints: jump.hostFingerprints }
      : undefined
  if (spec.kind === 'address') {
    const hostKeys: HostKeyCheck = pinned ?? { kind: 'any' }
    return async () => {
      logJumpKey(hostKeys, log, `${spec.host}:${spec.port}`)
      return { host: spec.host, port: spec.port, hostKeys }
    }
  }
  return async sleep => {
    const ec2 = await context.clients.ec2()
    // Loaded here: with them comes the EC2 client, most of the bundle's size.
    const { resolveTargets } = await import('../ec2/instances.js')
    const [found] = await resolveTargets(ec2, [spec.instanceId], jump.addressType)
    if (!found?.address) {
      throw new ActionError(
        `The bastion ${spec.instanceId} (input "ssh-jump") has no ${jump.addressType} address ` +
          '(input "ssh-jump-address-type").'
      )
    }
    let hostKeys: HostKeyCheck | undefined = pinned
    if (!hostKeys) {
      const { hostKeysFromConsole } = await import('../ec2/console-host-keys.js')
      const { instanceId } = spec
      const keys = await hostKeysFromConsole(ec2, instanceId, context.connectTimeoutMs, sleep, log)
      hostKeys = { kind: 'console', instanceId, keys }
    }
    logJumpKey(hostKeys, log, `${spec.instanceId} at ${found.address}:${spec.port}`)
    return { host: found.address, port: spec.port, hostKeys }
  }
}

function logJumpKey(hostKeys: HostKeyCheck, log: Logger, where: string): void {
  const mode = describeHostKeyMode(hostKeys).replace(
    'input "ssh-host-fingerprint"',
    'input "ssh-jump-host-fingerprint"'
  )
  log.info(`Reaching the instances through the bastion ${where}; its ${mode}.`)
  if (hostKeys.kind === 'any') {
    log.warning(
      `Not verifying the bastion's host key (ssh-insecure-skip-host-key-check: true): whoever ` +
        `answers at ${where} sees which instances are reached. Pin it with input "ssh-jump-host-fingerprint".`
    )
  }
}
