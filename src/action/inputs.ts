import * as core from '@actions/core'
import { ActionError } from '../lib/errors.js'
import { ACTION_OUTPUTS, OUTPUT_NAME, actionOutputLike, checkEnvKeys } from './outputs.js'
import { maskSecret } from '../lib/log.js'
import { parseRate, type Rate } from '../restart/rate.js'
import { checkRunnerIpUrl, DEFAULT_RUNNER_IP_URL } from '../ec2/runner-address.js'
import { checkSecurityGroupId } from '../lib/aws-ids.js'

export type RestartMode = 'ssh' | 'ssm' | 'none'
/** Input "deploy": cdk deploy, cdk diff (a preview: nothing deployed, written back or restarted), or neither. */
export type DeployMode = 'deploy' | 'diff' | 'none'
export type AddressType = 'public' | 'private'

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
  ssh: SshInputs
  ssm: SsmInputs
  /** With diff: the preview as a pull-request comment. */
  comment: CommentInputs
  /** Inputs open-ingress and runner-ip-url: a door in a security group for this run alone. */
  ingress: IngressInputs
}

export interface IngressInputs {
  /** The security group to open; empty: none. */
  groupId: string
  /** Where the runner's public address is learned, checked (https, or http to loopback). */
  runnerIpUrl: URL
}

/** Inputs comment-on-pr, github-token, comment-key, comment-mode and comment-required. */
export interface CommentInputs {
  onPullRequest: boolean
  token: string
  /** Goes into the comment's hidden marker, beside the stack; empty: none. */
  key: string
  /** update: edit the comment in place; replace: delete it and post a new one (a notification). */
  mode: 'update' | 'replace'
  /** A comment that cannot be posted fails the step, instead of a warning. */
  required: boolean
}

/** Run Command's rate control, in SSM's own syntax: a count, or a percentage of the fleet. */
export interface SsmInputs {
  maxConcurrency: Rate
  maxErrors: Rate
  timeoutSeconds: number
}

export interface SshInputs {
  privateKey: string
  passphrase: string
  user: string
  port: number
  hostFingerprints: string[]
  insecureSkipHostKeyCheck: boolean
  connectTimeoutSeconds: number
  commandTimeoutSeconds: number
  healthCommand: string
  jump: JumpInputs
}

/** Inputs ssh-jump*: the bastion the targets are reached through; an empty spec means none. */
export interface JumpInputs {
  /** Input "ssh-jump": `[user@]host[:port]` or an instance id; empty: no bastion. */
  spec: string
  /** Which address of a bastion named by instance id: input "ssh-jump-address-type". */
  addressType: AddressType
  hostFingerprints: string[]
  /** Empty: the key of input "ssh-private-key". */
  privateKey: string
  user: string
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

function ingressInputs(): IngressInputs {
  const groupId = checkSecurityGroupId(text('open-ingress'), 'Input "open-ingress"') ?? ''
  return { groupId, runnerIpUrl: checkRunnerIpUrl(text('runner-ip-url') || DEFAULT_RUNNER_IP_URL) }
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

export function readInputs(): ActionInputs {
  const mode = deployInput()
  const stack = text('stack')
  const given = mode === 'diff' ? 'diff' : 'true'
  if (mode !== 'none' && stack === '') {
    throw new ActionError(
      `Input "stack" is required when "deploy" is ${given}: name the CDK stack to ${mode === 'diff' ? 'preview' : 'deploy'}, or set deploy: false.`
    )
  }
  if (mode !== 'none' && listInput('targets').length > 0) {
    throw new ActionError(
      `Input "targets" is for deploy: false; with deploy: ${given} the action ` +
        `${mode === 'diff' ? 'restarts nothing' : 'restarts every instance of the stack'}. Remove "targets", or set deploy: false.`
    )
  }
  const deploymentSecretId = text('deployment-secret-id')
  if (deploymentSecretId === '') {
    throw new ActionError(
      'Input "deployment-secret-id" is empty: give the name or ARN of the deployment secret.'
    )
  }
  const hostFingerprints = fingerprintsInput('ssh-host-fingerprint')
  const privateKey = core.getInput('ssh-private-key')
  // Spaces can be part of a passphrase.
  const passphrase = core.getInput('ssh-passphrase', { trimWhitespace: false })
  const envKeys = listInput('env-keys')
  checkEnvKeys(envKeys)
  const restart = choiceInput('restart', ['ssh', 'ssm', 'none'] as const)
  // Inputs from `${{ secrets.X }}` are masked by the runner, but not line by line on every runner.
  for (const value of [privateKey, passphrase]) maskSecret(value)
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
    targets: listInput('targets'),
    // A preview restarts nothing, whatever "restart" says (its default is ssh): see main.ts.
    restart: mode === 'diff' ? 'none' : restart,
    service: text('service'),
    ssh: {
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
    },
    ssm: {
      maxConcurrency: rateInput('max-concurrency', 1),
      maxErrors: rateInput('max-errors', 0),
      // SSM's own range for TimeoutSeconds.
      timeoutSeconds: integerInput('ssm-timeout', 30, 172800)
    },
    comment: commentInputs(),
    ingress: ingressInputs()
  }
}
