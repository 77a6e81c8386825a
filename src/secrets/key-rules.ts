import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'
import { ACTION_OUTPUTS } from '../lib/output-names.js'

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
 * for input "env-keys" and for the command line's exec, export and import.
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

export const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/

/**
 * An output name as the runner compares it: `steps.<id>.outputs` is a dictionary that ignores
 * case, and GITHUB_OUTPUT's lines are applied in order, so a later `Restarted=true` replaces an
 * earlier `restarted=false`. Names are checked against OUTPUT_NAME (ASCII) before they are
 * compared, where lower-casing is exactly the runner's ordinal case-insensitive comparison.
 */
export function outputNameKey(name: string): string {
  return name.toLowerCase()
}

/** The action's own output that the runner takes `name` for, if any. */
export function actionOutputLike(name: string): string | undefined {
  return ACTION_OUTPUTS.find(output => outputNameKey(output) === outputNameKey(name))
}

/** Who sets an output: the action, the deployment secret (one output per key), or Parameter Store. */
export type OutputSetter =
  | { kind: 'action' }
  | { kind: 'host-key' }
  | { kind: 'secret-key'; secretId: string }
  | { kind: 'parameter'; parameter: string; path: string }

interface Claim {
  name: string
  setter: OutputSetter
}

const CASE_NOTE = 'the runner compares step output names without case'

/**
 * Every output name a run sets, as the runner tells them apart: a second name that the runner
 * takes for one already claimed fails the run, naming both spellings and where each comes from,
 * before any output is written.
 */
export class OutputNames {
  private readonly claims = new Map<string, Claim>()

  /** The action's own outputs are claimed first: nothing may stand in for them. */
  constructor() {
    for (const name of ACTION_OUTPUTS)
      this.claims.set(outputNameKey(name), { name, setter: { kind: 'action' } })
  }

  /** Claims `name` for `setter`; throws an ActionError when the runner would take it for another. */
  claim(name: string, setter: OutputSetter): void {
    const key = outputNameKey(name)
    const earlier = this.claims.get(key)
    if (!earlier) {
      this.claims.set(key, { name, setter })
      return
    }
    // The key input "host-key" names is the secret's own key of that name: one output, one setter.
    const oneKey = (a: OutputSetter, b: OutputSetter) =>
      a.kind === 'host-key' && b.kind === 'secret-key'
    if (earlier.name === name && (oneKey(earlier.setter, setter) || oneKey(setter, earlier.setter)))
      return
    throw new ActionError(clashMessage(earlier, { name, setter }))
  }
}

const quoted = (name: string) => `"${quoteUntrusted(name, 200)}"`

/** The earlier claim, as a clause of the message about the later one: "which is also ...". */
function describeEarlier(earlier: Claim, later: Claim): string {
  const same = earlier.name === later.name
  const takenFor = `which the runner takes for ${quoted(earlier.name)},`
  const caseNote = same ? '' : `, as ${CASE_NOTE}`
  switch (earlier.setter.kind) {
    case 'action':
      return `${same ? 'which is also' : takenFor} an output of this action (${ACTION_OUTPUTS.join(', ')})${caseNote}`
    case 'host-key':
      return `${same ? 'which is also' : takenFor} the key named by input "host-key", which this run writes the address into and sets as an output${caseNote}`
    case 'secret-key':
      return same
        ? `which the deployment secret "${earlier.setter.secretId}" also has as a key`
        : `${takenFor} a key of the deployment secret "${earlier.setter.secretId}"${caseNote}`
    case 'parameter':
      return `${same ? 'which is also' : takenFor} the output of parameter ${quoted(earlier.setter.parameter)}${caseNote}`
  }
}

function clashMessage(earlier: Claim, later: Claim): string {
  const { setter } = later
  if (setter.kind === 'secret-key') {
    const secret = `The deployment secret "${setter.secretId}"`
    if (earlier.setter.kind === 'secret-key') {
      return (
        `${secret} has keys ${quoted(earlier.name)} and ${quoted(later.name)}, which the runner takes for one step output, ` +
        `as ${CASE_NOTE}: one would override the other. Keep one of them in the secret.`
      )
    }
    const fix =
      earlier.setter.kind === 'host-key'
        ? 'Rename the key in the secret, or spell it in input "host-key" as the secret does.'
        : 'Rename the key in the secret.'
    return `${secret} has key ${quoted(later.name)}, ${describeEarlier(earlier, later)}. ${fix}`
  }
  if (setter.kind === 'parameter') {
    const where = `under input "config-path" (${setter.path})`
    if (earlier.setter.kind === 'parameter') {
      // In the order of the parameters' names, whichever order Parameter Store listed them in.
      const [first, second] = [
        { parameter: earlier.setter.parameter, output: earlier.name },
        { parameter: setter.parameter, output: later.name }
      ].sort((a, b) => (a.parameter < b.parameter ? -1 : 1))
      return first.output === second.output
        ? `Parameters ${quoted(first.parameter)} and ${quoted(second.parameter)} ${where} both become the output ` +
            `${quoted(first.output)}. Rename one of them in Parameter Store.`
        : `Parameters ${quoted(first.parameter)} and ${quoted(second.parameter)} ${where} become the outputs ` +
            `${quoted(first.output)} and ${quoted(second.output)}, which the runner takes for one, as ${CASE_NOTE}. ` +
            'Rename one of them in Parameter Store.'
    }
    const fix =
      earlier.setter.kind === 'action'
        ? '. Rename the parameter.'
        : ': one would override the other. Rename the parameter or the key.'
    return (
      `Parameter ${quoted(setter.parameter)} ${where} would become the output ${quoted(later.name)}, ` +
      `${describeEarlier(earlier, later)}${fix}`
    )
  }
  // The action's own names and the host key are claimed before any key or parameter.
  return `The output ${quoted(later.name)} would be set twice: ${describeEarlier(earlier, later)}.`
}

/**
 * Checks that every key of the deployment secret can be a step output name and that the runner
 * takes no two of them, or one of them and an output of the action, for one output. `hostKey`: the
 * key the run writes the address into and sets as an output (when it deploys). Returns the names
 * claimed, for the outputs still to come (input "config-path").
 */
export function checkOutputNames(
  secretId: string,
  keys: readonly string[],
  options: { hostKey?: string } = {}
): OutputNames {
  const bad = keys.filter(key => !OUTPUT_NAME.test(key))
  if (bad.length > 0) {
    throw new ActionError(
      `The deployment secret "${secretId}" has key${bad.length > 1 ? 's' : ''} ${bad.map(k => JSON.stringify(quoteUntrusted(k, 200))).join(', ')} ` +
        'that cannot be a step output name: use letters, digits, "_" and "-", starting with a letter or "_". Rename the key in the secret.'
    )
  }
  const names = new OutputNames()
  if (options.hostKey !== undefined) names.claim(options.hostKey, { kind: 'host-key' })
  for (const key of keys) names.claim(key, { kind: 'secret-key', secretId })
  return names
}

/**
 * Checks the keys input "env-keys" declares, before any secret is read: each must be a key name,
 * no two may become the same variable, and none may become a variable that changes how programs
 * run (src/secrets/key-rules.ts), even when declared: whoever can write the secret would choose its value.
 * Variable names are upper-cased (envName) and compared so, as Windows and the runner's
 * environment there compare them: keys that differ only in case (`Foo`, `foo`) are one variable.
 */
export function checkEnvKeys(envKeys: readonly string[]): void {
  const [refusal] = envKeyRefusals(envKeys)
  switch (refusal?.kind) {
    case undefined:
      return
    case 'not-a-name':
      throw new ActionError(
        `Input "env-keys" lists ${JSON.stringify(refusal.key)}, which is not a key name: use letters, digits, "_" and "-", ` +
          'starting with a letter or "_", separated by commas or new lines.'
      )
    case 'refused':
      throw new ActionError(
        `Input "env-keys" lists "${refusal.key}", which would become the environment variable ${refusal.name}: ${refusal.why}. ` +
          'Whoever can edit the secret would then choose how programs in this job run, so it is refused even when declared. ' +
          'Remove it from "env-keys" and rename the key in the secret.'
      )
    case 'same-name':
      throw new ActionError(
        `Input "env-keys" lists "${refusal.other}" and "${refusal.key}", which both become the environment variable ${refusal.name}. Keep one of them.`
      )
  }
}
