// The one "restart, then check" builder, run by a real /bin/sh as sshd and AWS-RunShellScript run
// it: `systemctl` and `sudo` are stand-ins first on PATH that record the words they got, so the
// test sees what the instance would run, whatever the quoting looked like.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkServiceName, restartScript } from '../src/restart/script.js'

let dir: string
const FIELD = '\x1f'

/** A stand-in first on PATH: records its name and words, then does `then`. */
function standIn(name: string, then = ''): void {
  const record = `printf '%s${FIELD}' "\${0##*/}" "$@" >> '${dir}/calls'; printf '\\n' >> '${dir}/calls'`
  writeFileSync(join(dir, name), `#!/bin/sh\n${record}\n${then}\n`)
  chmodSync(join(dir, name), 0o755)
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sda-script-'))
  standIn('systemctl')
  // sudo -n: recorded, then runs the rest as this user.
  standIn('sudo', 'shift\nexec "$@"')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs `line` as /bin/sh runs a command line; returns the stand-ins' calls and stdout. */
function runLine(line: string): { calls: string[][]; stdout: string } {
  writeFileSync(join(dir, 'calls'), '')
  const result = spawnSync('/bin/sh', ['-c', line], {
    env: { PATH: `${dir}:/usr/bin:/bin`, LANG: 'C' },
    encoding: 'utf8'
  })
  const calls = readFileSync(join(dir, 'calls'), 'utf8')
    .split('\n')
    .filter(entry => entry !== '')
    .map(entry => entry.split(FIELD).slice(0, -1))
  return { calls, stdout: result.stdout }
}

/** What the health command prints when sh runs it as it stands. */
const direct = (command: string) =>
  spawnSync('/bin/sh', ['-c', command], {
    env: { PATH: '/usr/bin:/bin', LANG: 'C' },
    encoding: 'utf8'
  }).stdout

const UNITS = ['fastapi', 'worker@blue.service', 'sys-fs-fuse\\x2dconnections.mount', 'a:b_c.d']

// Health commands as workflows write them: quotes of both kinds, expansions, history characters,
// backslashes, several lines; each must reach `sh -c` as written.
const HEALTH_COMMANDS = [
  `curl -fsS 'http://127.0.0.1:8000/health' || echo "not up"`,
  `echo "it's $((1 + 2))"; echo '$HOME stays' "\\$HOME too"`,
  `printf '%s\\n' 'a  b' "c\\\\d" "!bang" '!single'`,
  'echo one\necho "two"\n  echo three',
  "echo `echo backticks` && echo '&&' ; echo \"'\"'\"'"
]

describe('restartScript', () => {
  it.each(UNITS)('restarts and checks unit %j, exactly, over SSH and over SSM', unit => {
    const script = restartScript(checkServiceName(unit), '')

    expect(runLine(script.sshSteps.restart).calls).toEqual([
      ['sudo', '-n', 'systemctl', 'restart', '--', unit],
      ['systemctl', 'restart', '--', unit]
    ])
    expect(runLine(script.sshSteps.check).calls).toEqual([['systemctl', 'is-active', '--', unit]])
    expect(script.runCommandLines).toHaveLength(1)
    expect(runLine(script.runCommandLines[0]).calls).toEqual([
      ['systemctl', 'restart', '--', unit],
      ['systemctl', 'is-active', '--', unit]
    ])
  })

  it.each(HEALTH_COMMANDS)('runs health command %j as written', command => {
    const script = restartScript(checkServiceName('fastapi'), command)
    const expected = direct(command)

    expect(script.healthCommand).toBe(true)
    expect(runLine(script.sshSteps.check)).toEqual({ calls: [], stdout: expected })
    expect(runLine(script.runCommandLines[0])).toEqual({
      calls: [['systemctl', 'restart', '--', 'fastapi']],
      stdout: expected
    })
  })

  it('runs the check over SSM only after a restart that succeeded', () => {
    standIn('systemctl', 'exit 5')
    try {
      const script = restartScript(checkServiceName('fastapi'), 'echo checked')
      const result = spawnSync('/bin/sh', ['-c', script.runCommandLines[0]], {
        env: { PATH: `${dir}:/usr/bin:/bin` },
        encoding: 'utf8'
      })
      expect(result.status).toBe(5)
      expect(result.stdout).toBe('')
    } finally {
      standIn('systemctl')
    }
  })
})
