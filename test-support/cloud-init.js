// What cloud-init writes to an EC2 instance's console at first boot, around its SSH host keys:
// the text the action reads with GetConsoleOutput to learn a new instance's host key.

/**
 * @param {string[]} publicKeys host key `.pub` lines, e.g. "ssh-ed25519 AAAA... root@host"
 * @param {string[]} [fingerprints] `SHA256:...` lines for the fingerprints block; none: no block
 * @returns {string}
 */
export function cloudInitConsole(publicKeys, fingerprints = []) {
  return [
    "[   12.345678] cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:config'",
    ...(fingerprints.length
      ? [
          'ec2: #############################################################',
          'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
          ...fingerprints.map(fingerprint => `ec2: 256 ${fingerprint} root@ip-10-0-1-7 (ED25519)`),
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
