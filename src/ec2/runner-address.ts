import { BlockList, isIP } from 'node:net'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'

// The runner's public address, for the one-run ingress rule (input "open-ingress"). Whoever answers
// at input "runner-ip-url" chooses the address the door opens for: the answer must be one host's
// public address, never a network, and never one of the ranges that would open the door to a
// whole private network (or to nothing a security group can tell apart).

/** AWS's own "what is my address" service: one IPv4 address and a line break. */
export const DEFAULT_RUNNER_IP_URL = 'https://checkip.amazonaws.com/'

/** Ranges that are no single host on the internet, each with what it is. */
const NOT_PUBLIC: [string, BlockList][] = (
  [
    [
      'unspecified',
      [
        ['0.0.0.0', 8, 'ipv4'],
        ['::', 128, 'ipv6']
      ]
    ],
    [
      'loopback',
      [
        ['127.0.0.0', 8, 'ipv4'],
        ['::1', 128, 'ipv6']
      ]
    ],
    [
      'private',
      [
        ['10.0.0.0', 8, 'ipv4'],
        ['172.16.0.0', 12, 'ipv4'],
        ['192.168.0.0', 16, 'ipv4'],
        // Carrier-grade NAT (RFC 6598): shared by everyone behind the carrier's NAT.
        ['100.64.0.0', 10, 'ipv4'],
        ['fc00::', 7, 'ipv6']
      ]
    ],
    [
      'link-local',
      [
        ['169.254.0.0', 16, 'ipv4'],
        ['fe80::', 10, 'ipv6']
      ]
    ],
    [
      'multicast',
      [
        ['224.0.0.0', 4, 'ipv4'],
        ['ff00::', 8, 'ipv6']
      ]
    ],
    ['reserved', [['240.0.0.0', 4, 'ipv4']]]
  ] as [string, [string, number, 'ipv4' | 'ipv6'][]][]
).map(([kind, subnets]) => {
  const list = new BlockList()
  for (const [network, prefix, family] of subnets) list.addSubnet(network, prefix, family)
  return [kind, list]
})

/** The address as a security group takes it: an IPv4-mapped IPv6 address is the IPv4 one. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  return mapped ? mapped[1] : address
}

/** Why `text` is not one public host address, or undefined when it is one. */
export function publicAddressProblem(text: string): string | undefined {
  if (text.includes('/')) return 'a network in CIDR notation, not one address'
  const address = plainAddress(text)
  const family = isIP(address)
  if (family === 0) return 'not an IPv4 or IPv6 address'
  const type = family === 4 ? 'ipv4' : 'ipv6'
  for (const [kind, list] of NOT_PUBLIC) {
    if (list.check(address, type)) return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} address`
  }
  return undefined
}

/** The rule's source: `/32` for IPv4, `/128` for IPv6. */
export function hostCidr(address: string): { cidr: string; family: 4 | 6 } {
  const plain = plainAddress(address)
  return isIP(plain) === 4
    ? { cidr: `${plain}/32`, family: 4 }
    : { cidr: `${plain}/128`, family: 6 }
}

/**
 * Input "runner-ip-url": https, or http to a loopback address (a service on the runner itself);
 * anything else could be answered by whoever sits on the way.
 */
export function checkRunnerIpUrl(value: string): URL {
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  const host = url?.hostname.replace(/^\[|\]$/g, '') ?? ''
  const loopback = host === 'localhost' || publicAddressProblem(host) === 'a loopback address'
  if (url && !url.username && !url.password) {
    if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return url
  }
  throw new ActionError(
    `Input "runner-ip-url" is ${JSON.stringify(quoteUntrusted(value, 300))}: give an https URL ` +
      `(or http to a loopback address such as http://127.0.0.1:8080/) that answers with the ` +
      `runner's public address, or leave it at ${DEFAULT_RUNNER_IP_URL}.`
  )
}
