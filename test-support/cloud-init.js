// What cloud-init writes to an EC2 instance's console at first boot, around its SSH host keys:
// the text the action reads with GetConsoleOutput to learn a new instance's host key.
import { createHash } from 'node:crypto'

// ssh-keygen -l's names for the key types, and their sizes as it prints them.
const TYPES = {
  'ssh-ed25519': ['256', 'ED25519'],
  'ecdsa-sha2-nistp256': ['256', 'ECDSA'],
  'ecdsa-sha2-nistp384': ['384', 'ECDSA'],
  'ecdsa-sha2-nistp521': ['521', 'ECDSA'],
  'ssh-rsa': ['3072', 'RSA']
}

/**
 * The fingerprint line ssh-keygen -l prints for a `.pub` line, as cloud-init logs it.
 * @param {string} publicKey
 */
function fingerprintLine(publicKey) {
  const [algorithm, blob] = publicKey.split(' ')
  const [bits, type] = TYPES[/** @type {keyof typeof TYPES} */ (algorithm)] ?? ['256', 'ED25519']
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64')
  return `${bits} SHA256:${digest.replace(/=+$/, '')} root@ip-10-0-1-7 (${type})`
}

/**
 * @param {string[]} publicKeys host key `.pub` lines, e.g. "ssh-ed25519 AAAA... root@host"
 * @param {string[]} [fingerprints] `SHA256:...` of ED25519 keys for the fingerprints block; by
 *   default the block lists `publicKeys`, as cloud-init's does
 * @returns {string}
 */
export function cloudInitConsole(publicKeys, fingerprints) {
  const entries = fingerprints
    ? fingerprints.map(fingerprint => `256 ${fingerprint} root@ip-10-0-1-7 (ED25519)`)
    : publicKeys.map(fingerprintLine)
  return [
    "[   12.345678] cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:config'",
    ...(entries.length
      ? [
          'ec2: #############################################################',
          'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
          ...entries.map(entry => `ec2: ${entry}`),
          'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
          'ec2: #############################################################'
        ]
      : []),
    '-----BEGIN SSH HOST KEY KEYS-----',
    ...publicKeys,
    '-----END SSH HOST KEY KEYS-----',
    'Cloud-init v. 22.2.2 finished at Sat, 28 Nov 2026 21:00:00 +0000. Up 25.10 seconds'
  ].join('\n')
}
