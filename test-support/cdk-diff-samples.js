// What `cdk diff` prints (CDK CLI v2, colours included, as with FORCE_COLOR), for the CDK
// stand-in and the parser's tests: additions, an update, a replacement, a removal, no changes.

const ESC = '\u001b'
const green = (/** @type {string} */ text) => `${ESC}[32m${text}${ESC}[39m`
const yellow = (/** @type {string} */ text) => `${ESC}[33m${text}${ESC}[39m`
const red = (/** @type {string} */ text) => `${ESC}[31m${text}${ESC}[39m`
const cyan = (/** @type {string} */ text) => `${ESC}[36m${text}${ESC}[39m`
const bold = (/** @type {string} */ text) => `${ESC}[1m${text}${ESC}[22m`
const underline = (/** @type {string} */ text) => `${ESC}[4m${text}${ESC}[24m`

/** @param {string} stack */
export function diffWithReplacement(stack) {
  return [
    `Stack ${stack}`,
    underline(bold('IAM Statement Changes')),
    '┌───┬──────────────┬────────┬────────────────┬───────────────────────────┐',
    '│   │ Resource     │ Effect │ Action         │ Principal                 │',
    '├───┼──────────────┼────────┼────────────────┼───────────────────────────┤',
    `│ ${green('+')} │ \${Role.Arn} │ Allow  │ sts:AssumeRole │ Service:ec2.amazonaws.com │`,
    '└───┴──────────────┴────────┴────────────────┴───────────────────────────┘',
    '',
    underline(bold('Resources')),
    `${green('[+]')} ${cyan('AWS::IAM::Role')} InstanceRole InstanceRole3CCE2F1D `,
    `${green('[+]')} ${cyan('AWS::EC2::SecurityGroup')} WebSg WebSg6A0B1C2D `,
    `${yellow('[~]')} ${cyan('AWS::EC2::Instance')} Instance InstanceC1063A87 ${bold(red('replace'))}`,
    ` └─ ${yellow('[~]')} ImageId (requires replacement)`,
    `     ├─ ${red('[-]')} ${red('ami-0123456789abcdef0')}`,
    `     └─ ${green('[+]')} ${green('ami-0fedcba9876543210')}`,
    `${yellow('[~]')} ${cyan('AWS::Lambda::Function')} Handler Handler886CB40B `,
    ` └─ ${yellow('[~]')} Code`,
    `${red('[-]')} ${cyan('AWS::S3::Bucket')} OldBucket OldBucket1A2B3C4D ${bold(red('destroy'))}`,
    '',
    underline(bold('Outputs')),
    `${yellow('[~]')} ${cyan('Output')} PublicIp PublicIp: {"Value":{"Fn::GetAtt":["InstanceC1063A87","PublicIp"]}}`,
    '',
    '',
    '✨  Number of stacks with differences: 1',
    ''
  ].join('\n')
}

/** The first deploy of a stack: every resource is new. @param {string} stack */
export function diffWithAdditionsOnly(stack) {
  return [
    `Stack ${stack}`,
    underline(bold('Resources')),
    `${green('[+]')} ${cyan('AWS::IAM::Role')} InstanceRole InstanceRole3CCE2F1D `,
    `${green('[+]')} ${cyan('AWS::EC2::SecurityGroup')} WebSg WebSg6A0B1C2D `,
    `${green('[+]')} ${cyan('AWS::EC2::Instance')} Instance InstanceC1063A87 `,
    '',
    underline(bold('Outputs')),
    `${green('[+]')} ${cyan('Output')} PublicIp PublicIp: {"Value":{"Fn::GetAtt":["InstanceC1063A87","PublicIp"]}}`,
    '',
    '',
    '✨  Number of stacks with differences: 1',
    ''
  ].join('\n')
}

/** @param {string} stack */
export function diffWithUpdateOnly(stack) {
  return [
    `Stack ${stack}`,
    underline(bold('Resources')),
    `${yellow('[~]')} ${cyan('AWS::Lambda::Function')} Handler Handler886CB40B `,
    ` └─ ${yellow('[~]')} Code`,
    '',
    '',
    '✨  Number of stacks with differences: 1',
    ''
  ].join('\n')
}

/** @param {string} stack */
export function diffWithoutChanges(stack) {
  return [
    `Stack ${stack}`,
    'There were no differences',
    '',
    '✨  Number of stacks with differences: 0',
    ''
  ].join('\n')
}
