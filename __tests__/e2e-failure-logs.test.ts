// Input "failure-logs" through the bundle as the runner runs it, on a real OpenSSH server: when
// the restart or its check fails, the unit's `systemctl status` and its last journal lines are in
// a collapsed log group and the last 10 in the summary's failure section, as untrusted text. The
// stand-ins' samples (test-support/sshd.js) name where their shape comes from: FAILED_STATUS (a
// real `systemctl status` of a failed unit), JOURNAL_HINT (systemd's src/shared/journal-util.c).
import { FAILED_JOURNAL, startSshd, type SshdFixture } from '../test-support/sshd.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { renderMarkdown } from './helpers/markdown.js'
import { HOSTILE_VALUES, readablePieces, runBundle, type BundleRun } from './helpers/run-bundle.js'
import { obeyedCommands } from './helpers/runner-commands.js'

let aws: LocalAws
let sshd: SshdFixture
let deployment: Record<string, string>

beforeAll(async () => {
  sshd = await startSshd()
})
afterAll(() => sshd.stop())

beforeEach(async () => {
  await sshd.clearCalls()
  await sshd.setBehaviour({})
  aws = await startLocalAws()
  deployment = {
    ...EXAMPLE_DEPLOYMENT,
    ec2_user: sshd.user,
    ec2_host: '127.0.0.1',
    ...HOSTILE_VALUES
  }
  aws.putSecret('FastAPIDeploymentSecrets', deployment)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
})
afterEach(() => aws.stop())

/** A restart at the address the secret holds, checked against the pinned host key. */
function restartInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    deploy: 'false',
    'ssh-private-key': sshd.clientPrivateKey,
    'ssh-port': String(sshd.port),
    'ssh-host-fingerprint': sshd.hostFingerprint,
    'ssh-connect-timeout': '10',
    'ssh-command-timeout': '10',
    ...extra
  }
}

const JOURNAL = ['journalctl', '-u', 'fastapi', '-n', '50', '--no-pager']
/** The stand-ins record sudo, then the command it runs. */
const JOURNAL_COMMANDS = [
  ['systemctl', 'status', '--no-pager', '--', 'fastapi'],
  ['sudo', '-n', ...JOURNAL],
  JOURNAL
]

/** The lines of the log group of the unit's status and journal, as the log shows them. */
function failureLogsGroup(run: BundleRun): string[] {
  const lines = run.visibleLog.split('\n')
  const start = lines.findIndex(line => line.startsWith('::group::"fastapi" on '))
  expect(start).toBeGreaterThanOrEqual(0)
  const end = lines.indexOf('::endgroup::', start)
  return lines.slice(start + 1, end)
}

describe('failure-logs, end to end over SSH', () => {
  it("shows the unit's status and journal when the unit is not active after the restart", async () => {
    await sshd.setBehaviour({ activeState: 'failed' })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(sshd.calls().slice(-3)).toEqual(JOURNAL_COMMANDS)
    const group = failureLogsGroup(run).join('\n')
    expect(group).toContain('Active: failed (Result: exit-code)')
    expect(group).toContain(FAILED_JOURNAL)
    // The summary: the failure, then the journal's last lines.
    const html = renderMarkdown(run.summary).html
    expect(html).toContain('The last 4 journal lines of <code>fastapi</code>')
    expect(html).toContain('KeyError: &#39;db_password&#39;')
  })

  it('keeps only the last 10 journal lines in the summary, and all 50 in the log', async () => {
    const journal = Array.from(
      { length: 50 },
      (_, i) => `Jan 22 19:19:52 host uvicorn[1]: line ${i + 1}`
    )
    await sshd.setBehaviour({ restartExitCode: 1, journal: journal.join('\n') })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(failureLogsGroup(run)).toEqual(expect.arrayContaining(journal))
    expect(run.summary).toContain('The last 10 journal lines')
    expect(run.summary).toContain('line 41')
    expect(run.summary).toContain('line 50')
    expect(run.summary).not.toContain('line 40\n')
  })

  it('leaves workflow commands and markup in the journal inert, and redacts URL credentials and secrets', async () => {
    const attack = [
      '::set-output name=restarted::true',
      '   ::error::forged by the journal',
      'app[1]: ##[warning]forged legacy command',
      'app[1]: </pre><h1>owned</h1><img src=x onerror=alert(1)>',
      'app[1]: connecting to postgres://app:Sup3rS3cretDbPass@db.internal:5432/app',
      `app[1]: password is ${HOSTILE_VALUES.json_inside}`
    ]
    await sshd.setBehaviour({ activeState: 'failed', journal: attack.join('\n') })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    const obeyed = obeyedCommands(run.stdout.split('\n'))
    expect(obeyed.filter(name => name === 'error')).toHaveLength(1)
    expect(obeyed).not.toContain('set-output')
    expect(obeyed).not.toContain('warning')
    expect(run.outputs.restarted).toBe('false')
    expect(run.visibleLog).toContain('postgres://app:***@db.internal:5432/app')
    expect(run.stdout + run.stderr).not.toContain('Sup3rS3cretDbPass')
    expect(run.summary).not.toContain('Sup3rS3cretDbPass')
    for (const piece of readablePieces(HOSTILE_VALUES.json_inside)) {
      expect(run.visibleLog).not.toContain(piece)
      expect(run.summary).not.toContain(piece)
    }
    const html = renderMarkdown(run.summary).html
    expect(html).not.toMatch(/<h1>|<img/)
    expect(html).toContain('&lt;/pre&gt;&lt;h1&gt;owned')
  })

  it('cuts a journal of 10 MiB, reading no more than it keeps bounded', async () => {
    const line = `app[1]: ${'x'.repeat(1000)}`
    await sshd.setBehaviour({ activeState: 'failed', journal: line, journalRepeat: 10 * 1024 })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('[Output cut: more than 1 MiB arrived, so the rest was not read.]')
    expect(run.stdout.length).toBeLessThan(1024 * 1024)
    expect(Buffer.byteLength(run.summary)).toBeLessThan(64 * 1024)
  })

  it('says in one line that the journal is unreadable when sudo refuses journalctl and the user may not read it', async () => {
    await sshd.setBehaviour({
      activeState: 'failed',
      sudoRefusesJournal: true,
      journalUnreadable: true
    })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    // sudo refuses: journalctl runs once, as the login user.
    expect(sshd.calls().slice(-3)).toEqual(JOURNAL_COMMANDS)
    const unreadable = 'The journal of "fastapi" is not readable by the login user'
    expect(run.stdout.split('\n').filter(l => l.startsWith(unreadable))).toHaveLength(1)
    expect(run.stdout).not.toContain('-- No entries --')
    expect(run.summary).toContain('is not readable by the login user')
  })

  it('reads the journal as the login user when sudo refuses journalctl', async () => {
    await sshd.setBehaviour({ activeState: 'failed', sudoRefusesJournal: true })
    const run = await runBundle(restartInputs(), aws.environment())
    expect(run.code).toBe(1)
    expect(failureLogsGroup(run).join('\n')).toContain(FAILED_JOURNAL)
    expect(run.stdout).not.toContain('a password is required')
  })

  it('runs no journal command with failure-logs: false', async () => {
    await sshd.setBehaviour({ activeState: 'failed' })
    const run = await runBundle(restartInputs({ 'failure-logs': 'false' }), aws.environment())
    expect(run.code).toBe(1)
    expect(sshd.calls().map(call => call[0])).not.toContain('journalctl')
    expect(sshd.calls().map(call => call[1])).not.toContain('status')
    expect(run.visibleLog).not.toContain('::group::"fastapi"')
    expect(run.summary).not.toContain('journal lines')
  })

  it('refuses a failure-logs that is not true or false, before anything happens', async () => {
    const run = await runBundle(restartInputs({ 'failure-logs': 'yes' }), aws.environment())
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('::error::Input "failure-logs" must be true or false, not "yes".')
    expect(sshd.calls()).toEqual([])
  })
})

describe('failure-logs, end to end over SSM', () => {
  it("shows the unit's journal from the same Run Command in the log and the summary", async () => {
    const instance = 'i-0aaa0000000000001'
    aws.addInstance({ instanceId: instance, publicIp: '203.0.113.1' })
    aws.ssm.addAgent(instance, {
      outcome: 'failure',
      journal: 'app[1]: KeyError: db_password\napp[1]: ::set-output name=restarted::true'
    })
    const run = await runBundle(
      { deploy: 'false', targets: instance, restart: 'ssm' },
      aws.environment()
    )
    expect(run.code).toBe(1)
    expect(run.outputs.restarted).toBe('false')
    expect(aws.callsOf('SendCommand')).toHaveLength(1)
    expect(run.visibleLog).toContain(
      `::group::"fastapi" on ${instance}: systemctl status and journalctl`
    )
    expect(run.summary).toContain('app[1]: KeyError: db_password')
    expect(obeyedCommands(run.stdout.split('\n'))).not.toContain('set-output')
  })
})
