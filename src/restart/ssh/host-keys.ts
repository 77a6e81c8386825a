import { createHash } from 'node:crypto'
import type { ServerHostKeyAlgorithm } from 'ssh2'
import type { TypedFingerprint } from '../../ec2/console-block.js'

export type { TypedFingerprint }

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
