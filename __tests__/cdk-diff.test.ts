import { describeRisk, parseCdkDiff, riskyChanges, verdict } from '../src/cdk/diff.js'
import {
  diffWithReplacement,
  diffWithUpdateOnly,
  diffWithoutChanges
} from '../test-support/cdk-diff-samples.js'

describe('parseCdkDiff', () => {
  it('reads additions, updates, a replacement and a removal, without colour codes', () => {
    const diff = parseCdkDiff(diffWithReplacement('Stack'))
    expect(diff.changes).toBe(true)
    expect(diff.text).not.toContain('\u001b')
    expect(diff.resources).toEqual([
      {
        action: 'add',
        type: 'AWS::IAM::Role',
        id: 'InstanceRole InstanceRole3CCE2F1D',
        impact: ''
      },
      { action: 'add', type: 'AWS::EC2::SecurityGroup', id: 'WebSg WebSg6A0B1C2D', impact: '' },
      {
        action: 'update',
        type: 'AWS::EC2::Instance',
        id: 'Instance InstanceC1063A87',
        impact: 'replace'
      },
      {
        action: 'update',
        type: 'AWS::Lambda::Function',
        id: 'Handler Handler886CB40B',
        impact: ''
      },
      {
        action: 'remove',
        type: 'AWS::S3::Bucket',
        id: 'OldBucket OldBucket1A2B3C4D',
        impact: 'destroy'
      }
    ])
    expect(verdict(diff)).toBe('5 resources change, 1 is replaced, 1 is destroyed')
    expect(riskyChanges(diff).map(describeRisk)).toEqual([
      'AWS::EC2::Instance Instance InstanceC1063A87 will be replaced (a new instance has a new address; the write-back records it)',
      'AWS::S3::Bucket OldBucket OldBucket1A2B3C4D will be destroyed'
    ])
  })

  it('sees an update with nothing risky', () => {
    const diff = parseCdkDiff(diffWithUpdateOnly('Stack'))
    expect(diff.changes).toBe(true)
    expect(verdict(diff)).toBe('1 resource changes')
    expect(riskyChanges(diff)).toEqual([])
  })

  it('sees no changes', () => {
    const diff = parseCdkDiff(diffWithoutChanges('Stack'))
    expect(diff).toMatchObject({ changes: false, resources: [] })
    expect(verdict(diff)).toBe('no changes')
  })

  it('takes no resource line from outside the Resources section', () => {
    const diff = parseCdkDiff('Outputs\n[-] AWS::S3::Bucket Fake Fake destroy\n')
    expect(diff.resources).toEqual([])
    expect(diff.changes).toBe(true)
  })
})
