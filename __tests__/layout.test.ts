// The folders of src/ show the pipeline, and imports only point down: the action runs the phases,
// the phases use the parts (the restart engine over the secrets, the CDK CLI and EC2), the parts
// use AWS's clients and the small helpers under lib/. The command line stands beside the phases
// and shares the parts below them. A folder that imports one at its own level or above would tie
// the house into a knot that no newcomer can read from top to bottom.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { repoRoot } from './helpers/run-bundle.js'

/** The floor of each folder of src/: a file may import only from a lower floor, or its own folder. */
const FLOORS: Record<string, number> = {
  action: 6,
  phases: 5,
  cli: 5,
  restart: 4,
  secrets: 3,
  cdk: 3,
  ec2: 3,
  release: 3,
  aws: 2,
  lib: 1
}

const src = join(repoRoot, 'src')

function sources(folder: string): string[] {
  return readdirSync(folder).flatMap(name => {
    const path = join(folder, name)
    if (statSync(path).isDirectory()) return sources(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** The runner's entry points at the top of src/ (action.yml's main and post): above every floor. */
const ENTRIES = new Set(['index', 'post'])

/** The top folder of src/ a path is in ("index" for src/index.ts). */
const folderOf = (path: string): string => relative(src, path).split('/')[0].replace(/\.ts$/, '')

/** Every relative import of a file (static and dynamic), as the path it names. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/from '(\.{1,2}\/[^']+)'|import\('(\.{1,2}\/[^']+)'\)/g)]
    .map(match => match[1] ?? match[2])
    .filter(spec => spec.endsWith('.js'))
    .map(spec => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
}

/** The imports among `edges` (importing file, imported file) that do not point down. */
function upward(edges: [string, string][]): string[] {
  return edges
    .filter(([file, target]) => {
      const from = folderOf(file)
      const to = folderOf(target)
      return !ENTRIES.has(from) && to !== from && !(FLOORS[from] > FLOORS[to])
    })
    .map(([file, target]) => `${relative(repoRoot, file)} -> ${relative(repoRoot, target)}`)
}

describe("src/'s layout", () => {
  it('has a floor for every folder', () => {
    const folders = readdirSync(src).filter(name => statSync(join(src, name)).isDirectory())
    expect(folders.filter(name => !(name in FLOORS))).toEqual([])
  })

  it('imports only from lower floors or from the same folder', () => {
    const edges = sources(src).flatMap(file =>
      imports(file).map((target): [string, string] => [file, target])
    )
    expect(edges.length).toBeGreaterThan(100)
    expect(upward(edges)).toEqual([])
  })

  it('would notice an import that runs back up, or one across a floor', () => {
    const at = (path: string) => join(src, path)
    expect(
      upward([
        [at('lib/log.ts'), at('action/inputs.ts')],
        [at('secrets/read.ts'), at('ec2/instances.ts')],
        [at('restart/engine.ts'), at('restart/report.ts')],
        [at('action/main.ts'), at('lib/log.ts')]
      ])
    ).toEqual([
      'src/lib/log.ts -> src/action/inputs.ts',
      'src/secrets/read.ts -> src/ec2/instances.ts'
    ])
  })
})
