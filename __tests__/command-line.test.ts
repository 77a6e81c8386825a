import { splitArguments } from '../src/command-line.js'
import { cdkDeployCommand } from '../src/deploy.js'

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

describe('cdkDeployCommand', () => {
  it('puts the stack and the flags the action needs before the extra arguments', () => {
    expect(
      cdkDeployCommand(
        { cdkCommand: 'npx --no-install cdk', cdkArgs: '-c env=prod', stack: 'S' },
        '/t/o.json'
      )
    ).toEqual({
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
        '/t/o.json',
        '-c',
        'env=prod'
      ]
    })
  })
  it('refuses an empty command', () => {
    expect(() => cdkDeployCommand({ cdkCommand: '', cdkArgs: '', stack: 'S' }, 'f')).toThrow(
      'Input "cdk-command" is empty'
    )
  })
})
