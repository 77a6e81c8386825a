import { readInputs } from '../src/inputs.js'
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

describe('readInputs', () => {
  it("reads action.yml's defaults", () => {
    const inputs = withInputs({ stack: 'S' })
    expect(inputs).toMatchObject({
      deploymentSecretId: 'FastAPIDeploymentSecrets',
      appSecretId: 'FastAPIAppSecrets',
      appRequiredKeys: ['db_password', 'jwt_secret'],
      envKeys: ['ec2_key_name', 'ec2_host', 'ec2_user', 'github_repo'],
      exportEnv: false,
      deploy: true,
      stack: 'S',
      hostKey: 'ec2_host',
      restart: 'ssh',
      service: 'fastapi',
      addressType: 'public'
    })
    expect(inputs.ssh).toMatchObject({ port: 22, connectTimeoutSeconds: 180 })
  })

  it('splits lists at commas and new lines, dropping blanks', () => {
    const inputs = withInputs({ deploy: 'false', 'env-keys': 'ec2_user,\n api_url ,,\n' })
    expect(inputs.envKeys).toEqual(['ec2_user', 'api_url'])
  })

  it.each([
    [{ deploy: 'yes' }, 'Input "deploy" must be true or false, not "yes".'],
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
    [{ deploy: 'false', 'host-key': 'restarted' }, 'Input "host-key" is "restarted"']
  ])('refuses %j', (inputs, message) => {
    expect(() => withInputs(inputs)).toThrow(message)
  })
})
