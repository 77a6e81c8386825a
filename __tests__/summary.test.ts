import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '@actions/core'
import { newReport, writeSummary, type RunReport } from '../src/action/summary.js'

// @actions/core reads the path from process.env once and keeps it: one file for the whole suite.
const dir = mkdtempSync(join(tmpdir(), 'sda-summary-'))
const file = join(dir, 'summary')

beforeAll(() => {
  process.env.GITHUB_STEP_SUMMARY = file
})
beforeEach(() => writeFileSync(file, ''))
afterEach(() => {
  core.summary.emptyBuffer()
})
afterAll(() => {
  delete process.env.GITHUB_STEP_SUMMARY
  rmSync(dir, { recursive: true, force: true })
})

async function summaryOf(report: RunReport): Promise<string> {
  await writeSummary(report, { GITHUB_STEP_SUMMARY: file })
  return readFileSync(file, 'utf8')
}

// A markdown renderer treats what follows a blank line after an HTML block as markdown; these
// are what an SSH server, a remote command or a CDK app would like to see rendered.
const MARKUP =
  'connection closed\r\r\n\n# Approve the deploy\n![t](https://evil.example/t.png)\n' +
  '[Approve here](https://evil.example/)\n</pre><script>x</script>\n\n| a | b |'

describe('the job summary', () => {
  it('says which keys were rotated and how the rotation was undone, on one line, escaped', async () => {
    const summary = await summaryOf({
      ...newReport(),
      rotation: {
        secretId: 'FastAPIAppSecrets',
        keys: ['jwt_secret', '<b>key</b>'],
        versionId: 'v-new\n## heading',
        undone: { versionId: 'v-old', restartedAgain: `restarting again failed too: ${MARKUP}` }
      }
    })
    const line = summary.split('\n').find(l => l.startsWith('<p>Rotated'))
    expect(line).toBe(
      '<p>Rotated <code>jwt_secret</code>, <code>&lt;b&gt;key&lt;/b&gt;</code> of the app secret ' +
        '<code>FastAPIAppSecrets</code>: version <code>&quot;v-new ## heading&quot;</code>; undone: the old ' +
        'values are back in version <code>&quot;v-old&quot;</code>, restarting again failed too: connection closed # Approve ' +
        'the deploy ![t](https://evil.example/t.png) [Approve here](https://evil.example/) ' +
        '&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt; | a | b |</p>'
    )
  })

  it('keeps a failure message inside one <pre> block, escaped', async () => {
    const summary = await summaryOf({ ...newReport(), failure: `SSH failed: ${MARKUP}` })
    const lines = summary.split('\n')
    const start = lines.findIndex(line => line.startsWith('<pre>'))
    const end = lines.findIndex(line => line.includes('</pre>'))
    expect(start).toBeGreaterThan(-1)
    // The only closing tag is the block's own, on its last line.
    expect(summary.split('</pre>')).toHaveLength(2)
    expect(lines[end].endsWith('</pre>')).toBe(true)
    expect(summary).toContain('&lt;/pre&gt;&lt;script&gt;')
    expect(summary).not.toContain('<script>')
    // Outside the block, every non-empty line is HTML the action wrote.
    const outside = [...lines.slice(0, start), ...lines.slice(end + 1)]
    for (const line of outside.filter(line => line.trim() !== '')) expect(line).toMatch(/^</)
  })

  it('bounds a huge failure message', async () => {
    const summary = await summaryOf({ ...newReport(), failure: 'x'.repeat(8 * 1024 * 1024) })
    expect(summary.length).toBeLessThan(20 * 1024)
    expect(summary).toContain('[... cut at 16384 bytes]')
  })

  it("holds a preview's whole diff, and cuts one that escaping would take past GitHub's 1 MiB", async () => {
    const preview = (whole: string) => ({
      ...newReport(),
      preview: { stack: 'S', verdict: '1 resource changes', risks: [], text: 'cut', whole }
    })
    const whole = Array.from({ length: 5000 }, (_, i) => `[+] AWS::SSM::Parameter P${i} <P${i}>`)
    const summary = await summaryOf(preview(whole.join('\n')))
    expect(summary).toContain('[+] AWS::SSM::Parameter P4999 &lt;P4999&gt;</pre>')
    // Six bytes for each character once escaped, and 2 MiB of them.
    writeFileSync(file, '')
    const hostile = await summaryOf(preview('"'.repeat(2 * 1024 * 1024)))
    expect(Buffer.byteLength(hostile)).toBeLessThan(800 * 1024)
    expect(hostile).toMatch(/(&quot;)+\n\[\.\.\. cut at 786432 bytes\]<\/pre>/)
  })

  it('puts every other value on one line, so no blank line can end the HTML', async () => {
    const summary = await summaryOf({
      ...newReport(),
      restart: { host: '203.0.113.7:22', unit: 'fastapi', result: `failed: ${MARKUP}` },
      deploy: { stack: 'Stack\n\n# x', instanceId: 'i-0abc', address: '203.0.113.7' }
    })
    expect(summary).not.toMatch(/\n\s*\n(?!$)/)
    expect(summary).not.toMatch(/^#/m)
    expect(summary).not.toContain('<script>')
  })

  it('shows a fleet restart as a table, with what SSM said escaped and on one line', async () => {
    const summary = await summaryOf({
      ...newReport(),
      fleet: {
        unit: 'fastapi',
        commandIds: ['0b2c1d4e-0000-4000-8000-000000000001'],
        results: [
          { instanceId: 'i-0123456789abcdef0', status: 'Success', exitCode: 0, durationMs: 1500 },
          { instanceId: 'i-0123456789abcdef1', status: MARKUP }
        ]
      }
    })
    expect(summary).toContain(
      '<tr><td><code>i-0123456789abcdef0</code></td><td>Success</td><td>0</td><td>1.5 s</td></tr>'
    )
    expect(summary).toContain('1 of 2 instances succeeded')
    expect(summary).toMatch(
      /<td><code>i-0123456789abcdef1<\/code><\/td><td>.*<\/td><td>-<\/td><td>-<\/td><\/tr>/
    )
    expect(summary).not.toContain('<script>')
    expect(summary).not.toMatch(/\n\s*\n/)
  })

  it('says a fleet went over SSH, with no command id', async () => {
    const summary = await summaryOf({
      ...newReport(),
      fleet: {
        unit: 'fastapi',
        commandIds: [],
        via: 'ssh',
        results: [{ instanceId: 'i-0123456789abcdef0', status: 'Unknown' }]
      }
    })
    expect(summary).toContain(
      'Restart of <code>fastapi</code> over SSH: 0 of 1 instances succeeded'
    )
    expect(summary).not.toContain('Run Command')
  })

  it('shows a version id that is not AWS-shaped quoted, on one line, escaped', async () => {
    const versionId = 'v0\n\n# Approve\n<img src=x>\n::warning::x'
    const summary = await summaryOf({
      ...newReport(),
      secretsRead: [
        { role: 'deployment', id: 'Deploy', versionId },
        { role: 'app', id: 'App', versionId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111' }
      ],
      writeBack: { key: 'ec2_host', changed: true, versionId }
    })
    const shown = '<code>&quot;v0 # Approve &lt;img src=x&gt; ::warning::x&quot;</code>'
    expect(summary).toContain(`<td>${shown}</td>`)
    expect(summary).toContain(`new secret version ${shown}</p>`)
    expect(summary).toContain('<td><code>a1b2c3d4-5678-90ab-cdef-EXAMPLE11111</code></td>')
    expect(summary).not.toMatch(/^(#|::)/m)
  })

  it('lists the exported outputs and environment variables', async () => {
    const summary = await summaryOf({
      ...newReport(),
      exportedKeys: ['ec2_host', 'ec2_user'],
      exportedEnv: ['EC2_HOST']
    })
    expect(summary).toContain(
      'Exported as step outputs: <code>ec2_host</code>, <code>ec2_user</code>'
    )
    expect(summary).toContain('Exported as environment variables: <code>EC2_HOST</code>')
  })
})
