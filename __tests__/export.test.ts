import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ACTION_OUTPUTS, OUTPUTS } from '../src/lib/output-names.js'
import { OutputNames, checkOutputNames } from '../src/secrets/key-rules.js'
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

  it('takes names that differ only in case for one, as the runner does', () => {
    expect(() => checkOutputNames('S', ['ec2_host', 'Restarted'])).toThrow(
      'The deployment secret "S" has key "Restarted", which the runner takes for "restarted", an output of this action ' +
        `(${ACTION_OUTPUTS.join(', ')}), as the runner compares step output names without case. Rename the key in the secret.`
    )
    expect(() => checkOutputNames('S', ['Foo', 'ec2_host', 'foo'])).toThrow(
      'The deployment secret "S" has keys "Foo" and "foo", which the runner takes for one step output'
    )
    expect(() => checkOutputNames('S', ['INSTANCE-ID'])).toThrow(
      'which the runner takes for "instance-id"'
    )
  })

  it('lets the secret hold the key named by host-key, and no other spelling of it', () => {
    expect(() =>
      checkOutputNames('S', ['ec2_host', 'ec2_user'], { hostKey: 'ec2_host' })
    ).not.toThrow()
    expect(() => checkOutputNames('S', ['EC2_HOST'], { hostKey: 'ec2_host' })).toThrow(
      'The deployment secret "S" has key "EC2_HOST", which the runner takes for "ec2_host", the key named by input "host-key"'
    )
    // Without a deploy the action sets no host key output: any spelling is the secret's own.
    expect(() => checkOutputNames('S', ['EC2_HOST'])).not.toThrow()
  })

  it('quotes key names as untrusted text', () => {
    expect(() => checkOutputNames('S', ['ok\n::warning::x', '##[error]y'])).toThrow(
      'has keys "ok ::warning::x", "#\u200b#[error]y" that cannot be a step output name'
    )
  })
})

describe('OutputNames', () => {
  it('names both parameters, or the parameter and the key, that the runner takes for one output', () => {
    const names = checkOutputNames('S', ['ec2_user'])
    const where = { path: '/p/' }
    names.claim('log_level', { kind: 'parameter', parameter: '/p/log_level', ...where })
    expect(() =>
      names.claim('LOG_LEVEL', { kind: 'parameter', parameter: '/p/LOG_LEVEL', ...where })
    ).toThrow(
      'Parameters "/p/LOG_LEVEL" and "/p/log_level" under input "config-path" (/p/) become the outputs "LOG_LEVEL" and ' +
        '"log_level", which the runner takes for one, as the runner compares step output names without case.'
    )
    expect(() =>
      names.claim('EC2_User', { kind: 'parameter', parameter: '/p/EC2_User', ...where })
    ).toThrow(
      'Parameter "/p/EC2_User" under input "config-path" (/p/) would become the output "EC2_User", which the runner takes ' +
        'for "ec2_user", a key of the deployment secret "S", as the runner compares step output names without case: ' +
        'one would override the other. Rename the parameter or the key.'
    )
  })

  it('claims every output of the action from the start', () => {
    const names = new OutputNames()
    for (const output of ACTION_OUTPUTS)
      expect(() =>
        names.claim(output.toUpperCase(), { kind: 'secret-key', secretId: 'S' })
      ).toThrow(`which the runner takes for "${output}", an output of this action`)
  })
})
