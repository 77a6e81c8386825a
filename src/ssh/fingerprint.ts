import { createHash } from 'node:crypto'
import type { ServerHostKeyAlgorithm } from 'ssh2'
import { ActionError } from '../errors.js'

/** A host key fingerprint with the key type `ssh-keygen -l` names in parentheses: ED25519, ... */
export interface TypedFingerprint {
  type: string
  fingerprint: string
}

/** How the host key is checked; `console` keys come from cloud-init's block in the console. */
export type HostKeyCheck =
  | { kind: 'pinned'; fingerprints: string[] }
  | { kind: 'console'; instanceId: string; keys: TypedFingerprint[] }
  | { kind: 'any' }

/** The fingerprint of a raw SSH host key, exactly as `ssh-keygen -lf` prints it. */
export function sshFingerprint(hostKey: Buffer): string {
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`
}

// The key types ssh-keygen names, with the host key algorithms ssh2 may negotiate for each.
const ALGORITHMS_BY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  ED25519: ['ssh-ed25519'],
  ECDSA: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  RSA: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  DSA: ['ssh-dss']
}

/** The key type of a raw host key (its first SSH string), in ssh-keygen's words. */
export function hostKeyType(hostKey: Buffer): string {
  const length = hostKey.length >= 4 ? hostKey.readUInt32BE(0) : 0
  const name = hostKey.subarray(4, 4 + length).toString('latin1')
  if (name === 'ssh-ed25519') return 'ED25519'
  if (name.startsWith('ecdsa-sha2-')) return 'ECDSA'
  if (name === 'ssh-rsa') return 'RSA'
  if (name === 'ssh-dss') return 'DSA'
  return name
}

/** Whether the key the server presented passes the check. */
export function hostKeyAccepted(check: HostKeyCheck, hostKey: Buffer): boolean {
  const fingerprint = sshFingerprint(hostKey)
  switch (check.kind) {
    case 'any':
      return true
    case 'pinned':
      return check.fingerprints.some(pinned => pinned.trim().replace(/=+$/, '') === fingerprint)
    case 'console': {
      const type = hostKeyType(hostKey)
      return check.keys.some(key => key.fingerprint === fingerprint && key.type === type)
    }
  }
}

/**
 * The host key algorithms to offer, so that the server presents a key of a type the console
 * listed (a server with several keys would otherwise pick one the check does not know).
 */
export function hostKeyAlgorithms(check: HostKeyCheck): ServerHostKeyAlgorithm[] | undefined {
  if (check.kind !== 'console') return undefined
  const algorithms = check.keys.flatMap(key => ALGORITHMS_BY_TYPE[key.type] ?? [])
  return algorithms.length > 0 ? [...new Set(algorithms)] : undefined
}

/** The log line that says which host key check is in force. */
export function describeHostKeyMode(check: HostKeyCheck): string {
  switch (check.kind) {
    case 'pinned':
      return 'host key: pinned (input "ssh-host-fingerprint")'
    case 'console':
      return `host key: from the console output of ${check.instanceId}`
    case 'any':
      return 'host key: not verified (input "ssh-insecure-skip-host-key-check")'
  }
}

const BEGIN = '-----BEGIN SSH HOST KEY FINGERPRINTS-----'
const END = '-----END SSH HOST KEY FINGERPRINTS-----'
// cloud-init's write-ssh-key-fingerprints logs each line with the tag "ec2:".
const CLOUD_INIT_PREFIX = 'ec2: '
// "ec2: 256 SHA256:... root@ip-10-0-1-7 (ED25519)", as ssh-keygen -l prints it.
const CLOUD_INIT_ENTRY = /^\d+ (SHA256:[A-Za-z0-9+/]{43}) .*\(([A-Z0-9]+)\)$/

/**
 * The host keys in cloud-init's fingerprints block of an instance's console output; empty while
 * cloud-init has not printed it yet. Anything on the instance can print to the console (user
 * data, the app's install logs), so a block is trusted only when it is cloud-init's (every line
 * tagged `ec2:`) and the only one: a second, different block or an untagged one is refused.
 */
export function hostKeysFromConsoleOutput(output: string, instanceId: string): TypedFingerprint[] {
  const lines = output.split(/\r?\n|\r/)
  const blocks = new Map<string, TypedFingerprint[]>()
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].includes(BEGIN)) continue
    const end = lines.findIndex((line, j) => j > i && line.includes(END))
    if (end < 0) break // still being printed
    const block = lines.slice(i, end + 1)
    if (!block.every(line => line.startsWith(CLOUD_INIT_PREFIX))) {
      throw consoleRefused(instanceId, 'a host key block that cloud-init did not print')
    }
    const keys = block
      .slice(1, -1)
      .map(line => CLOUD_INIT_ENTRY.exec(line.slice(CLOUD_INIT_PREFIX.length).trim()))
      .filter(match => match !== null)
      .map(match => ({ fingerprint: match[1], type: match[2] }))
    const identity = keys
      .map(key => `${key.type} ${key.fingerprint}`)
      .sort()
      .join('\n')
    blocks.set(identity, keys)
    i = end
  }
  if (blocks.size > 1) {
    throw consoleRefused(instanceId, `${blocks.size} different host key blocks`)
  }
  return [...blocks.values()][0] ?? []
}

function consoleRefused(instanceId: string, what: string): ActionError {
  return new ActionError(
    `The console output of instance ${instanceId} holds ${what}, so it cannot tell which host key ` +
      "is the instance's: anything running on the instance can print there. Pin the host key with " +
      'input "ssh-host-fingerprint" (run "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" on ' +
      'the instance, or read it from a console output you trust).'
  )
}
