// What cloud-init writes to an EC2 instance's console at first boot, around its SSH host keys:
// the text the action reads with GetConsoleOutput to learn a new instance's host key.
//
// The fingerprints block comes from cloud-init's tools/write-ssh-key-fingerprints, one line per
// key as `ssh-keygen -l` prints it. How each line is prefixed depends on the versions (the shapes
// below); the KEYS block after it is echoed with no prefix in every version.
import { createHash } from 'node:crypto'

/**
 * The prefixes a console shows before each line of the fingerprints block:
 * - `cloud-init`: cloud-init 21.2 and later (PR #817 logs each line with `logger -s -p user.info -t
 *   cloud-init --`), through a util-linux whose `logger -s` prints the syslog header:
 *   `<14>Apr 22 19:51:35 cloud-init: `. Amazon Linux 2023 (cloud-init 22.2.2), Ubuntu 22.04 and
 *   24.04 (cloud-init 24.4).
 * - `ec2-syslog`: cloud-init before 21.2 (the whole block through one `logger -t ec2`) with such a
 *   util-linux: `<14>Apr  9 22:06:30 ec2: ` (an Ubuntu EC2 console quoted in
 *   oasisprotocol/oasis-core issue #91, 2018).
 * - `ec2`: the same with an older util-linux, no header: `ec2: ` (Amazon Linux 2; cloud-init 0.7.5
 *   in number5/cloud-init issue #3).
 * - `journal`: cloud-init 21.2 and later where it could not write /dev/console: its multi_log
 *   falls back to standard output (cloudinit/log/log_util.py), which its systemd unit sends to
 *   `journal+console`, and journald copies each line to the console as `[%5lu.%06lu]
 *   identifier[pid]: ` (systemd's journald-console.c). canonical/cloud-init issue #4112 shows the
 *   block in the journal that way: `cloud-init[1522]: <14>May 10 22:18:34 cloud-init: ...`.
 * @typedef {'cloud-init' | 'ec2-syslog' | 'ec2' | 'journal'} ConsoleShape
 */

// ssh-keygen -l's names for the key types, and their sizes as it prints them.
const TYPES = {
  'ssh-ed25519': ['256', 'ED25519'],
  'ecdsa-sha2-nistp256': ['256', 'ECDSA'],
  'ecdsa-sha2-nistp384': ['384', 'ECDSA'],
  'ecdsa-sha2-nistp521': ['521', 'ECDSA'],
  'ssh-rsa': ['3072', 'RSA']
}

const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ')

/**
 * The fingerprint line ssh-keygen -l prints for a `.pub` line, as cloud-init logs it.
 * @param {string} publicKey
 * @param {string} [hostname]
 */
export function fingerprintEntry(publicKey, hostname = 'ip-10-0-1-7') {
  const [algorithm, blob] = publicKey.split(' ')
  const [bits, type] = TYPES[/** @type {keyof typeof TYPES} */ (algorithm)] ?? ['256', 'ED25519']
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64')
  return `${bits} SHA256:${digest.replace(/=+$/, '')} root@${hostname} (${type})`
}

/**
 * Lines as the shape prefixes them, the clock ticking 0.4 s a line (so the seconds in the
 * syslog header change inside a block, as they do on real consoles).
 * @param {string[]} texts
 * @param {ConsoleShape} shape
 * @param {Date} [start]
 */
export function tagged(texts, shape, start = new Date(Date.UTC(2026, 3, 22, 19, 51, 35))) {
  return texts.map((text, i) => {
    const at = new Date(start.getTime() + i * 400)
    const day = String(at.getUTCDate()).padStart(2, ' ')
    const time = at.toISOString().slice(11, 19)
    const header = `<14>${MONTHS[at.getUTCMonth()]} ${day} ${time} `
    const uptime = (115.600243 + i * 0.4).toFixed(6).padStart(12, ' ')
    switch (shape) {
      case 'cloud-init':
        return `${header}cloud-init: ${text}`
      case 'ec2-syslog':
        return `${header}ec2: ${text}`
      case 'ec2':
        return `ec2: ${text}`
      case 'journal':
        return `[${uptime}] cloud-init[1097]: ${header}cloud-init: ${text}`
    }
  })
}

/**
 * cloud-init's fingerprints block, framed as write-ssh-key-fingerprints frames it.
 * @param {string[]} entries fingerprint lines, e.g. from fingerprintEntry
 * @param {ConsoleShape} [shape]
 * @returns {string[]}
 */
export function fingerprintsBlock(entries, shape = 'cloud-init') {
  const frame = '#############################################################'
  return tagged(
    [
      // Before 21.2 the script began with an `echo`, which logger tagged as an empty line.
      ...(shape === 'ec2' || shape === 'ec2-syslog' ? [''] : []),
      frame,
      '-----BEGIN SSH HOST KEY FINGERPRINTS-----',
      ...entries,
      '-----END SSH HOST KEY FINGERPRINTS-----',
      frame
    ],
    shape
  )
}

/**
 * The console of a first boot, from cloud-init's config stage to its final message.
 * @param {string[]} publicKeys host key `.pub` lines, e.g. "ssh-ed25519 AAAA... root@host"
 * @param {{ shape?: ConsoleShape, fingerprints?: string[], hostname?: string }} [options]
 *   `fingerprints`: `SHA256:...` of ED25519 keys for the block; by default the block lists
 *   `publicKeys`, as cloud-init's does
 * @returns {string}
 */
export function cloudInitConsole(publicKeys, options = {}) {
  const { shape = 'cloud-init', fingerprints, hostname = 'ip-10-0-1-7' } = options
  const entries = fingerprints
    ? fingerprints.map(fingerprint => `256 ${fingerprint} root@${hostname} (ED25519)`)
    : publicKeys.map(key => fingerprintEntry(key, hostname))
  // What cloud-init writes to /dev/console itself; in the `journal` shape, journald's copy.
  /** @param {string[]} lines */
  const written = lines =>
    shape === 'journal' ? lines.map(line => `[  115.512345] cloud-init[1097]: ${line}`) : lines
  return [
    "[   12.345678] cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:config' at Sat, 28 Nov 2026 20:59:50 +0000. Up 12.20 seconds.",
    '[   13.001122] systemd[1]: Finished cloud-config.service - Apply the settings specified in cloud-config.',
    ...written(['ci-info: no authorized SSH keys fingerprints found for user ec2-user.']),
    ...(entries.length ? fingerprintsBlock(entries, shape) : []),
    ...written([
      '-----BEGIN SSH HOST KEY KEYS-----',
      ...publicKeys,
      '-----END SSH HOST KEY KEYS-----'
    ]),
    '[   25.100000] cloud-init[1234]: Cloud-init v. 22.2.2 finished at Sat, 28 Nov 2026 21:00:00 +0000. Datasource DataSourceEc2.  Up 25.10 seconds'
  ].join('\n')
}

/**
 * Console lines that are none of cloud-init's, about `bytes` long: what a chatty service or a
 * program that wants cloud-init's block to scroll out of the 64 KB the console keeps prints.
 * @param {number} bytes
 * @returns {string[]}
 */
export function consoleNoise(bytes) {
  const lines = []
  let size = 0
  for (let i = 0; size < bytes; i++) {
    const uptime = (30 + i * 0.01).toFixed(6).padStart(12, ' ')
    const line = `[${uptime}] app[2345]: worker ${i % 8} handled request ${i} in ${i % 97} ms`
    lines.push(line)
    size += line.length + 1
  }
  return lines
}
