// The failure logs' pieces in-process: the remote command, the reading of its output, the lines
// as the log and the summary show them. End to end: e2e-failure-logs.test.ts (SSH), ssm.test.ts.
import { parse } from 'shell-quote'
import {
  collectFromText,
  failureLogsCommand,
  FailureLogCollector,
  shownLine
} from '../src/restart/failure-logs.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import { FAILED_JOURNAL, FAILED_STATUS, JOURNAL_HINT } from '../test-support/sshd.js'

const MARKER = 'sda-logs-0123456789abcdef01234567'
const unit = checkServiceName('fastapi.service')

function output(status: string, journal: string, end = true): string {
  return [
    'restart output',
    `${MARKER} status`,
    status,
    `${MARKER} journal`,
    journal,
    ...(end ? [`${MARKER} end`] : [])
  ].join('\n')
}

describe('failureLogsCommand', () => {
  it('asks for the status, then the journal through sudo -n, then as the login user', () => {
    const command = failureLogsCommand(unit, MARKER)
    const words = parse(command).filter((w): w is string => typeof w === 'string')
    expect(command).toContain('systemctl status --no-pager -- fastapi.service 2>&1')
    expect(command).toContain(
      '{ timeout 20 sudo -n journalctl -u fastapi.service -n 50 --no-pager 2>/dev/null || timeout 20 journalctl -u fastapi.service -n 50 --no-pager; } 2>&1'
    )
    expect(words).toContain(`${MARKER} end`)
  })

  it('is part of the Run Command line only when asked for, after the failure, keeping its code', () => {
    expect(restartScript(unit, '').runCommandLines).toEqual([
      'systemctl restart -- fastapi.service && systemctl is-active -- fastapi.service'
    ])
    const script = restartScript(unit, '', undefined, true)
    expect(script.runCommandLines[0]).toMatch(
      /^systemctl restart -- fastapi\.service && systemctl is-active -- fastapi\.service \|\| \{ s=\$\?; .*; exit "\$s"; \}$/
    )
    expect(script.failureLogs?.marker).toMatch(/^sda-logs-[0-9a-f]{24}$/)
    expect(restartScript(unit, '', undefined, true).failureLogs?.marker).not.toBe(
      script.failureLogs?.marker
    )
  })
})

describe('reading the output', () => {
  it('sorts the status and the journal, and keeps what came before apart', () => {
    const { before, logs } = collectFromText(
      output(FAILED_STATUS, FAILED_JOURNAL),
      'fastapi',
      MARKER
    )
    expect(before).toBe('restart output')
    expect(logs?.status.join('\n')).toBe(FAILED_STATUS)
    expect(logs?.journal.join('\n')).toBe(FAILED_JOURNAL)
    expect(logs?.unreadable).toBeUndefined()
    expect(logs?.cut).toBeUndefined()
  })

  it("says in one line that the journal is unreadable on journalctl's hint", () => {
    const { logs } = collectFromText(
      output(FAILED_STATUS, `${JOURNAL_HINT}\n-- No entries --`),
      'fastapi',
      MARKER
    )
    expect(logs?.journal).toEqual([])
    expect(logs?.unreadable).toMatch(/^The journal of "fastapi" is not readable by the login user/)
  })

  it('says so too when journalctl printed nothing', () => {
    const { logs } = collectFromText(output(FAILED_STATUS, ''), 'fastapi', MARKER)
    expect(logs?.unreadable).toMatch(/^journalctl printed nothing for "fastapi"/)
  })

  it('finds no logs in output without the markers, and says when the end is missing', () => {
    expect(collectFromText('just output', 'fastapi', MARKER)).toEqual({ before: 'just output' })
    const { logs } = collectFromText(output('s', 'j', false), 'fastapi', MARKER)
    expect(logs?.cut).toBe('the instance stopped answering mid-way')
  })

  it('keeps the last lines within its budget, and counts what it read', () => {
    const collector = new FailureLogCollector('fastapi', MARKER)
    collector.line(`${MARKER} journal`)
    for (let i = 0; i < 10_000; i++) collector.line(`line ${i} ${'x'.repeat(100)}`)
    collector.line(`${MARKER} end`)
    const logs = collector.collected()
    expect(collector.readBytes).toBeGreaterThan(1_000_000)
    expect(logs.journal.at(-1)).toMatch(/^line 9999 /)
    expect(logs.journal.join('\n').length).toBeLessThanOrEqual(64 * 1024)
    expect(logs.cut).toMatch(/earlier lines were dropped/)
  })
})

describe('shownLine', () => {
  it.each([
    ['postgres://app:hunter2-pass@db:5432/app', 'postgres://app:***@db:5432/app'],
    [
      'DATABASE_URL=mysql+pymysql://root:p%40ss@10.0.0.5/db',
      'DATABASE_URL=mysql+pymysql://root:***@10.0.0.5/db'
    ],
    ['redis://:only-a-password@cache:6379', 'redis://:***@cache:6379'],
    ['https://example.com/path?q=a:b@c', 'https://example.com/path?q=a:b@c'],
    ['two: amqp://u:p1@h and amqp://v:p2@k', 'two: amqp://u:***@h and amqp://v:***@k']
  ])('redacts the credentials in %s', (line, shown) => {
    expect(shownLine(line)).toBe(shown)
  })

  it('drops control characters and bounds the line', () => {
    expect(shownLine('a\u001b[31mred\u0007')).toBe('a[31mred')
    expect(shownLine('y'.repeat(5000))).toMatch(/^y{1024} \[\.\.\. cut at 1024 bytes\]$/)
  })
})
