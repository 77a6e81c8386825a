import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')
}

/** The anchors of a markdown page's headings, outside code blocks. */
function anchors(text: string): Set<string> {
  const found = new Set<string>()
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = fenced ? undefined : /^#{1,6} (.*)$/.exec(line)?.[1]
    if (heading) found.add(anchor(heading))
  }
  return found
}

describe('the README and docs/', () => {
  const pages = [
    'README.md',
    ...readdirSync(join(repoRoot, 'docs')).map(name => join('docs', name))
  ]

  it('link only to pages and headings that exist', () => {
    const broken: string[] = []
    for (const page of pages) {
      const text = readFileSync(join(repoRoot, page), 'utf8')
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        const [path, hash] = target.split('#')
        const file = path ? join(dirname(page), path) : page
        if (!existsSync(join(repoRoot, file))) broken.push(`${page}: ${target}`)
        else if (hash && file.endsWith('.md')) {
          if (!anchors(readFileSync(join(repoRoot, file), 'utf8')).has(hash))
            broken.push(`${page}: ${target}`)
        }
      }
    }
    expect(broken).toEqual([])
  })

  it('keep the first screens for deciding and starting: the reference lives in docs/', () => {
    // A newcomer reads what it does, the quick start, the ways to reach an instance and the
    // inputs before anything else.
    const headings = [...readme.matchAll(/^## (.*)$/gm)].map(match => match[1])
    expect(headings.slice(0, 3)).toEqual([
      'Quick start',
      'Reaching the instance',
      'What one run does'
    ])
    for (const page of pages.filter(page => page !== 'README.md'))
      expect(readme).toContain(`](${page})`)
  })
})
