import * as core from '@actions/core'
import type { DeployMode } from '../cdk/run.js'
import type { AddressType } from '../ec2/instances.js'
import type { RotateRequest } from '../secrets/rotate.js'
import { checkRunnerIpUrl, DEFAULT_RUNNER_IP_URL } from '../ec2/runner-address.js'
import { checkSecurityGroupId, checkTargetGroupArns } from '../lib/aws-ids.js'
import type { IngressInputs } from '../phases/ingress.js'
import type { JumpInputs } from '../phases/jump.js'
import type { CommentInputs } from '../phases/comment/pull-request.js'
import type { RestartMode, SshInputs, SsmInputs, TrafficInputs } from '../phases/restart.js'
import { ActionError } from '../lib/errors.js'
import { ACTION_OUTPUTS } from '../lib/output-names.js'
import { OUTPUT_NAME, actionOutputLike, checkEnvKeys } from '../secrets/key-rules.js'
import { maskSecret } from '../lib/log.js'
import { parseRate, type Rate } from '../restart/rate.js'
import {
  checkHealthInputs,
  checkReleaseInputs,
  type HealthSettings,
  type ReleaseSettings
} from '../release/settings.js'
import { checkReleaseBucket, checkReleasePrefix } from '../lib/s3-names.js'

/** Every input of action.yml, parsed and checked once, before anything talks to AWS. */
export interface ActionInputs {
  deploymentSecretId: string
  appSecretId: string
  requiredKeys: string[]
  appRequiredKeys: string[]
  maskExclude: string[]
  /** A Parameter Store path whose parameters become outputs; empty: none. */
  configPath: string
  /** The deployment secret's keys that may become environment variables; from the workflow only. */
  envKeys: string[]
  exportEnv: boolean
  /** deploy: true, diff or false. */
  mode: DeployMode
  /** With diff: fail when the diff replaces or destroys a resource. */
  failOnReplace: boolean
  stack: string
  workingDirectory: string
  cdkCommand: string
  cdkArgs: string
  /** Seconds cdk deploy may run; undefined: no limit. */
  deployTimeoutSeconds?: number
  instanceIdOutput: string
  addressType: AddressType
  instanceTimeoutSeconds: number
  hostKey: string
  /** The secret key that holds the SSH login user, when input "ssh-user" is empty. */
  userKey: string
  /** With deploy false: instance ids and `tag:Key=Value` filters; empty means the host-key address. */
  targets: string[]
  restart: RestartMode
  service: string
  /** Input "failure-logs": a failed restart shows the unit's status and journal. */
  failureLogs: boolean
  ssh: SshInputs
  ssm: SsmInputs
  /** With diff: the preview as a pull-request comment. */
  comment: CommentInputs
  /** Input "rotate": app-secret keys to regenerate before the restart; undefined: none. */
  rotate?: RotateRequest
  /** Inputs open-ingress and runner-ip-url: a door in a security group for this run alone. */
  ingress: IngressInputs
  /** Input "release-path" and the rest of a release; undefined: no release, as before. */
  release?: ReleaseSettings
  /** Inputs "health-url" and "health-timeout". */
  health: HealthSettings
  /** Input "target-group-arn" and its waits; undefined: no load balancer. */
  traffic?: TrafficInputs
}

function text(name: string): string {
  return core.getInput(name).trim()
}

/** A list input: entries separated by commas or new lines, blanks dropped. */
export function listInput(name: string): string[] {
  return core
    .getInput(name)
    .split(/[,\n]/)
    .map(entry => entry.trim())
    .filter(entry => entry !== '')
}

function booleanInput(name: string): boolean {
  const value = text(name).toLowerCase()
  if (value === 'true') return true
  if (value === 'false') return false
  throw new ActionError(`Input "${name}" must be true or false, not "${text(name)}".`)
}

function choiceInput<T extends string>(name: string, choices: readonly T[]): T {
  const value = text(name)
  if ((choices as readonly string[]).includes(value)) return value as T
  throw new ActionError(`Input "${name}" must be one of ${choices.join(', ')}, not "${value}".`)
}

function integerInput(name: string, min: number, max: number): number {
  const raw = text(name)
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ActionError(
      `Input "${name}" must be a whole number from ${min} to ${max}, not "${raw}".`
    )
  }
  return value
}

/** SSM's MaxConcurrency and MaxErrors patterns, with a concurrency of at least 1. */
function rateInput(name: string, min: number): Rate {
  return parseRate(text(name), name, min)
}

/** A Parameter Store path as SSM takes it: "/" and names of letters, digits and . - _ */
const CONFIG_PATH = /^\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]*$/

/** Input "config-path": empty (no configuration), or a Parameter Store path. */
function configPathInput(): string {
  const path = text('config-path')
  if (path === '' || (CONFIG_PATH.test(path) && path.length <= 2048)) return path
  throw new ActionError(
    `Input "config-path" is "${path}", which is not a Parameter Store path: give one that starts with "/", ` +
      'such as /fastapi/staging/ (letters, digits, ".", "-" and "_" between single slashes).'
  )
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/

/** An input that names a key of the deployment secret: every key is also an output. */
function secretKeyInput(name: 'host-key' | 'user-key'): string {
  const key = text(name)
  // The runner compares output names without case: "Restarted" is the output "restarted".
  const taken = actionOutputLike(key)
  if (!OUTPUT_NAME.test(key) || taken !== undefined) {
    const clash =
      taken !== undefined && taken !== key
        ? ` ("${key}" is "${taken}" to the runner, which compares output names without case)`
        : ''
    throw new ActionError(
      `Input "${name}" is "${key}": it must name a key of the deployment secret (letters, digits, "_" and "-", ` +
        `starting with a letter or "_"), and not one of the action's own outputs (${ACTION_OUTPUTS.join(', ')})${clash}.`
    )
  }
  return key
}

const COMMENT_KEY = /^[A-Za-z0-9._-]{1,64}$/

function commentInputs(): CommentInputs {
  const key = text('comment-key')
  if (key !== '' && !COMMENT_KEY.test(key)) {
    throw new ActionError(
      `Input "comment-key" is "${key}": use at most 64 letters, digits, ".", "-" and "_", or leave it empty.`
    )
  }
  const token = text('github-token')
  maskSecret(token)
  return {
    onPullRequest: booleanInput('comment-on-pr'),
    token,
    key,
    mode: choiceInput('comment-mode', ['update', 'replace'] as const),
    required: booleanInput('comment-required')
  }
}

const DEPLOY_MODES: Record<string, DeployMode> = { true: 'deploy', diff: 'diff', false: 'none' }

/** Input "deploy": true, false or diff (a preview). */
function deployInput(): DeployMode {
  const mode = DEPLOY_MODES[text('deploy').toLowerCase()]
  if (mode) return mode
  throw new ActionError(`Input "deploy" must be true, false or diff, not "${text('deploy')}".`)
}

/** Input "stack" with input "deploy": required to deploy or preview; "targets" only without. */
function stackInput(mode: DeployMode, targets: readonly string[]): string {
  const stack = text('stack')
  const given = mode === 'diff' ? 'diff' : 'true'
  if (mode !== 'none' && stack === '') {
    throw new ActionError(
      `Input "stack" is required when "deploy" is ${given}: name the CDK stack to ${mode === 'diff' ? 'preview' : 'deploy'}, or set deploy: false.`
    )
  }
  if (mode !== 'none' && targets.length > 0) {
    throw new ActionError(
      `Input "targets" is for deploy: false; with deploy: ${given} the action ` +
        `${mode === 'diff' ? 'restarts nothing' : 'restarts every instance of the stack'}. Remove "targets", or set deploy: false.`
    )
  }
  return stack
}

/** A list of host key fingerprints, each as ssh-keygen -l prints it. */
function fingerprintsInput(name: string): string[] {
  const fingerprints = listInput(name)
  for (const fingerprint of fingerprints) {
    if (!FINGERPRINT.test(fingerprint)) {
      throw new ActionError(
        `Input "${name}" has "${fingerprint}", which is not a SHA256 fingerprint: give ` +
          'one "SHA256:..." per line, as "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" prints it.'
      )
    }
  }
  return fingerprints
}

/** Inputs ssh-jump*; the spec itself is parsed with the rest of the SSH login (phases/jump.ts). */
function jumpInputs(): JumpInputs {
  const privateKey = core.getInput('ssh-jump-private-key')
  maskSecret(privateKey)
  return {
    spec: text('ssh-jump'),
    addressType: choiceInput('ssh-jump-address-type', ['public', 'private'] as const),
    hostFingerprints: fingerprintsInput('ssh-jump-host-fingerprint'),
    privateKey,
    user: text('ssh-jump-user')
  }
}

function ingressInputs(): IngressInputs {
  const groupId = checkSecurityGroupId(text('open-ingress'), 'Input "open-ingress"') ?? ''
  return { groupId, runnerIpUrl: checkRunnerIpUrl(text('runner-ip-url') || DEFAULT_RUNNER_IP_URL) }
}

/** The SSH inputs; the keys and the passphrase are masked at once. */
function sshInputs(): SshInputs {
  const hostFingerprints = fingerprintsInput('ssh-host-fingerprint')
  const privateKey = core.getInput('ssh-private-key')
  // Spaces can be part of a passphrase.
  const passphrase = core.getInput('ssh-passphrase', { trimWhitespace: false })
  // Inputs from `${{ secrets.X }}` are masked by the runner, but not line by line on every runner.
  for (const value of [privateKey, passphrase]) maskSecret(value)
  return {
    privateKey,
    passphrase,
    user: text('ssh-user'),
    port: integerInput('ssh-port', 1, 65535),
    hostFingerprints,
    insecureSkipHostKeyCheck: booleanInput('ssh-insecure-skip-host-key-check'),
    connectTimeoutSeconds: integerInput('ssh-connect-timeout', 1, 3600),
    commandTimeoutSeconds: integerInput('ssh-command-timeout', 1, 3600),
    healthCommand: text('health-command'),
    jump: jumpInputs()
  }
}

function ssmInputs(): SsmInputs {
  return {
    maxConcurrency: rateInput('max-concurrency', 1),
    maxErrors: rateInput('max-errors', 0),
    // SSM's own range for TimeoutSeconds.
    timeoutSeconds: integerInput('ssm-timeout', 30, 172800)
  }
}

function deploymentSecretIdInput(): string {
  const id = text('deployment-secret-id')
  if (id !== '') return id
  throw new ActionError(
    'Input "deployment-secret-id" is empty: give the name or ARN of the deployment secret.'
  )
}

/**
 * Inputs "rotate", "rotate-length", "rotate-exclude-characters", "rotate-exclude-punctuation" and
 * "rotate-create", refused where nothing would load the new values or undo them.
 */
function rotateInputs(
  mode: DeployMode,
  restart: RestartMode,
  appSecretId: string
): RotateRequest | undefined {
  const keys = [...new Set(listInput('rotate'))]
  if (keys.length === 0) return undefined
  const refusal =
    mode === 'diff'
      ? 'with deploy: diff, which changes nothing'
      : restart === 'none'
        ? 'with restart: none: nothing would load the new values'
        : appSecretId === ''
          ? 'with an empty "app-secret-id": it rotates keys of the app secret'
          : undefined
  if (refusal) {
    throw new ActionError(
      `Input "rotate" cannot be used ${refusal}. Nothing was changed; remove "rotate", or change that input.`
    )
  }
  return {
    keys,
    rules: {
      // Shorter values could not be masked in the log.
      length: integerInput('rotate-length', 4, 4096),
      ExcludeCharacters: core.getInput('rotate-exclude-characters') || undefined,
      ExcludePunctuation: booleanInput('rotate-exclude-punctuation')
    },
    create: booleanInput('rotate-create')
  }
}

/**
 * The release inputs, checked; a release needs a restart (over SSH it streams over the
 * connection; with restart: ssm it goes through release-bucket).
 */
function releaseInputs(restart: RestartMode, mode: DeployMode): ReleaseSettings | undefined {
  const release = checkReleaseInputs(
    {
      releasePath: text('release-path'),
      releaseInclude: core
        .getInput('release-include')
        .split('\n')
        .map(line => line.trim())
        .filter(line => line !== ''),
      appDir: text('app-dir'),
      releaseCommand: text('release-command'),
      releaseTimeout: text('release-timeout'),
      keepReleases: text('keep-releases'),
      healthUrl: text('health-url'),
      healthTimeout: text('health-timeout'),
      rollbackOnFailure: booleanInput('rollback-on-failure')
    },
    text('service'),
    process.env.GITHUB_WORKSPACE || process.cwd()
  )
  if (!release) return undefined
  if (mode === 'diff' || restart === 'none') {
    throw new ActionError(
      `Input "release-path" ships a release, which takes a restart: with ${mode === 'diff' ? 'deploy: diff nothing is restarted' : 'restart: none'} it would never go live. ` +
        'Remove "release-path", or restart with ssh or ssm.'
    )
  }
  const bucket = text('release-bucket')
  if (restart === 'ssm') {
    if (bucket === '') {
      throw new ActionError(
        'Input "release-bucket" is required for a release with restart: ssm: the archive goes to that S3 bucket once, ' +
          'and each instance downloads it with a presigned URL. Name a bucket the workflow may write (secrets-deploy iam-policy --release-bucket).'
      )
    }
    release.store = {
      bucket: checkReleaseBucket(bucket),
      prefix: checkReleasePrefix(text('release-prefix'))
    }
  } else if (bucket !== '') {
    throw new ActionError(
      'Input "release-bucket" is for restart: ssm; over SSH the archive streams over the connection. Remove "release-bucket".'
    )
  }
  return release
}

/**
 * Inputs "target-group-arn", "drain-timeout", "healthy-timeout" and "min-healthy"; refused where
 * nothing is restarted, and from-stack where no stack is deployed.
 */
function trafficInputs(mode: DeployMode, restart: RestartMode): TrafficInputs | undefined {
  const arns = listInput('target-group-arn')
  if (arns.length === 0) return undefined
  if (mode === 'diff' || restart === 'none') {
    throw new ActionError(
      `Input "target-group-arn" is for a restart; with ${mode === 'diff' ? 'deploy: diff' : 'restart: none'} nothing is restarted. Remove "target-group-arn".`
    )
  }
  const fromStack = arns.includes('from-stack')
  if (fromStack && (arns.length > 1 || mode !== 'deploy')) {
    throw new ActionError(
      arns.length > 1
        ? 'Input "target-group-arn" is from-stack or a list of ARNs, not both.'
        : 'Input "target-group-arn" is from-stack, which reads the outputs of the stack deployed: with deploy: false, give the target group ARNs.'
    )
  }
  return {
    groupArns: fromStack ? 'from-stack' : checkTargetGroupArns(arns, 'Input "target-group-arn"'),
    drainTimeoutSeconds: text('drain-timeout') ? integerInput('drain-timeout', 0, 3600) : undefined,
    healthyTimeoutSeconds: integerInput('healthy-timeout', 1, 3600),
    minHealthy: integerInput('min-healthy', 0, 999)
  }
}

/** Every input, parsed and checked once, in the order a reader meets them in action.yml. */
export function readInputs(): ActionInputs {
  const mode = deployInput()
  const targets = listInput('targets')
  const stack = stackInput(mode, targets)
  const deploymentSecretId = deploymentSecretIdInput()
  const ssh = sshInputs()
  const envKeys = listInput('env-keys')
  checkEnvKeys(envKeys)
  const restart = choiceInput('restart', ['ssh', 'ssm', 'none'] as const)
  const release = releaseInputs(mode === 'diff' ? 'none' : restart, mode)
  return {
    deploymentSecretId,
    appSecretId: text('app-secret-id'),
    requiredKeys: listInput('required-keys'),
    appRequiredKeys: listInput('app-required-keys'),
    maskExclude: listInput('mask-exclude'),
    configPath: configPathInput(),
    envKeys,
    exportEnv: booleanInput('export-env'),
    mode,
    failOnReplace: booleanInput('fail-on-replace'),
    stack,
    workingDirectory: text('working-directory') || '.',
    cdkCommand: text('cdk-command'),
    cdkArgs: text('cdk-args'),
    deployTimeoutSeconds: text('deploy-timeout')
      ? integerInput('deploy-timeout', 1, 6 * 3600)
      : undefined,
    instanceIdOutput: text('instance-id-output'),
    addressType: choiceInput('address-type', ['public', 'private'] as const),
    instanceTimeoutSeconds: integerInput('instance-timeout', 1, 3600),
    hostKey: secretKeyInput('host-key'),
    userKey: secretKeyInput('user-key'),
    targets,
    // A preview restarts nothing, whatever "restart" says (its default is ssh): see main.ts.
    restart: mode === 'diff' ? 'none' : restart,
    service: text('service'),
    failureLogs: booleanInput('failure-logs'),
    ssh,
    ssm: ssmInputs(),
    comment: commentInputs(),
    rotate: rotateInputs(mode, restart, text('app-secret-id')),
    ingress: ingressInputs(),
    release,
    health: checkHealthInputs(text('health-url'), text('health-timeout'), release !== undefined),
    traffic: trafficInputs(mode, mode === 'diff' ? 'none' : restart)
  }
}
