import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tables, withTables } from '../scripts/readme-tables.js'
import { repoRoot } from './helpers/run-bundle.js'

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
const actionYml = readFileSync(join(repoRoot, 'action.yml'), 'utf8')

describe('README.md', () => {
  it('has the input and output tables of action.yml, exactly (npm run docs rewrites them)', () => {
    expect(withTables(readme, actionYml)).toBe(readme)
  })

  it('would notice an input added to action.yml but not to the README', () => {
    const added = actionYml.replace(
      'inputs:\n',
      "inputs:\n  new-input:\n    description: 'New.'\n    default: 'x'\n"
    )
    expect(tables(added).inputs).toContain('| `new-input` | `x` | New. |')
    expect(withTables(readme, added)).not.toBe(readme)
  })

  it('gives the commands a newcomer runs', () => {
    expect(readme).toContain('npm ci && npm test')
    expect(readme).toContain('npm run demo')
  })
})
