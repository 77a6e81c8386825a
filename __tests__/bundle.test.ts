// What ships in dist/: the runner executes it as committed, and scanners read it as a whole.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import * as core from '@actions/core'
import { repoRoot } from './helpers/run-bundle.js'

const dist = join(repoRoot, 'dist')

describe('the committed bundle', () => {
  const files = readdirSync(dist, { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry => join(entry.parentPath, entry.name))

  it('holds JavaScript and its notices, nothing else', () => {
    const others = files.filter(file => !/\.(js|json|txt)$/.test(file))
    expect(others).toEqual([])
  })

  it('holds no Windows executable (ssh2 ships pagent.exe for an agent the action never asks)', () => {
    // "MZ" starts every Windows executable and DLL, whatever its name.
    const executables = files.filter(file => readFileSync(file).subarray(0, 2).toString() === 'MZ')
    expect(files.length).toBeGreaterThan(1)
    expect(executables).toEqual([])
  })

  it("carries no HTTP client: @actions/core's OIDC helper is left out (package.json overrides)", () => {
    // The action never calls core.getIDToken; with the stand-in for @actions/http-client nothing
    // pulls undici (nearly half of the old bundle) into any chunk.
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain('undici')
  })
})

describe('core.getIDToken, which the action never calls', () => {
  it('fails with a message instead of loading an HTTP client', async () => {
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = 'http://127.0.0.1:9/token'
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'request-token'
    try {
      await expect(core.getIDToken('sts.amazonaws.com')).rejects.toThrow(
        'does not bundle an HTTP client'
      )
    } finally {
      delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL
      delete process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
    }
  })
})
