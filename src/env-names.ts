/**
 * Which environment variable names a secret's keys may become. The names themselves come from the
 * workflow (input `env-keys`), never from the secret; this list is the second line of defence: a
 * declared name that changes how some program starts or behaves is refused all the same, because
 * whoever can write the secret then controls what that program runs.
 */

/** Exact names (compared upper-cased) and why each one is refused. */
const REFUSED_NAMES: Record<string, string> = {
  PATH: 'it chooses which programs run',
  HOME: 'programs read their start-up files from it',
  SHELL: 'programs start it as the shell',
  USER: 'programs trust it as the current user',
  CI: 'tools change behaviour on it',
  TMPDIR: 'programs write and run files from it',
  BASH_ENV: 'bash runs the file it names before every script',
  ENV: 'sh runs the file it names at start-up',
  SHELLOPTS: 'it turns on bash options in every script',
  BASHOPTS: 'it turns on bash options in every script',
  PS4: 'bash expands it for every traced command',
  PROMPT_COMMAND: 'bash runs it before every prompt',
  IFS: 'it changes how shells split words',
  CDPATH: 'it changes where cd goes',
  GLOBIGNORE: 'it changes how shells expand file names',
  EDITOR: 'programs run it',
  VISUAL: 'programs run it',
  PAGER: 'programs run it',
  BROWSER: 'programs run it',
  PYTHONSTARTUP: 'Python runs the file it names',
  PYTHONPATH: 'Python imports code from it',
  PYTHONHOME: 'Python loads its library from it',
  PYTHONINSPECT: 'it changes how Python runs',
  PYTHONWARNINGS: 'Python imports the modules it names',
  PERL5OPT: 'Perl takes options (and code) from it',
  PERL5LIB: 'Perl loads modules from it',
  PERLLIB: 'Perl loads modules from it',
  PERL5DB: 'Perl runs it as the debugger',
  RUBYOPT: 'Ruby takes options (and libraries to load) from it',
  RUBYLIB: 'Ruby loads libraries from it',
  JAVA_TOOL_OPTIONS: 'the JVM takes options (and agents) from it',
  JDK_JAVA_OPTIONS: 'the JVM takes options from it',
  _JAVA_OPTIONS: 'the JVM takes options from it',
  CLASSPATH: 'Java loads code from it',
  HTTP_PROXY: 'it sends network traffic through another host',
  HTTPS_PROXY: 'it sends network traffic through another host',
  ALL_PROXY: 'it sends network traffic through another host',
  NO_PROXY: 'it changes which traffic goes through a proxy',
  SSL_CERT_FILE: 'it chooses which TLS certificates are trusted',
  SSL_CERT_DIR: 'it chooses which TLS certificates are trusted',
  CURL_CA_BUNDLE: 'it chooses which TLS certificates are trusted',
  REQUESTS_CA_BUNDLE: 'it chooses which TLS certificates are trusted',
  GCONV_PATH: 'the C library loads code from it',
  HOSTALIASES: 'it changes how host names resolve',
  RES_OPTIONS: 'it changes how host names resolve',
  LOCALDOMAIN: 'it changes how host names resolve',
  MALLOC_CHECK_: 'it changes how the C library runs',
  COMSPEC: 'programs start it as the shell',
  LANG: 'it changes how programs read text',
  LANGUAGE: 'it changes how programs read text',
  GUNICORN_CMD_ARGS: 'gunicorn takes options (such as a configuration file of Python code) from it',
  SSLKEYLOGFILE: 'programs write their TLS session keys to the file it names'
}

/** Prefixes (compared upper-cased) and why names that start with them are refused. */
const REFUSED_PREFIXES: [prefix: string, why: string][] = [
  ['BASH_FUNC_', 'bash imports it as a function'],
  ['LD_', 'the dynamic loader takes code to load from it'],
  ['DYLD_', 'the dynamic loader takes code to load from it'],
  ['NODE_', 'Node.js takes options (and code to load) from it'],
  ['NPM_CONFIG_', 'npm and npx take settings (including Node.js options) from it'],
  ['YARN_', 'yarn takes settings from it'],
  ['PNPM_', 'pnpm takes settings from it'],
  ['COREPACK_', 'corepack chooses which package manager to download from it'],
  ['GIT_', 'git takes commands and settings from it'],
  ['SSH_', 'ssh takes its agent, askpass program or options from it'],
  ['PYTHON', 'Python takes options or code to load from it'],
  ['PERL', 'Perl takes options or code to load from it'],
  ['RUBY', 'Ruby takes options or code to load from it'],
  ['GEM_', 'Ruby loads gems from it'],
  ['BUNDLE_', 'bundler takes settings from it'],
  ['JAVA_', 'Java takes options from it'],
  ['MAVEN_', 'Maven takes options from it'],
  ['GRADLE_', 'Gradle takes options from it'],
  ['DOTNET_', '.NET takes settings from it'],
  ['CORECLR_', '.NET loads profilers from it'],
  ['GOFLAGS', 'go takes flags from it'],
  ['CDK_', 'the CDK CLI takes settings from it'],
  ['JSII_', 'the CDK runtime takes settings from it'],
  ['DOCKER_', 'docker takes its host and settings from it'],
  ['KUBECONFIG', 'kubectl takes its cluster from it'],
  ['GITHUB_', 'the runner and GitHub tools rely on it'],
  ['RUNNER_', 'the runner relies on it'],
  ['ACTIONS_', 'the runner relies on it'],
  ['INPUT_', 'actions read their inputs from it'],
  ['STATE_', 'actions read their saved state from it'],
  ['AWS_', 'the AWS SDK and CLI take credentials and settings from it'],
  ['XDG_', 'programs read their configuration from it'],
  ['GH_', 'the GitHub CLI takes its token and host from it'],
  ['LC_', 'it changes how programs read text'],
  ['PIP_', 'pip takes settings (such as where it downloads packages from) from it'],
  ['UVICORN_', 'uvicorn takes its options (such as where it imports the app from) from it'],
  ['OPENSSL_', 'OpenSSL loads its configuration and modules from it']
]

/**
 * The reference layout's `github_repo`: under the GITHUB_ prefix, but no runner or tool reads it,
 * and a refusal would break the default `env-keys`.
 */
const ALLOWED_NAMES = new Set(['GITHUB_REPO'])

/** Any case variant of a proxy setting: curl and others read `http_proxy` in lower case. */
const PROXY = /_PROXY$/

/**
 * Why `name` must not be set from a secret, or undefined when it may. Case does not matter: npm
 * reads `npm_config_*` in lower case, curl `http_proxy`.
 */
export function refusedEnvName(name: string): string | undefined {
  const upper = name.toUpperCase()
  if (ALLOWED_NAMES.has(upper)) return undefined
  const exact = REFUSED_NAMES[upper]
  if (exact) return exact
  for (const [prefix, why] of REFUSED_PREFIXES) if (upper.startsWith(prefix)) return why
  if (PROXY.test(upper)) return 'it sends network traffic through another host'
  return undefined
}

/** `ec2_key_name` -> `EC2_KEY_NAME`, `api-key` -> `API_KEY`. */
export function envName(key: string): string {
  return key.toUpperCase().replace(/-/g, '_')
}

/** A key that can become a variable name: letters, digits, "_" and "-", first a letter or "_". */
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/

/** Why a key cannot become an environment variable. */
export type EnvKeyRefusal =
  | { kind: 'not-a-name'; key: string }
  | { kind: 'refused'; key: string; name: string; why: string }
  | { kind: 'same-name'; key: string; other: string; name: string }

/**
 * The keys of `keys` that cannot become environment variables, in order, with why: one that is no
 * name, one whose variable changes how programs run (refusedEnvName), and one that becomes the same
 * variable as an earlier key. Variable names are upper-cased (envName) and compared so, as Windows
 * and the runner's environment there compare them: `Foo` and `foo` are one variable. The one rule
 * for input "env-keys" and for the command line's exec and export.
 */
export function envKeyRefusals(keys: readonly string[]): EnvKeyRefusal[] {
  const refusals: EnvKeyRefusal[] = []
  const source = new Map<string, string>()
  for (const key of keys) {
    if (!ENV_KEY.test(key)) {
      refusals.push({ kind: 'not-a-name', key })
      continue
    }
    const name = envName(key)
    const why = refusedEnvName(name)
    if (why) {
      refusals.push({ kind: 'refused', key, name, why })
      continue
    }
    const other = source.get(name)
    if (other !== undefined && other !== key) refusals.push({ kind: 'same-name', key, other, name })
    else source.set(name, key)
  }
  return refusals
}

/** The reference secret's layout: what reaches the environment when `env-keys` is left alone. */
export const DEFAULT_ENV_KEYS = ['ec2_key_name', 'ec2_host', 'ec2_user', 'github_repo']
