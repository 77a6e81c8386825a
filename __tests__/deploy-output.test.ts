// Reading the CDK CLI's own output: the no-op line, the stack outputs block, and npm's words for a
// CLI that is not installed.
import {
  StackOutputAddresses,
  cdkEnvironment,
  missingCliHint,
  saysNoChanges
} from '../src/cdk/run.js'
import { OutputTail } from '../src/lib/lines.js'

describe('saysNoChanges', () => {
  it("reads the CLI's line for the stack it left as it was", () => {
    expect(saysNoChanges(' ✅  App (no changes)', 'App')).toBe(true)
    // In colour, as the CLI prints it on a runner.
    expect(
      saysNoChanges('\u001b[32m ✅  \u001b[1mApp\u001b[22m (no changes)\u001b[39m', 'App')
    ).toBe(true)
    // A stack inside a stage shows as "<path> (<name>)"; the input may give either.
    expect(saysNoChanges(' ✅  Staging/App (Staging-App) (no changes)', 'Staging/App')).toBe(true)
    expect(saysNoChanges(' ✅  Staging/App (Staging-App) (no changes)', 'Staging-App')).toBe(true)
  })

  it('is false for a deployed stack, another stack, or text that only looks like it', () => {
    expect(saysNoChanges(' ✅  App', 'App')).toBe(false)
    // A dependency deployed first, unchanged, says nothing about the stack asked for.
    expect(saysNoChanges(' ✅  AppNetwork (no changes)', 'App')).toBe(false)
    expect(saysNoChanges('App: the app printed (no changes)', 'App')).toBe(false)
  })
})

describe('missingCliHint', () => {
  const tailOf = (...lines: string[]) => {
    const tail = new OutputTail()
    for (const line of lines) tail.add(line)
    return tail
  }
  const plan = { tool: 'npx', cwd: '/repo/infra' }

  it('names the fix when npx found no CDK CLI', () => {
    const canceled = tailOf(
      'npm error npx canceled due to missing packages and no YES option: ["cdk@1.0.0"]'
    )
    expect(missingCliHint(plan, canceled)).toContain('npm i -D aws-cdk')
    expect(missingCliHint(plan, tailOf('npm error code ENOTCACHED'))).toContain(
      'input "cdk-command"'
    )
  })

  it('says nothing for another tool or another failure', () => {
    const canceled = tailOf('npm error npx canceled due to missing packages')
    expect(missingCliHint({ ...plan, tool: 'cdk' }, canceled)).toBe('')
    expect(missingCliHint(plan, tailOf('❌ Deployment failed: Error: denied'))).toBe('')
  })
})

// The end of a real `cdk deploy` (the AWS CDK Developer Guide's hello-world tutorial, awsdocs/
// aws-cdk-guide, "Step 9: Deploy"), as the CLI prints it (aws-cdk-cli, packages/aws-cdk/lib/cli/
// cdk-toolkit.ts, deploy()): "Outputs:", one `<stack id>.<name> = <value>` per output sorted by
// name, "Stack ARN:" and the ARN. The outputs below myFunctionUrlOutput are this stack's own.
const DEPLOY_TAIL = [
  'HelloCdkStack: deploying... [1/1]',
  'HelloCdkStack: creating CloudFormation changeset...',
  '',
  ' ✅  HelloCdkStack',
  '',
  '✨  Deployment time: 41.65s',
  '',
  'Outputs:',
  'HelloCdkStack.ApiUrl = http://203.0.113.7:8000/',
  'HelloCdkStack.Ipv6Url = http://[2001:db8::7]:8000/',
  'HelloCdkStack.Motd = first line',
  'second line of the value, on 198.51.100.23',
  'HelloCdkStack.VpcCidr = 10.0.0.0/16',
  'HelloCdkStack.myFunctionUrlOutput = https://owrzadkgxvz7l3lbgiesssdrgy0ikujz.lambda-url.us-east-1.on.aws/',
  'Stack ARN:',
  'arn:aws:cloudformation:us-east-1:520046576100:stack/HelloCdkStack/de1f2820-bce2-11f0-80dd-0affc20bec61',
  '',
  '✨  Total time: 44.34s'
]

// chalk's level-1 codes, as the CLI colours an output line: cyan(stack.id).cyan(name) =
// underline(cyan(value)).
const cyan = (text: string) => `\u001b[36m${text}\u001b[39m`
const coloured = (stack: string, name: string, value: string) =>
  `${cyan(stack)}.${cyan(name)} = \u001b[4m${cyan(value)}\u001b[24m`

describe('StackOutputAddresses', () => {
  const addressesOf = (lines: string[]) => {
    const reader = new StackOutputAddresses()
    return lines.map(line => reader.addresses(line))
  }

  it('finds every address in the outputs block, inside URLs and values of several lines', () => {
    const found = addressesOf(DEPLOY_TAIL).flat()
    expect(found).toEqual(['203.0.113.7', '2001:db8::7', '198.51.100.23'])
  })

  it('reads the lines the CLI prints in colour', () => {
    const lines = [
      'Outputs:',
      coloured('HelloCdkStack', 'ApiUrl', 'http://203.0.113.7:8000/'),
      'Stack ARN:'
    ]
    expect(addressesOf(lines)).toEqual([[], ['203.0.113.7'], []])
  })

  it('leaves the lines outside the block alone, unless they have the shape of an output line', () => {
    const lines = [
      'HelloCdkStack | 3/6 | 9:20:12 PM | CREATE_COMPLETE | AWS::EC2::Instance | Web (10.0.1.7)',
      'Stack ARN:',
      'arn:aws:cloudformation:us-east-1:520046576100:stack/HelloCdkStack/203.0.113.9',
      'Other.PublicIp = 192.0.2.44'
    ]
    expect(addressesOf(lines)).toEqual([[], [], [], ['192.0.2.44']])
  })
})

describe('cdkEnvironment', () => {
  it("keeps the step's file commands and the action's inputs from the CDK app, in any case", () => {
    const env = cdkEnvironment(
      {
        PATH: '/usr/bin',
        GITHUB_OUTPUT: '/tmp/out',
        Github_Output: '/tmp/out',
        github_step_summary: '/tmp/summary',
        'input_ssh-private-key': 'key',
        Actions_Runtime_Token: 'token',
        GITHUB_REPOSITORY: 'o/r'
      },
      { EC2_HOST: '203.0.113.7' }
    )
    expect(env).toEqual({ PATH: '/usr/bin', GITHUB_REPOSITORY: 'o/r', EC2_HOST: '203.0.113.7' })
  })
})
