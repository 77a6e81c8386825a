import {
  DEFAULT_ENV_KEYS,
  checkEnvKeys,
  envKeyRefusals,
  envName,
  refusedEnvName
} from '../src/secrets/key-rules.js'
import { secretEnvironment } from '../src/action/outputs.js'

describe('refusedEnvName', () => {
  it.each([
    'BASH_ENV',
    'ENV',
    'BASH_FUNC_ls%%',
    'SHELLOPTS',
    'PS4',
    'PROMPT_COMMAND',
    'IFS',
    'LD_PRELOAD',
    'LD_AUDIT',
    'DYLD_INSERT_LIBRARIES',
    'NODE_OPTIONS',
    'NODE_EXTRA_CA_CERTS',
    'NPM_CONFIG_NODE_OPTIONS',
    'npm_config_node_options',
    'Npm_Config_Registry',
    'GIT_SSH_COMMAND',
    'SSH_AUTH_SOCK',
    'HTTPS_PROXY',
    'http_proxy',
    'no_proxy',
    'SSL_CERT_FILE',
    'PYTHONSTARTUP',
    'PERL5OPT',
    'RUBYOPT',
    'JAVA_TOOL_OPTIONS',
    'GITHUB_TOKEN',
    'GITHUB_ENV',
    'RUNNER_TEMP',
    'ACTIONS_RUNTIME_TOKEN',
    'INPUT_SSH-PRIVATE-KEY',
    'AWS_REGION',
    'PATH',
    'HOME',
    // What the reference document's app (FastAPI) is served with, and the libraries under it.
    'GUNICORN_CMD_ARGS',
    'UVICORN_APP_DIR',
    'PIP_INDEX_URL',
    'OPENSSL_CONF',
    'SSLKEYLOGFILE'
  ])('refuses %s, in any case', name => {
    expect(refusedEnvName(name)).toEqual(expect.any(String))
    expect(refusedEnvName(name.toLowerCase())).toEqual(expect.any(String))
  })

  it.each(['EC2_KEY_NAME', 'EC2_HOST', 'EC2_USER', 'GITHUB_REPO', 'API_URL', 'DB_NAME'])(
    'allows %s',
    name => expect(refusedEnvName(name)).toBeUndefined()
  )

  it('allows every default env key', () => {
    for (const key of DEFAULT_ENV_KEYS) expect(refusedEnvName(envName(key))).toBeUndefined()
  })
})

describe('checkEnvKeys', () => {
  it('accepts the defaults and extra ordinary keys', () => {
    expect(() => checkEnvKeys([...DEFAULT_ENV_KEYS, 'api-url'])).not.toThrow()
  })

  it('names the key, the variable and why', () => {
    expect(() => checkEnvKeys(['ec2_user', 'bash_env'])).toThrow(
      'Input "env-keys" lists "bash_env", which would become the environment variable BASH_ENV: bash runs the file it names before every script.'
    )
  })

  it('refuses a name that is no key and two keys that become one variable', () => {
    expect(() => checkEnvKeys(['a b'])).toThrow(
      'Input "env-keys" lists "a b", which is not a key name'
    )
    expect(() => checkEnvKeys(['api-key', 'api_key'])).toThrow(
      'Input "env-keys" lists "api-key" and "api_key", which both become the environment variable API_KEY'
    )
  })
})

describe('envKeyRefusals', () => {
  it('lists every key that cannot become a variable, in order, with why', () => {
    expect(
      envKeyRefusals([
        'db_password',
        'ld_preload',
        'a b',
        'api-key',
        'API_KEY',
        'api-key',
        'node_options'
      ])
    ).toEqual([
      {
        kind: 'refused',
        key: 'ld_preload',
        name: 'LD_PRELOAD',
        why: 'the dynamic loader takes code to load from it'
      },
      { kind: 'not-a-name', key: 'a b' },
      { kind: 'same-name', key: 'API_KEY', other: 'api-key', name: 'API_KEY' },
      {
        kind: 'refused',
        key: 'node_options',
        name: 'NODE_OPTIONS',
        why: 'Node.js takes options (and code to load) from it'
      }
    ])
    expect(envKeyRefusals([...DEFAULT_ENV_KEYS, 'db_password', 'jwt_secret'])).toEqual([])
  })
})

describe('secretEnvironment', () => {
  const values = { ec2_user: 'ec2-user', bash_env: '$(id)', 'api-url': 'https://x.test' }

  it('takes only the declared keys, upper-cased', () => {
    expect(secretEnvironment('S', values, ['ec2_user', 'api-url'])).toEqual({
      EC2_USER: 'ec2-user',
      API_URL: 'https://x.test'
    })
  })

  it('fails on declared keys the secret lacks, naming them all', () => {
    expect(() => secretEnvironment('S', values, ['ec2_user', 'ec2_host', 'github_repo'])).toThrow(
      'The deployment secret "S" has no keys "ec2_host", "github_repo", listed in input "env-keys"'
    )
  })
})
