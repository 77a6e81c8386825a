import { splitArguments } from '../src/cdk/command-line.js'
import { planCdk } from '../src/cdk/run.js'

describe('splitArguments', () => {
  it('splits like a shell: quotes, escapes, and $ kept as written', () => {
    expect(splitArguments(`--context 'a b' "c d" e\\ f $HOME`, 'cdk-args')).toEqual([
      '--context',
      'a b',
      'c d',
      'e f',
      '$HOME'
    ])
    expect(splitArguments('', 'cdk-args')).toEqual([])
  })
  it.each([';', '&&', '|', '>', '<', '||'])('refuses the operator %s', op => {
    expect(() => splitArguments(`--force ${op} rm -rf /`, 'cdk-args')).toThrow(
      'Input "cdk-args" has the shell operator'
    )
  })
  it('refuses an unquoted comment', () => {
    expect(() => splitArguments('--force # why', 'cdk-args')).toThrow(
      'Input "cdk-args" has a "#" comment'
    )
  })
})

describe('planCdk for cdk deploy', () => {
  const env = { RUNNER_TEMP: '/runner/temp' }
  const plan = (cdkCommand: string, cdkArgs: string) =>
    planCdk({ cdkCommand, cdkArgs, stack: 'S', workingDirectory: '.' }, env, 'deploy')

  it('puts the stack and the flags the action needs before the extra arguments', () => {
    const { tool, args, outputsFile } = plan('npx --no-install cdk', '-c env=prod')
    expect(outputsFile).toMatch(/^\/runner\/temp\/cdk-outputs-[0-9a-f-]+\.json$/)
    expect({ tool, args }).toEqual({
      tool: 'npx',
      args: [
        '--no-install',
        'cdk',
        'deploy',
        'S',
        '--require-approval',
        'never',
        '--ci',
        '--outputs-file',
        outputsFile,
        '-c',
        'env=prod'
      ]
    })
  })
  it('refuses an empty command', () => {
    expect(() => plan('', '')).toThrow('Input "cdk-command" is empty')
  })
  it.each([
    '--outputs-file=x',
    '--outputsFile x',
    '-Ox.json',
    '-O x',
    '--require-approval any-change',
    '--requireApproval=never',
    '--ci'
  ])('refuses %s, which the action sets itself', args => {
    expect(() => plan('cdk', args)).toThrow(
      /Input "cdk-args" has (-O|--\S+), which the action sets itself; remove it\./
    )
  })
  it('keeps flags that only start like an owned one', () => {
    expect(plan('cdk', '--circular --outputs-other x').args.slice(-3)).toEqual([
      '--circular',
      '--outputs-other',
      'x'
    ])
  })
})
