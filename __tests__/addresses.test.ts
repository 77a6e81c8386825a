// Which addresses the action masks: found in text however they are embedded, and never a network
// or an address that stands for "any" or "this machine".
import { jest } from '@jest/globals'
import { addressesIn, maskAddress, unmaskableAddress } from '../src/lib/addresses.js'
import { redact } from '../src/lib/log.js'

describe('addressesIn', () => {
  it.each([
    ['203.0.113.7', ['203.0.113.7']],
    ['http://203.0.113.7:8000/health', ['203.0.113.7']],
    ['203.0.113.7,198.51.100.4', ['203.0.113.7', '198.51.100.4']],
    ['Connect to 203.0.113.7. Then (198.51.100.4).', ['203.0.113.7', '198.51.100.4']],
    ['Reach 2001:db8::7.', ['2001:db8::7']],
    ['http://[2001:db8::7]:8000/', ['2001:db8::7']],
    ['ssh ec2-user@2001:db8:0:0:1::17', ['2001:db8:0:0:1::17']],
    ['::ffff:203.0.113.7', ['203.0.113.7', '::ffff:203.0.113.7']],
    ['fe80::1%eth0 via link', ['fe80::1%eth0']]
  ])('finds the addresses in %j', (text, expected) => {
    expect(addressesIn(text)).toEqual(expected)
  })

  it.each([
    'version v1.2.3.4',
    '1.2.3.4.5',
    '999.1.1.1',
    '10.0.0.0/16 and 2001:db8::/32',
    'AWS::EC2::Instance',
    '12:34:56',
    'https://owrzadkgxvz7l3lbgiesssdrgy0ikujz.lambda-url.us-east-1.on.aws/'
  ])('finds none in %j', text => {
    expect(addressesIn(text)).toEqual([])
  })
})

describe('unmaskableAddress', () => {
  it.each([
    ['10.0.0.0/16', 'a network in CIDR notation, not one address'],
    ['0.0.0.0/8', 'a network in CIDR notation, not one address'],
    ['2001:db8::/32', 'a network in CIDR notation, not one address'],
    ['0.0.0.0', 'the unspecified or a loopback address'],
    ['0.12.34.56', 'the unspecified or a loopback address'],
    ['127.0.0.1', 'the unspecified or a loopback address'],
    ['127.255.0.9', 'the unspecified or a loopback address'],
    ['::', 'the unspecified or a loopback address'],
    ['::1', 'the unspecified or a loopback address'],
    ['::ffff:127.0.0.1', 'the unspecified or a loopback address'],
    ['0:0:0:0:0:0:0:1', 'the unspecified or a loopback address']
  ])('refuses %j', (address, why) => {
    expect(unmaskableAddress(address)).toContain(why)
  })

  it.each(['203.0.113.7', '10.0.1.7', '128.0.0.1', '2001:db8::7', '::ffff:203.0.113.7'])(
    'allows %j',
    address => {
      expect(unmaskableAddress(address)).toBeUndefined()
    }
  )
})

describe('maskAddress', () => {
  it('registers a host address, and no network or loopback address', () => {
    const announced: string[] = []
    jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      announced.push(String(chunk))
      return true
    })
    expect(maskAddress('192.0.2.201')).toBe(true)
    for (const refused of ['127.0.0.1', '0.0.0.0', '10.9.0.0/16', '::1'])
      expect(maskAddress(refused)).toBe(false)
    jest.restoreAllMocks()
    expect(announced.join('')).toBe('::add-mask::192.0.2.201\n')
    expect(redact('at 192.0.2.201, bound to 0.0.0.0 and 127.0.0.1, in 10.9.0.0/16, ::1')).toBe(
      'at ***, bound to 0.0.0.0 and 127.0.0.1, in 10.9.0.0/16, ::1'
    )
  })
})
