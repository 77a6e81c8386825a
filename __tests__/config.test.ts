// readConfigParameters in this process: the real SSM client against the local endpoint's
// Parameter Store, and the output names the run has already claimed.
import { jest } from '@jest/globals'
import type { SSMClient } from '@aws-sdk/client-ssm'
import { readConfigParameters } from '../src/secrets/parameters.js'
import { checkOutputNames } from '../src/secrets/key-rules.js'
import { ssmFor, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { recordingLogger } from './helpers/recording-logger.js'

const PATH = '/fastapi/staging/'

let aws: LocalAws
let ssm: SSMClient

beforeEach(async () => {
  aws = await startLocalAws()
  ssm = ssmFor(aws)
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})
afterEach(async () => {
  jest.restoreAllMocks()
  ssm.destroy()
  await aws.stop()
})

const claimed = (hostKey?: string) =>
  checkOutputNames('Deploy', ['ec2_host', 'ec2_user'], { hostKey })

describe('readConfigParameters', () => {
  it('names each parameter by its path below the path', async () => {
    aws.parameters.put('/fastapi/staging/db/host', 'db.internal')
    aws.parameters.put('/fastapi/staging/Log-Level', 'debug')
    const config = await readConfigParameters(ssm, PATH, claimed(), recordingLogger())
    expect(config.values).toEqual({ db_host: 'db.internal', 'Log-Level': 'debug' })
    expect(config.sources).toEqual({
      db_host: '/fastapi/staging/db/host',
      'Log-Level': '/fastapi/staging/Log-Level'
    })
  })

  it.each([
    [
      'a key of the secret, in another case',
      [['/fastapi/staging/EC2_User', 'ubuntu']],
      'Parameter "/fastapi/staging/EC2_User" under input "config-path" (/fastapi/staging/) would become the output "EC2_User", ' +
        'which the runner takes for "ec2_user", a key of the deployment secret "Deploy", as the runner compares step output ' +
        'names without case: one would override the other. Rename the parameter or the key.'
    ],
    [
      'a key of the secret, as spelt',
      [['/fastapi/staging/ec2_user', 'ubuntu']],
      'Parameter "/fastapi/staging/ec2_user" under input "config-path" (/fastapi/staging/) would become the output "ec2_user", ' +
        'which the deployment secret "Deploy" also has as a key: one would override the other. Rename the parameter or the key.'
    ],
    [
      'an output of the action, in another case',
      [['/fastapi/staging/Restarted', 'true']],
      'Parameter "/fastapi/staging/Restarted" under input "config-path" (/fastapi/staging/) would become the output "Restarted", ' +
        'which the runner takes for "restarted", an output of this action'
    ],
    [
      'another parameter, in another case',
      [
        ['/fastapi/staging/feature', 'on'],
        ['/fastapi/staging/FEATURE', 'off']
      ],
      'Parameters "/fastapi/staging/FEATURE" and "/fastapi/staging/feature" under input "config-path" (/fastapi/staging/) ' +
        'become the outputs "FEATURE" and "feature", which the runner takes for one'
    ],
    [
      'another parameter, as spelt',
      [
        ['/fastapi/staging/db/host', 'a'],
        ['/fastapi/staging/db_host', 'b']
      ],
      'Parameters "/fastapi/staging/db/host" and "/fastapi/staging/db_host" under input "config-path" (/fastapi/staging/) ' +
        'both become the output "db_host". Rename one of them in Parameter Store.'
    ]
  ])('refuses a name the runner takes for %s', async (_what, parameters, message) => {
    for (const [name, value] of parameters) aws.parameters.put(name, value)
    await expect(readConfigParameters(ssm, PATH, claimed(), recordingLogger())).rejects.toThrow(
      message
    )
  })

  it('refuses a name the run sets as its host key when it deploys, in any case', async () => {
    aws.parameters.put('/fastapi/staging/EC2_HOST', '192.0.2.66')
    await expect(
      readConfigParameters(ssm, PATH, claimed('ec2_host'), recordingLogger())
    ).rejects.toThrow(
      'would become the output "EC2_HOST", which the runner takes for "ec2_host", the key named by input "host-key", ' +
        'which this run writes the address into and sets as an output'
    )
  })
})
