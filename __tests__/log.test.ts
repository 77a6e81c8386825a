import { jest } from '@jest/globals'
import {
  UntrustedOutput,
  actionLogger,
  maskSecret,
  quoteUntrusted,
  redact,
  shownVersionId,
  unmaskableReason
} from '../src/lib/log.js'
import { createLogMasker } from '../test-support/runner.js'

/** What the runner would obey in these lines, following its own parser. */
function obeyed(lines: string[]): { name: string; data: string }[] {
  const runner = createLogMasker()
  for (const line of lines) runner.line(line)
  return runner.commands.map(({ name, data }) => ({ name, data }))
}

const ATTACKS = [
  '::error::PWN',
  '   ::set-output name=restarted::true',
  'done ##[set-output name=approved;]yes',
  '\u0085::warning::PWN after NEXT LINE',
  '::stop-commands::PWNTOKEN',
  '##[stop-commands]PWNTOKEN2',
  '::add-mask::e'
]

describe('UntrustedOutput', () => {
  it('lets the runner obey none of the commands in the lines it prints', () => {
    const log: string[] = []
    const out = new UntrustedOutput(line => log.push(line))
    out.open()
    for (const attack of ATTACKS) out.line(attack)
    out.close()
    // Only the pause itself, and the lines are still readable.
    expect(obeyed(log).map(command => command.name)).toEqual(['stop-commands'])
    expect(log.join('\n')).toContain('PWN after NEXT LINE')
    // After it, the action's own commands work again.
    log.push('::error::the action itself')
    expect(obeyed(log).map(command => command.name)).toEqual(['stop-commands', 'error'])
  })

  it('uses a new random token each time, so that output cannot guess it', () => {
    const log: string[] = []
    const out = new UntrustedOutput(line => log.push(line))
    out.open()
    out.close()
    out.open()
    out.close()
    const tokens = log.filter(line => line.startsWith('::stop-commands::'))
    expect(tokens).toHaveLength(2)
    expect(tokens[0]).not.toBe(tokens[1])
    expect(tokens[0]).toMatch(/^::stop-commands::[0-9a-f]{32}$/)
  })

  it("lifts the pause around the action's own commands", () => {
    const log: string[] = []
    const out = new UntrustedOutput(line => log.push(line))
    out.open()
    out.line('::error::PWN')
    out.command(() => log.push('::add-mask::203.0.113.7'))
    out.line('##[error]PWN')
    out.close()
    expect(obeyed(log).filter(command => command.name !== 'stop-commands')).toEqual([
      { name: 'add-mask', data: '203.0.113.7' }
    ])
  })

  it('breaks "##[" even outside a pause, cuts long lines and splits at carriage returns', () => {
    const log: string[] = []
    new UntrustedOutput(line => log.push(line)).line(`a ##[error]b\rc${'x'.repeat(20000)}`)
    const shown = log.filter(line => !/^::/.test(line))
    expect(shown[0]).toBe('a #\u200b#[error]b')
    expect(shown[1].length).toBeLessThan(8300)
    expect(shown[1]).toMatch(/\[\.\.\. cut at 8192 bytes\]$/)
  })
})

describe('quoteUntrusted', () => {
  it('makes outside text one bounded line with no command and no control character', () => {
    const quoted = quoteUntrusted('line one\r\n\r\n# Heading\u0007 ##[error]x\u001b[31m', 2048)
    expect(quoted).toBe('line one  # Heading #\u200b#[error]x[31m')
    expect(quoteUntrusted('y'.repeat(5000), 100)).toMatch(/^y{100} \[\.\.\. cut at 100 bytes\]$/)
  })

  it('never starts a line with a command, even after the white space the runner trims', () => {
    for (const attack of ['::warning::x', '  ::stop-commands::t', '\n::add-mask::fastapi']) {
      const quoted = quoteUntrusted(attack)
      expect(quoted.trimStart().startsWith('::')).toBe(false)
      expect(quoted.replace('\u200b', '').trim()).toBe(attack.trim())
    }
  })
})

describe('actionLogger', () => {
  it('writes workflow commands to the log: an annotation for a warning or an error', () => {
    const written: string[] = []
    jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      written.push(String(chunk))
      return true
    })
    try {
      actionLogger.info('plain line')
      actionLogger.warning('a warning\nof two lines')
      actionLogger.error('an error')
    } finally {
      jest.restoreAllMocks()
    }
    expect(written).toEqual([
      'plain line\n',
      '::warning::a warning%0Aof two lines\n',
      '::error::an error\n'
    ])
  })
})

describe('shownVersionId', () => {
  it('shows an id of the shape AWS makes as it is', () => {
    expect(shownVersionId('a1b2c3d4-5678-90ab-cdef-EXAMPLE11111')).toBe(
      'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111'
    )
  })

  it('quotes any other id as one inert line', () => {
    const planted = 'x'.repeat(32) + '\n::stop-commands::pwned\n##[error]boom'
    const shown = shownVersionId(planted)
    expect(shown.startsWith('"')).toBe(true)
    expect(shown).not.toMatch(/[\r\n]/)
    expect(shown).not.toContain('##[')
    expect(shownVersionId('short')).toBe('"short"')
  })
})

describe('masking', () => {
  it('does not register short or common values, and says why', () => {
    expect(unmaskableReason('e')).toBe('shorter than 4 characters')
    expect(unmaskableReason('true')).toBe('a boolean')
    expect(unmaskableReason('FALSE')).toBe('a boolean')
    expect(unmaskableReason('22')).toBe('a plain number')
    expect(unmaskableReason('3.14')).toBe('a plain number')
    expect(unmaskableReason('s3cr')).toBeUndefined()
    expect(unmaskableReason('')).toBeUndefined()
  })

  it('registers long values whole, trimmed and line by line, and redacts them', () => {
    const written: string[] = []
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
      written.push(String(chunk))
      return true
    })
    try {
      maskSecret('  first-secret-line\nsecond-secret-line  ')
      maskSecret('true')
      maskSecret('e')
    } finally {
      spy.mockRestore()
    }
    const masks = written
      .join('')
      .split('\n')
      .filter(line => line.startsWith('::add-mask::'))
    expect(masks).toEqual(
      expect.arrayContaining(['::add-mask::first-secret-line', '::add-mask::second-secret-line'])
    )
    expect(masks).not.toContain('::add-mask::true')
    expect(masks).not.toContain('::add-mask::e')
    expect(redact('a first-secret-line b, true e')).toBe('a *** b, true e')
  })
})
