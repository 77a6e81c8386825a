// What ships in dist/: the runner executes it as committed, and scanners read it as a whole.
import { readFileSync, readdirSync } from 'node:fs'
import { isBuiltin } from 'node:module'
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

  it("loads Node's built-in modules through require() only, apart from its banner's three", () => {
    // An ES import of node:http reads its lazy exports, which load Node 24's own undici; a chunk
    // made for a dynamic import of a built-in would export only "default" (scripts/build.js).
    const builtinImport = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)["'](node:[\w/]+|[a-z_]+)["']/g
    const imported = new Set<string>()
    for (const file of files.filter(file => file.endsWith('.js'))) {
      for (const [, name] of readFileSync(file, 'utf8').matchAll(builtinImport)) {
        if (isBuiltin(name)) imported.add(name)
      }
    }
    expect([...imported].sort()).toEqual(['node:module', 'node:path', 'node:url'])
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
