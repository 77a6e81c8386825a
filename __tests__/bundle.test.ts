// What ships in dist/: the runner executes it as committed, and scanners read it as a whole.
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
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
})
