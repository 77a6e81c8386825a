import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ACTION_OUTPUTS, OUTPUTS, checkOutputNames } from '../src/export.js'
import { EXAMPLE_DEPLOYMENT } from '../test-support/example-secrets.js'
import { repoRoot } from '../test-support/runner.js'

const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as {
  outputs: Record<string, unknown>
}

describe('the action outputs', () => {
  it('are exactly the ones action.yml documents, besides the example secret keys', () => {
    const documented = Object.keys(action.outputs).filter(name => !(name in EXAMPLE_DEPLOYMENT))
    expect([...ACTION_OUTPUTS].sort()).toEqual(documented.sort())
    expect(ACTION_OUTPUTS).toEqual(Object.values(OUTPUTS))
  })
})

describe('checkOutputNames', () => {
  it("refuses a key that is one of the action's outputs", () => {
    expect(() => checkOutputNames('S', ['ec2_host', 'restarted'])).toThrow(
      'The deployment secret "S" has key "restarted", which is also an output of this action'
    )
  })

  it('refuses keys that cannot be output names, naming each', () => {
    expect(() => checkOutputNames('S', ['ok', 'bad key', '9lives'])).toThrow(
      'has keys "bad key", "9lives" that cannot be a step output name'
    )
  })
})
