// Input "target-group-arn: from-stack": the deployed stack's outputs name the target groups.
import { trafficFromStack } from '../src/phases/restart.js'
import { parseRate } from '../src/restart/rate.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import type { RestartSettings } from '../src/restart/transport.js'

const ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef'
const unused = async () => {
  throw new Error('not called')
}
const settings: RestartSettings = {
  script: restartScript(checkServiceName('fastapi'), ''),
  maxConcurrency: parseRate('1'),
  maxErrors: parseRate('0'),
  traffic: {
    groupArns: [],
    healthyTimeoutSeconds: 300,
    minHealthy: 1,
    elbv2: unused,
    ec2: unused,
    state: { save: () => undefined }
  }
}
const fromStack = {
  traffic: { groupArns: 'from-stack' as const, healthyTimeoutSeconds: 300, minHealthy: 1 }
}

describe('trafficFromStack', () => {
  it('takes every output whose key contains TargetGroupArn, each ARN once', () => {
    const outputs = {
      WebTargetGroupArn: ARN,
      ApiTargetGroupArnOut: ARN,
      Web: 'i-0123456789abcdef0'
    }
    expect(trafficFromStack(settings, fromStack, outputs).traffic?.groupArns).toEqual([ARN])
  })

  it('leaves ARNs given as input as they are', () => {
    const given = { ...settings, traffic: { ...settings.traffic!, groupArns: [ARN] } }
    const inputs = { traffic: { ...fromStack.traffic, groupArns: [ARN] } }
    expect(trafficFromStack(given, inputs, {})).toBe(given)
  })

  it('refuses a stack without such an output, saying what to add', () => {
    expect(() => trafficFromStack(settings, fromStack, { Web: 'i-0123456789abcdef0' })).toThrow(
      'the stack has no output whose key contains "TargetGroupArn": add a CfnOutput'
    )
  })

  it("refuses an output that is not a target group ARN, quoting the CDK app's text", () => {
    expect(() =>
      trafficFromStack(settings, fromStack, { WebTargetGroupArn: '::error::owned\n##[x' })
    ).toThrow(/^Stack output "WebTargetGroupArn" is "(?!::error::)[^\n]*", not a target group ARN/)
  })
})
