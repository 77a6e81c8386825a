import { BlockList, isIP } from 'node:net'
import { maskSecret } from './log.js'

// "0.0.0.0" and "127.0.0.1" stand in text for "any interface" and "this machine" (a URL such as
// http://0.0.0.0:8000/, a health check on localhost), never for an instance's address: a mask on
// them would hide that text in every later line of the job, inside other addresses too (a mask is
// replaced wherever it occurs: 10.0.0.0 contains 0.0.0.0). BlockList also matches their IPv6 forms
// (::ffff:127.0.0.1).
const NOT_A_HOST = new BlockList()
NOT_A_HOST.addSubnet('0.0.0.0', 8, 'ipv4')
NOT_A_HOST.addSubnet('127.0.0.0', 8, 'ipv4')
NOT_A_HOST.addAddress('::', 'ipv6')
NOT_A_HOST.addAddress('::1', 'ipv6')

/**
 * Why `address` is not registered as a mask, or undefined when it may be: a network in CIDR
 * notation is not one host's address, and the unspecified and loopback addresses are nobody's.
 */
export function unmaskableAddress(address: string): string | undefined {
  if (address.includes('/')) return 'a network in CIDR notation, not one address'
  const family = isIP(address)
  if (family !== 0 && NOT_A_HOST.check(address.replace(/%.*$/, ''), family === 6 ? 'ipv6' : 'ipv4'))
    return 'the unspecified or a loopback address (0.0.0.0/8, 127.0.0.0/8, ::, ::1)'
  return undefined
}

/**
 * Registers an instance address with the runner's masking, unless unmaskableAddress refuses it;
 * returns whether it was registered. Every address the action masks goes through here.
 */
export function maskAddress(address: string): boolean {
  if (unmaskableAddress(address) !== undefined) return false
  maskSecret(address)
  return true
}

// Candidates only; net.isIP decides. An IPv4 address is not part of a longer dotted word (a
// version "v1.2.3.4", "1.2.3.4.5"), though a sentence may end after it; one followed by
// "/<prefix>" is a network (10.0.0.0/16).
const IPV4_CANDIDATE = /(?<!\w|\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d|\/\d{1,2}(?!\w))/g
// At least two colons, hex groups, maybe a dotted IPv4 tail (::ffff:203.0.113.7) and a zone
// (fe80::1%eth0); in a URL it stands in brackets: http://[2001:db8::7]:8000/.
const IPV6_CANDIDATE =
  /(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?:%[\w.-]+)?(?![\w:%]|\.\d|\/\d{1,3}(?!\w))/g

/**
 * The IP addresses (v4, then v6) that appear in `text`, each once, however they are
 * embedded (a URL with a port, a list, brackets). Networks in CIDR notation are left out.
 */
export function addressesIn(text: string): string[] {
  const found = new Set<string>()
  for (const pattern of [IPV4_CANDIDATE, IPV6_CANDIDATE])
    for (const [candidate] of text.matchAll(pattern))
      if (isIP(candidate.replace(/%.*$/, '')) !== 0) found.add(candidate)
  return [...found]
}

/** A DNS host name: labels of letters, digits and inner hyphens, at most 253 characters. */
export const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
