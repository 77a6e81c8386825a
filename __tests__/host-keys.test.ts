import type { EC2Client } from '@aws-sdk/client-ec2'
import { jest } from '@jest/globals'
import { hostKeysFromConsole, instanceByAddress } from '../src/ec2/console-host-keys.js'
import {
  hostKeyBlockInConsole,
  type ConsoleBlock,
  type ConsoleView,
  type TypedFingerprint
} from '../src/ec2/console-block.js'
import { cloudInitConsole, consoleNoise } from '../test-support/cloud-init.js'
import { generateKeyPair } from '../test-support/sshd.js'
import { ec2For, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { actionLogger } from '../src/lib/log.js'

/** A host key as ssh-keygen makes it, with the fingerprint ssh-keygen prints for it. */
async function hostKey(
  type: 'ed25519' | 'ecdsa'
): Promise<{ publicKey: string; fingerprint: string }> {
  return generateKeyPair({ type, comment: 'root@ip-10-0-1-7' })
}

const INSTANCE = 'i-00000000000000001'
// EC2 keeps the last 64 KB of each view; the local endpoint, 64 KiB.
const CONSOLE_BYTES = 64 * 1024

const ed25519 = await hostKey('ed25519')
const ecdsa = await hostKey('ecdsa')

/** One view of the console, the way hostKeysFromConsole hands it over. */
function view(output: string, name: ConsoleView['name'] = 'buffered'): ConsoleView {
  return { instanceId: INSTANCE, name, output, bytes: Buffer.byteLength(output) }
}

/** What a view shows of cloud-init's block; the keys, where there is one. */
function blockIn(output: string): ConsoleBlock {
  return hostKeyBlockInConsole(view(output))
}

function keysIn(output: string): TypedFingerprint[] | undefined {
  const block = blockIn(output)
  return block.kind === 'block' ? block.keys : undefined
}

/**
 * The view EC2 serves once `start` (a character of ASCII `output`) has become the first byte of
 * the 64 KiB it keeps: the rest of `output`, then lines that are none of cloud-init's.
 */
function scrolled(output: string, start: number): string {
  const kept = `${output.slice(start)}\n`
  const noise = consoleNoise(CONSOLE_BYTES - Buffer.byteLength(kept)).join('\n')
  return `${kept}${noise}`.slice(0, CONSOLE_BYTES)
}

/** The line of the first BEGIN in the 64 KiB of `output` that the endpoint serves. */
function beginLineServed(output: string): number {
  const served = Buffer.from(output).subarray(-CONSOLE_BYTES).toString('utf8')
  return (
    served.split('\n').findIndex(line => line.endsWith('BEGIN SSH HOST KEY FINGERPRINTS-----')) + 1
  )
}

const refusal = /Pin the host key with input "ssh-host-fingerprint"/
const both = [
  { fingerprint: ecdsa.fingerprint, type: 'ECDSA' },
  { fingerprint: ed25519.fingerprint, type: 'ED25519' }
]

describe('hostKeyBlockInConsole: the shapes consoles show', () => {
  it('reads Amazon Linux 2023 and Ubuntu 22.04/24.04: cloud-init 21.2 and later through logger -s', () => {
    // An Amazon Linux 2023 console (cloud-init 22.2.2; Ubuntu 22.04 with cloud-init 24.4 prints
    // the same), with this test's keys: since cloud-init 21.2 (tools/write-ssh-key-fingerprints,
    // PR #817) each line is its own `logger -s -p user.info -t cloud-init --` call, and util-linux
    // prints the syslog header; the seconds tick inside the block. The KEYS block is echoed bare.
    const amazonLinux2023 = [
      'ci-info: no authorized SSH keys fingerprints found for user ec2-user.',
      '<14>Apr 22 19:51:35 cloud-init: #############################################################',
      '<14>Apr 22 19:51:35 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      `<14>Apr 22 19:51:35 cloud-init: 256 ${ecdsa.fingerprint} root@ip-10-0-132-36.eu-west-1.compute.internal (ECDSA)`,
      `<14>Apr 22 19:51:35 cloud-init: 256 ${ed25519.fingerprint} root@ip-10-0-132-36.eu-west-1.compute.internal (ED25519)`,
      '<14>Apr 22 19:51:36 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----',
      '<14>Apr 22 19:51:36 cloud-init: #############################################################',
      '-----BEGIN SSH HOST KEY KEYS-----',
      `${ecdsa.publicKey.split(' ').slice(0, 2).join(' ')} root@ip-10-0-132-36.eu-west-1.compute.internal`,
      `${ed25519.publicKey.split(' ').slice(0, 2).join(' ')} root@ip-10-0-132-36.eu-west-1.compute.internal`,
      '-----END SSH HOST KEY KEYS-----'
    ].join('\n')

    expect(blockIn(amazonLinux2023)).toEqual({
      kind: 'block',
      line: 3,
      keys: both,
      identity: expect.any(String)
    })
  })

  it('reads cloud-init before 21.2 with the syslog header: the tag ec2', () => {
    // An Ubuntu EC2 console of 2018 (quoted in oasisprotocol/oasis-core issue #91): the whole block
    // through one `logger -s -t ec2`, the day padded with a space, an empty line first (the
    // script's `echo`). A current util-linux prints the old tag the same way ("<14>Dec  3 ...").
    const ubuntu2018 = [
      '<14>Apr  9 22:06:30 ec2: ',
      '<14>Apr  9 22:06:30 ec2: #############################################################',
      '<14>Apr  9 22:06:30 ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      `<14>Apr  9 22:06:30 ec2: 256 ${ecdsa.fingerprint} root@ip-172-31-22-24 (ECDSA)`,
      `<14>Apr  9 22:06:30 ec2: 256 ${ed25519.fingerprint} root@ip-172-31-22-24 (ED25519)`,
      '<14>Apr  9 22:06:30 ec2: -----END SSH HOST KEY FINGERPRINTS-----',
      '<14>Apr  9 22:06:30 ec2: #############################################################'
    ].join('\n')

    expect(keysIn(ubuntu2018)).toEqual(both)
  })

  it('reads Amazon Linux 2: the tag ec2 and no header', () => {
    // cloud-init before 21.2 with an older util-linux (Amazon Linux 2; the shape of a cloud-init
    // 0.7.5 console quoted in number5/cloud-init issue #3).
    const amazonLinux2 = [
      'ec2: ',
      'ec2: #############################################################',
      'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
      `ec2: 256 ${ecdsa.fingerprint} no comment (ECDSA)`,
      `ec2: 256 ${ed25519.fingerprint} no comment (ED25519)`,
      'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
      'ec2: #############################################################',
      '-----BEGIN SSH HOST KEY KEYS-----'
    ].join('\r\n')

    expect(keysIn(amazonLinux2)).toEqual(both)
  })

  it("reads journald's copy, where cloud-init could not write /dev/console", () => {
    // cloud-init's multi_log falls back to its standard output (cloudinit/log/log_util.py); the
    // journal then holds `cloud-init[1522]: <14>May 10 22:18:34 cloud-init: -----BEGIN ...`
    // (canonical/cloud-init issue #4112), and journald copies a journal+console unit's lines to
    // the console as "[%5lu.%06lu] identifier[pid]: " (systemd's journald-console.c), the prefix
    // of cloud-init's own lines on EC2 consoles ("[  115.600243] cloud-init[1097]: Cloud-init
    // v. 19.4 running 'modules:config'", canonical/cloud-init issue #3822).
    const journal = [
      `[  115.600243] cloud-init[1097]: <14>May 10 22:18:34 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----`,
      `[  115.600911] cloud-init[1097]: <14>May 10 22:18:34 cloud-init: 256 ${ecdsa.fingerprint} root@minl (ECDSA)`,
      `[  115.601502] cloud-init[1097]: <14>May 10 22:18:34 cloud-init: 256 ${ed25519.fingerprint} root@minl (ED25519)`,
      `[  115.602077] cloud-init[1097]: <14>May 10 22:18:35 cloud-init: -----END SSH HOST KEY FINGERPRINTS-----`,
      ''
    ].join('\n')

    expect(keysIn(journal)).toEqual(both)
  })

  it.each(['cloud-init', 'ec2-syslog', 'ec2', 'journal'] as const)(
    'reads the test consoles in the %s shape',
    shape => {
      const output = cloudInitConsole([ecdsa.publicKey, ed25519.publicKey], { shape })

      expect(keysIn(output)).toEqual(both)
    }
  )

  it('skips untagged lines that fall between the lines of a block', () => {
    // Since 21.2 each line is a separate logger call: the kernel and systemd print in between.
    const lines = cloudInitConsole([ecdsa.publicKey, ed25519.publicKey]).split('\n')
    const entry = lines.findIndex(line => line.includes(ecdsa.fingerprint))
    lines.splice(entry, 0, '[   27.654321] random: crng init done')
    lines.splice(entry + 2, 0, '[  OK  ] Started amazon-ssm-agent.service - amazon-ssm-agent.')

    expect(keysIn(lines.join('\n'))).toEqual(both)
  })

  it('accepts the same block printed again, with CRLF line ends', () => {
    const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
    const twice = `${genuine}\n${genuine}`.replaceAll('\n', '\r\n')

    expect(keysIn(twice)).toHaveLength(2)
  })

  it("trusts no key outside a tagged block: the KEYS block and untagged lines are anyone's to print", () => {
    const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
    const untagged = genuine.replace(/^<14>\w{3} [ \d]\d [\d:]{8} cloud-init: /gm, '')

    expect(blockIn(untagged)).toEqual({ kind: 'none' })
    expect(
      blockIn(`user-data says 256 ${ed25519.fingerprint} x (ED25519)\n${ecdsa.publicKey}`)
    ).toEqual({ kind: 'none' })
    // An untagged line inside cloud-init's block is skipped, not read as one of its keys.
    const lines = genuine.split('\n')
    const entry = lines.findIndex(line => line.includes(ecdsa.fingerprint))
    lines[entry] = lines[entry].replace(/^.*cloud-init: /, '')
    expect(keysIn(lines.join('\n'))).toEqual([
      { fingerprint: ed25519.fingerprint, type: 'ED25519' }
    ])
  })

  it('says the block is still being printed until its END comes', () => {
    const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
    // Read between two lines, and in the middle of one: the console is copied byte by byte.
    for (const until of ['-----END SSH HOST KEY FINGERPRINTS', ecdsa.fingerprint.slice(0, 20)]) {
      const cut = genuine.slice(0, genuine.indexOf(until))

      expect(blockIn(cut)).toEqual({ kind: 'printing', line: 5 })
    }
  })

  it("waits when a BEGIN is the last line, after a block that may not be cloud-init's", async () => {
    const planted = cloudInitConsole([(await hostKey('ed25519')).publicKey])
    const begin = '<14>Apr 22 19:51:35 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----'

    expect(blockIn(`${planted}\n${begin}`)).toEqual({
      kind: 'printing',
      line: planted.split('\n').length + 1
    })
  })
})

describe('hostKeyBlockInConsole: what it refuses', () => {
  const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
  const genuineLines = genuine.split('\n')
  let attacker: { publicKey: string; fingerprint: string }
  beforeAll(async () => {
    attacker = await hostKey('ed25519')
  })

  it("refuses a BEGIN and a key with no END before cloud-init's block (the unclosed block)", () => {
    // What a program on the instance prints just before cloud-init's block, with either tag.
    for (const tag of ['ec2: ', '<14>Apr 22 19:51:34 cloud-init: ']) {
      const planted = [
        `${tag}-----BEGIN SSH HOST KEY FINGERPRINTS-----`,
        `${tag}256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`
      ]
      const output = [...genuineLines.slice(0, 3), ...planted, ...genuineLines.slice(3)].join('\n')

      expect(() => blockIn(output)).toThrow(
        `The buffered view of the console output of instance ${INSTANCE} holds an unclosed block at line 4 ` +
          "(line 6 is tagged like cloud-init's lines but is neither a host key of the block nor its END)"
      )
      expect(() => blockIn(output)).toThrow(refusal)
    }
  })

  it('refuses a BEGIN inside an open block', () => {
    const begin = genuineLines.findIndex(line =>
      line.endsWith('-----BEGIN SSH HOST KEY FINGERPRINTS-----')
    )
    const output = [
      ...genuineLines.slice(0, begin),
      genuineLines[begin].replace('19:51:35', '19:51:34'),
      `<14>Apr 22 19:51:34 cloud-init: 256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`,
      ...genuineLines.slice(begin)
    ].join('\n')

    expect(() => blockIn(output)).toThrow(
      `holds an unclosed block at line ${begin + 1} (another BEGIN at line ${begin + 3})`
    )
  })

  it('refuses a tagged line inside a block that is not one of its keys', () => {
    for (const foreign of [
      '<14>Apr 22 19:51:35 cloud-init: the real key is below',
      `<14>Apr 22 19:51:35 cloud-init: 256 MD5:aa:bb root@ip-10-0-1-7 (ED25519)`,
      // A key with another tag: a block keeps one tag throughout.
      `ec2: 256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`,
      `<14>Apr 22 19:51:35 ec2: 256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`
    ]) {
      const lines = [...genuineLines]
      const entry = lines.findIndex(line => line.includes(ecdsa.fingerprint))
      lines.splice(entry, 0, foreign)

      expect(() => blockIn(lines.join('\n'))).toThrow(
        `holds an unclosed block at line ${entry - 1} (line ${entry + 1} is tagged like cloud-init's lines`
      )
    }
  })

  it('refuses an END without a BEGIN', () => {
    const output = [
      `ec2: 256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`,
      'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
      genuine
    ].join('\n')

    expect(() => blockIn(output)).toThrow('holds an END without a BEGIN at line 2')
  })

  it("refuses two different blocks, the planted one before or after cloud-init's", () => {
    const planted = cloudInitConsole([attacker.publicKey])
    const lines = planted.split('\n').length

    expect(() => blockIn(`${planted}\n${genuine}`)).toThrow(
      `holds two different blocks (at lines 5 and ${lines + 5})`
    )
    expect(() => blockIn(`${genuine}\n${planted}`)).toThrow('holds two different blocks')
    expect(() => blockIn(`${genuine}\n${planted}`)).toThrow(refusal)
  })
})

describe('hostKeyBlockInConsole: the 64 KB the console keeps', () => {
  const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])

  it('reads a block cut by the start of a full view as no block: its first keys may be gone', () => {
    const entry = genuine.indexOf(ed25519.fingerprint)
    // Cut inside the first key, or just before its tag: the first line is cut either way.
    for (const start of [entry + 3, genuine.lastIndexOf('cloud-init: ', entry)]) {
      const cut = scrolled(genuine, start)

      expect(Buffer.byteLength(cut)).toBe(CONSOLE_BYTES)
      expect(blockIn(cut)).toEqual({ kind: 'cut', line: 3 })
    }
  })

  it("refuses a block after the cut one: the cut one may have been cloud-init's", async () => {
    const attacker = await hostKey('ed25519')
    const cut = genuine.slice(genuine.indexOf(ed25519.fingerprint) + 3)
    const output = scrolled(`${cut}\n${cloudInitConsole([attacker.publicKey])}`, 0)

    expect(() => blockIn(output)).toThrow(
      'holds two blocks: the end of one at line 3, whose start scrolled out of the 64 KB the console keeps, and another at line'
    )
  })

  it('refuses the same end of a block where nothing has scrolled out', () => {
    const cut = genuine.slice(genuine.indexOf(ed25519.fingerprint) - 40)

    expect(() => blockIn(cut)).toThrow('holds an END without a BEGIN at line 4')
  })

  it('reads a whole block in a full view', () => {
    const full = scrolled(`${consoleNoise(10_000).join('\n')}\n${genuine}`, 5)

    expect(keysIn(full)).toHaveLength(2)
  })
})

describe('hostKeysFromConsole', () => {
  let aws: LocalAws
  let ec2: EC2Client
  beforeEach(async () => {
    aws = await startLocalAws()
    ec2 = ec2For(aws)
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
  })
  afterEach(async () => {
    jest.restoreAllMocks()
    ec2.destroy()
    await aws.stop()
  })

  it('waits for cloud-init to print the keys', async () => {
    const key = await hostKey('ed25519')
    aws.addInstance({ instanceId: 'i-00000000000000001', consoleOutput: 'booting...' })
    const slept: number[] = []
    const sleep = async (ms: number) => {
      slept.push(ms)
      aws.addInstance({
        instanceId: 'i-00000000000000001',
        consoleOutput: cloudInitConsole([key.publicKey], { fingerprints: [key.fingerprint] })
      })
    }
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 60000, sleep, actionLogger)
    ).resolves.toEqual([{ fingerprint: key.fingerprint, type: 'ED25519' }])
    expect(slept).toHaveLength(1)
  })

  it('falls back to the buffered output where the latest is not served (not a Nitro instance)', async () => {
    const key = await hostKey('ed25519')
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      consoleOutput: cloudInitConsole([key.publicKey])
    })
    aws.failNext('GetConsoleOutput', { status: 400, code: 'UnsupportedOperation' })
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 60000, async () => undefined, actionLogger)
    ).resolves.toEqual([{ fingerprint: key.fingerprint, type: 'ED25519' }])
    expect(aws.callsOf('GetConsoleOutput').map(call => call.params.Latest)).toEqual([
      'true',
      undefined
    ])
  })

  describe('the two views', () => {
    const genuine = cloudInitConsole([ed25519.publicKey, ecdsa.publicKey])
    const keys = [
      { fingerprint: ed25519.fingerprint, type: 'ED25519' },
      { fingerprint: ecdsa.fingerprint, type: 'ECDSA' }
    ]
    const noSleep = async () => undefined
    let attacker: { publicKey: string; fingerprint: string }
    let planted: string
    beforeAll(async () => {
      attacker = await hostKey('ed25519')
      planted = cloudInitConsole([attacker.publicKey])
    })

    it('reads both and trusts the block they agree on', async () => {
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: genuine })

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 60000, noSleep, actionLogger)
      ).resolves.toEqual(keys)
      expect(aws.callsOf('GetConsoleOutput').map(call => call.params.Latest)).toEqual([
        'true',
        undefined
      ])
    })

    it('refuses a block printed after 64 KB of noise, which leaves it alone in the Latest view', async () => {
      const latest = [genuine, ...consoleNoise(70_000), planted].join('\n')
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: genuine, latestConsoleOutput: latest })

      const looking = hostKeysFromConsole(ec2, INSTANCE, 60000, noSleep, actionLogger)

      await expect(looking).rejects.toThrow(
        `The console output of instance ${INSTANCE} holds a different host key block in each view ` +
          `(line ${beginLineServed(latest)} of the Latest view, line 5 of the buffered view): ` +
          'the Latest and buffered views disagree, so it cannot tell which host key is the ' +
          "instance's: anything running on the instance can print there. Pin the host key with " +
          'input "ssh-host-fingerprint"'
      )
    })

    it("refuses the same attack where the buffered view shows cloud-init's block and the planted one", async () => {
      aws.addInstance({
        instanceId: INSTANCE,
        consoleOutput: [genuine, ...consoleNoise(20_000), planted].join('\n'),
        latestConsoleOutput: [genuine, ...consoleNoise(70_000), planted].join('\n')
      })

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 60000, noSleep, actionLogger)
      ).rejects.toThrow(
        `The buffered view of the console output of instance ${INSTANCE} holds two different blocks`
      )
    })

    it('trusts a block in the Latest view alone while nothing has scrolled out of that view', async () => {
      // A new instance: the buffered view is posted a few minutes after boot.
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: '', latestConsoleOutput: genuine })

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 60000, noSleep, actionLogger)
      ).resolves.toEqual(keys)
    })

    it('waits for the buffered view when the Latest view that alone shows a block is full', async () => {
      const latest = [...consoleNoise(70_000), genuine].join('\n')
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: '', latestConsoleOutput: latest })
      let looks = 0
      const sleep = async () => {
        if (++looks === 2) {
          aws.addInstance({
            instanceId: INSTANCE,
            consoleOutput: genuine,
            latestConsoleOutput: latest
          })
        }
      }

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 600_000, sleep, actionLogger)
      ).resolves.toEqual(keys)
      expect(looks).toBe(2)
    })

    it('says so when the buffered view never shows the block a full Latest view alone shows', async () => {
      const latest = [...consoleNoise(70_000), planted].join('\n')
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: '', latestConsoleOutput: latest })

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 20000, noSleep, actionLogger)
      ).rejects.toThrow(
        `The console output of instance ${INSTANCE} holds a host key block in its Latest view alone ` +
          `(line ${beginLineServed(latest)} of the Latest view), and that view is full (64 KB): what ` +
          "was printed before the block, cloud-init's own block among it, may have scrolled out, " +
          'and the buffered view showed no block after 20 s (input "ssh-connect-timeout")'
      )
    })

    it('trusts the buffered view where the Latest one has scrolled on', async () => {
      for (const latest of [
        consoleNoise(70_000).join('\n'),
        // The Latest view cut inside the block: that is no block.
        scrolled(genuine, genuine.indexOf(ed25519.fingerprint) + 3)
      ]) {
        aws.addInstance({
          instanceId: INSTANCE,
          consoleOutput: genuine,
          latestConsoleOutput: latest
        })

        await expect(
          hostKeysFromConsole(ec2, INSTANCE, 60000, noSleep, actionLogger)
        ).resolves.toEqual(keys)
      }
    })

    it('refuses, when the time is up, a block whose END never came', async () => {
      const unclosed = [
        genuine,
        '<14>Apr 22 19:52:10 cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
        `<14>Apr 22 19:52:10 cloud-init: 256 ${attacker.fingerprint} root@ip-10-0-1-7 (ED25519)`,
        ''
      ].join('\n')
      aws.addInstance({ instanceId: INSTANCE, consoleOutput: unclosed })

      await expect(
        hostKeysFromConsole(ec2, INSTANCE, 20000, noSleep, actionLogger)
      ).rejects.toThrow(
        `The console output of instance ${INSTANCE} holds an unclosed block at line ${genuine.split('\n').length + 1} ` +
          'of the Latest view (a BEGIN whose END did not come) after 20 s (input "ssh-connect-timeout"), ' +
          "so it cannot tell which host key is the instance's"
      )
    })
  })

  it('gives up after the timeout and says how to pin the key instead', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001' })
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 20000, async () => undefined, actionLogger)
    ).rejects.toThrow(
      'The console output of instance i-00000000000000001 showed no SSH host key fingerprints within 20 s (input "ssh-connect-timeout"). Pin the host key with input "ssh-host-fingerprint"'
    )
  })

  it('says, after a while without keys, that input "ssh-host-fingerprint" was empty', async () => {
    aws.addInstance({ instanceId: INSTANCE, consoleOutput: 'booting...' })
    const logged = jest.mocked(process.stdout.write)
    let looks = 0
    const sleep = async () => {
      if (++looks === 3) {
        aws.addInstance({ instanceId: INSTANCE, consoleOutput: cloudInitConsole([key.publicKey]) })
      }
    }
    const key = await hostKey('ed25519')

    await hostKeysFromConsole(ec2, INSTANCE, 600_000, sleep, actionLogger)

    const lines = logged.mock.calls.map(call => String(call[0]))
    const hints = lines.filter(line => line.includes('Input "ssh-host-fingerprint" is empty'))
    expect(hints).toHaveLength(1)
    expect(lines.indexOf(hints[0])).toBe(1)
  })

  it('names ec2:GetConsoleOutput when it is denied', async () => {
    aws.addInstance({ instanceId: 'i-00000000000000001' })
    aws.deny('GetConsoleOutput')
    await expect(
      hostKeysFromConsole(ec2, 'i-00000000000000001', 20000, async () => undefined, actionLogger)
    ).rejects.toThrow(
      'Access denied: ec2:GetConsoleOutput on instance i-00000000000000001. Allow "ec2:GetConsoleOutput"'
    )
  })

  it('finds the instance behind an address, and refuses when there is none', async () => {
    aws.addInstance({
      instanceId: 'i-00000000000000001',
      publicIp: '203.0.113.5',
      privateIp: '10.0.0.5'
    })
    await expect(instanceByAddress(ec2, '203.0.113.5', 'public')).resolves.toBe(
      'i-00000000000000001'
    )
    await expect(instanceByAddress(ec2, '10.0.0.5', 'private')).resolves.toBe('i-00000000000000001')
    await expect(instanceByAddress(ec2, '203.0.113.99', 'public')).rejects.toThrow(
      'No single EC2 instance has the public address 203.0.113.99'
    )
  })
})
