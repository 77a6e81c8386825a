import { cliLogger, inertJson, printJson, type Io } from '../src/cli/io.js'
import { createLogMasker } from '../test-support/runner.js'

/** An Io that keeps what the command line writes on each stream. */
function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return {
    stdout,
    stderr,
    out: line => stdout.push(line),
    err: line => stderr.push(line),
    color: false,
    readValue: async () => ''
  }
}

/** The workflow commands the runner would carry out for these lines (one string may hold many). */
function obeyed(text: string[]): string[] {
  const runner = createLogMasker()
  for (const line of text.flatMap(t => t.split('\n'))) runner.line(line)
  return runner.commands.map(command => command.line)
}

// What whoever may write a secret can put in a key name, a value or a version id.
const HOSTILE = {
  '::warning title=x::y': '::set-output name=deploy-approved::yes',
  '##[error]key': 'value ##[add-mask]fastapi',
  'line\n::stop-commands::x': 'a\u2028b\u0085c\u009b[2Jd',
  'brackets [] and # in a key': ['##', '[', '#'].join('')
}

describe('inertJson', () => {
  it('is JSON that reads back as the same value, with no "##[" and no command at a line start', () => {
    const value = { keys: HOSTILE, list: [HOSTILE, ['##[error]in-an-array']], n: 1, ok: true }
    const text = inertJson(value)
    expect(JSON.parse(text)).toEqual(value)
    expect(text).not.toContain('##[')
    expect(text).not.toMatch(/[#\u0085\u009b\u2028]/)
    expect(obeyed([text])).toEqual([])
    // Arrays and objects keep their brackets: only strings are escaped.
    expect(text).toContain('"list": [')
    expect(text).toContain('"\\u0023\\u0023\\u005berror]key"')
  })

  it('leaves a string without those characters as JSON.stringify writes it', () => {
    const value = { secret: 'FastAPIAppSecrets', versionId: 'a1b2c3d4-5678', escaped: 'q"\\\n' }
    expect(inertJson(value)).toBe(JSON.stringify(value, null, 2))
  })

  it('is what printJson prints, on standard output alone', () => {
    const io = capture()
    printJson(io, HOSTILE)
    expect(io.stdout).toEqual([inertJson(HOSTILE)])
    expect(io.stderr).toEqual([])
  })
})

describe('cliLogger', () => {
  it('writes plain text to standard error, one line each, after a fixed word', () => {
    const io = capture()
    const logger = cliLogger(io)
    logger.warning('The secret has key "::warning::x\n::add-mask::fastapi"')
    logger.error('::error::an error that starts with a command')
    logger.info('  ::stop-commands::indented')
    logger.debug('never shown')
    expect(io.stdout).toEqual([])
    expect(io.stderr).toHaveLength(3)
    expect(io.stderr[0]).toMatch(/^warning: The secret has key /)
    expect(io.stderr[1]).toMatch(/^error: /)
    for (const line of io.stderr) expect(line).not.toMatch(/[\r\n]/)
    expect(obeyed(io.stderr)).toEqual([])
  })

  it('says a warning once', () => {
    const io = capture()
    const logger = cliLogger(io)
    logger.warning('A version of the secret "S" has key "port" (a plain number)')
    logger.warning('A version of the secret "S" has key "port" (a plain number)')
    logger.warning('Another warning')
    expect(io.stderr).toEqual([
      'warning: A version of the secret "S" has key "port" (a plain number)',
      'warning: Another warning'
    ])
  })
})
