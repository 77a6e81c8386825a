// The retried health check, run by a real /bin/sh with the system's curl against an HTTP server
// here, as it runs on the instance: until 2xx within health-timeout, with backoff, else failing
// with what it last saw.
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { retriedCheck } from '../src/restart/health-check.js'
import { restartScript, checkServiceName } from '../src/restart/script.js'

let server: Server
let answers: number[]
let hits = 0
let url: string

beforeAll(async () => {
  server = createServer((_request, response) => {
    hits++
    response.statusCode = answers.shift() ?? 200
    response.end('ok')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
})
afterAll(() => new Promise(resolve => server.close(resolve)))
beforeEach(() => (hits = 0))

function sh(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    execFile('/bin/sh', ['-c', line], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

describe('the retried health check', () => {
  it('probes the URL until it answers 2xx', async () => {
    answers = [503, 502]
    const result = await sh(retriedCheck({ url, timeoutSeconds: 20 }, '') as string)
    expect(result.code).toBe(0)
    expect(hits).toBe(3)
    expect(result.stdout).toContain('answered HTTP 200 (try 3)')
  }, 30_000)

  it('fails within its time, saying what it last saw', async () => {
    answers = Array(50).fill(500)
    const started = Date.now()
    const result = await sh(retriedCheck({ url, timeoutSeconds: 2 }, '') as string)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Not healthy within 2 s')
    expect(result.stderr).toContain('the last: HTTP 500')
    expect(Date.now() - started).toBeLessThan(10_000)
  }, 30_000)

  it('retries the health command the same way, given as one word', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sda-health-'))
    try {
      const flag = join(dir, 'ready')
      setTimeout(() => writeFileSync(flag, ''), 1200)
      const result = await sh(
        retriedCheck({ url: '', timeoutSeconds: 20 }, `test -f '${flag}'`) as string
      )
      expect(result.code).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  it('is not used for a single check without a timeout', () => {
    expect(retriedCheck({ url: '', timeoutSeconds: undefined }, 'true')).toBeUndefined()
    const script = restartScript(checkServiceName('fastapi'), '', { url: '' })
    expect(script.sshSteps.check).toBe('systemctl is-active -- fastapi')
    const probed = restartScript(checkServiceName('fastapi'), '', { url })
    expect(probed).toMatchObject({ healthUrl: true, checkSeconds: 60 })
  })
})
