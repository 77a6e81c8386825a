import { readInputs } from '../src/action/inputs.js'
import { type SsmInputs } from '../src/phases/restart.js'
import { inputEnvironment } from '../test-support/runner.js'

/** Sets INPUT_* as the runner would (action.yml's defaults filled in), runs readInputs. */
function withInputs(inputs: Record<string, string>) {
  const env = inputEnvironment(inputs)
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    return readInputs()
  } finally {
    for (const name of Object.keys(env)) if (!(name in saved)) delete process.env[name]
    Object.assign(process.env, saved)
  }
}

/** The rates as the workflow wrote them (readInputs parses them into counts and percentages). */
function asWritten(ssm: SsmInputs) {
  return { ...ssm, maxConcurrency: ssm.maxConcurrency.text, maxErrors: ssm.maxErrors.text }
}

describe('readInputs', () => {
  it("reads action.yml's defaults", () => {
    const inputs = withInputs({ stack: 'S' })
    expect(inputs).toMatchObject({
      deploymentSecretId: 'FastAPIDeploymentSecrets',
      appSecretId: 'FastAPIAppSecrets',
      appRequiredKeys: ['db_password', 'jwt_secret'],
      envKeys: ['ec2_key_name', 'ec2_host', 'ec2_user', 'github_repo'],
      exportEnv: false,
      mode: 'deploy',
      stack: 'S',
      hostKey: 'ec2_host',
      userKey: 'ec2_user',
      restart: 'ssh',
      service: 'fastapi',
      addressType: 'public'
    })
    expect(inputs.ssh).toMatchObject({ port: 22, connectTimeoutSeconds: 180 })
  })

  it('reads input "deploy" as one of three modes, and a preview restarts nothing', () => {
    expect(withInputs({ stack: 'S', deploy: 'DIFF' })).toMatchObject({
      mode: 'diff',
      restart: 'none'
    })
    expect(withInputs({ deploy: 'false' })).toMatchObject({ mode: 'none', restart: 'ssh' })
  })

  it("reads the comment inputs, the token as the runner evaluates action.yml's ${{ github.token }}", () => {
    const env = inputEnvironment(
      { stack: 'S' },
      { githubToken: 'ghs_16C7e42F292c6912E7710c838347Ae178B4a' }
    )
    expect(env['INPUT_GITHUB-TOKEN']).toBe('ghs_16C7e42F292c6912E7710c838347Ae178B4a')
    expect(withInputs({ stack: 'S', deploy: 'diff' }).comment).toEqual({
      onPullRequest: false,
      token: '',
      key: '',
      mode: 'update',
      required: false
    })
    expect(
      withInputs({
        stack: 'S',
        deploy: 'diff',
        'comment-on-pr': 'true',
        'github-token': ' ghp_personal ',
        'comment-key': 'eu-west-1.prod_a',
        'comment-mode': 'replace',
        'comment-required': 'true'
      }).comment
    ).toEqual({
      onPullRequest: true,
      token: 'ghp_personal',
      key: 'eu-west-1.prod_a',
      mode: 'replace',
      required: true
    })
  })

  it('reads input "rotate" with its rules, each key once; none by default', () => {
    expect(withInputs({ stack: 'S' }).rotate).toBeUndefined()
    expect(
      withInputs({
        stack: 'S',
        rotate: 'jwt_secret,\ngenerated_password, jwt_secret',
        'rotate-length': '64',
        'rotate-exclude-characters': '"\'',
        'rotate-exclude-punctuation': 'true'
      }).rotate
    ).toEqual({
      keys: ['jwt_secret', 'generated_password'],
      rules: { length: 64, ExcludeCharacters: '"\'', ExcludePunctuation: true },
      create: false
    })
  })

  it.each([
    [
      { 'rotate-length': '3' },
      'Input "rotate-length" must be a whole number from 4 to 4096, not "3".'
    ],
    [{ 'rotate-create': 'yes' }, 'Input "rotate-create" must be true or false, not "yes".'],
    [{ restart: 'none' }, 'Input "rotate" cannot be used with restart: none'],
    [{ deploy: 'diff' }, 'Input "rotate" cannot be used with deploy: diff']
  ])('refuses rotate with %j', (extra, message) => {
    expect(() => withInputs({ stack: 'S', rotate: 'jwt_secret', ...extra })).toThrow(message)
  })

  it("reads the fleet inputs in SSM's own syntax", () => {
    expect(asWritten(withInputs({ stack: 'S' }).ssm)).toEqual({
      maxConcurrency: '25%',
      maxErrors: '0',
      timeoutSeconds: 600
    })
    const inputs = withInputs({
      deploy: 'false',
      restart: 'ssm',
      targets: 'i-0123456789abcdef0\ntag:role=web, tag:env=a=b',
      'max-concurrency': '10',
      'max-errors': '5%'
    })
    expect(inputs.targets).toEqual(['i-0123456789abcdef0', 'tag:role=web', 'tag:env=a=b'])
    expect(asWritten(inputs.ssm)).toMatchObject({ maxConcurrency: '10', maxErrors: '5%' })
    expect(inputs.restart).toBe('ssm')
  })

  it('parses each rate once, into a count or a percentage, keeping its text for messages', () => {
    const { ssm } = withInputs({
      deploy: 'false',
      'max-concurrency': '10',
      'max-errors': '5%'
    })
    expect(ssm.maxConcurrency).toEqual({ text: '10', value: 10, percent: false })
    expect(ssm.maxErrors).toEqual({ text: '5%', value: 5, percent: true })
  })

  it('reads the target groups and their waits; none by default', () => {
    expect(withInputs({ stack: 'S' }).traffic).toBeUndefined()
    expect(
      withInputs({
        deploy: 'false',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef, arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
        'drain-timeout': '0'
      }).traffic
    ).toEqual({
      groupArns: [
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'
      ],
      drainTimeoutSeconds: 0,
      healthyTimeoutSeconds: 300,
      minHealthy: 1
    })
    expect(withInputs({ stack: 'S', 'target-group-arn': 'from-stack' }).traffic?.groupArns).toBe(
      'from-stack'
    )
  })

  it('splits lists at commas and new lines, dropping blanks', () => {
    const inputs = withInputs({ deploy: 'false', 'env-keys': 'ec2_user,\n api_url ,,\n' })
    expect(inputs.envKeys).toEqual(['ec2_user', 'api_url'])
  })

  it.each([
    [{ deploy: 'yes' }, 'Input "deploy" must be true, false or diff, not "yes".'],
    [{ deploy: 'true' }, 'Input "stack" is required when "deploy" is true'],
    [
      { deploy: 'false', 'ssh-port': '0' },
      'Input "ssh-port" must be a whole number from 1 to 65535'
    ],
    [
      { deploy: 'false', 'env-keys': 'ld_preload' },
      'would become the environment variable LD_PRELOAD'
    ],
    [
      { deploy: 'false', 'ssh-host-fingerprint': 'MD5:aa' },
      'Input "ssh-host-fingerprint" has "MD5:aa", which is not a SHA256 fingerprint'
    ],
    [{ deploy: 'false', 'host-key': 'restarted' }, 'Input "host-key" is "restarted"'],
    [
      { deploy: 'false', 'host-key': 'Restarted' },
      '("Restarted" is "restarted" to the runner, which compares output names without case).'
    ],
    [{ deploy: 'false', 'user-key': 'Instance-IP' }, 'Input "user-key" is "Instance-IP"'],
    [{ deploy: 'false', 'user-key': 'ec2 user' }, 'Input "user-key" is "ec2 user"'],
    [{ deploy: 'false', 'max-concurrency': '101%' }, 'Input "max-concurrency" must be a number'],
    [{ deploy: 'false', 'max-concurrency': '0%' }, 'Input "max-concurrency" must be a number'],
    [{ deploy: 'false', 'max-errors': 'all' }, 'Input "max-errors" must be a number'],
    [{ deploy: 'false', 'max-errors': '-1' }, 'Input "max-errors" must be a number'],
    [
      { deploy: 'false', 'ssm-timeout': '10' },
      'Input "ssm-timeout" must be a whole number from 30'
    ],
    [{ stack: 'S', targets: 'tag:role=web' }, 'Input "targets" is for deploy: false'],
    [{ stack: 'S', 'comment-key': 'a'.repeat(65) }, 'Input "comment-key" is "aaaa'],
    [{ stack: 'S', 'comment-key': 'x-->' }, 'Input "comment-key" is "x-->": use at most 64'],
    [
      { stack: 'S', 'comment-mode': 'append' },
      'Input "comment-mode" must be one of update, replace'
    ],
    [
      {
        deploy: 'false',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef'
      },
      'which is not a target group ARN'
    ],
    [
      { deploy: 'false', 'target-group-arn': 'from-stack' },
      'Input "target-group-arn" is from-stack, which reads the outputs of the stack deployed'
    ],
    [
      {
        stack: 'S',
        'target-group-arn':
          'from-stack\narn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'
      },
      'Input "target-group-arn" is from-stack or a list of ARNs, not both.'
    ],
    [
      {
        deploy: 'false',
        restart: 'none',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef'
      },
      'Input "target-group-arn" is for a restart; with restart: none nothing is restarted.'
    ],
    [
      {
        deploy: 'false',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
        'healthy-timeout': '0'
      },
      'Input "healthy-timeout" must be a whole number from 1 to 3600'
    ],
    [
      {
        deploy: 'false',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
        'min-healthy': '-1'
      },
      'Input "min-healthy" must be a whole number from 0 to 999'
    ],
    [
      {
        deploy: 'false',
        'target-group-arn':
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef',
        'drain-timeout': '1h'
      },
      'Input "drain-timeout" must be a whole number from 0 to 3600'
    ]
  ])('refuses %j', (inputs, message) => {
    expect(() => withInputs(inputs)).toThrow(message)
  })
})
