import { isIP } from 'node:net'
import * as core from '@actions/core'
import { HOST_NAME, maskAddress } from '../lib/addresses.js'
import { createAwsClients, resolveRegion, type AwsClients } from '../aws/clients.js'
import { PhaseTracker, StoppedError, stoppableSleep } from '../lib/cancel.js'
import {
  cdkDeploy,
  cdkEnvironment,
  planCdk,
  STOPPED_DEPLOY_STATE,
  STOPPED_DIFF_STATE,
  StackOutputAddresses,
  type CdkDeployPlan
} from '../cdk/run.js'
import type { ConfigParameters } from '../secrets/parameters.js'
import { ActionError, failureMessage } from '../lib/errors.js'
import { envName } from '../secrets/key-rules.js'
import { exportSecret, secretEnvironment, setInstanceOutputs } from './outputs.js'
import { OUTPUTS } from '../lib/output-names.js'
import { checkOutputNames, type OutputNames } from '../secrets/key-rules.js'
import { readInputs, type ActionInputs } from './inputs.js'
import type { LocatedInstances } from '../ec2/instances.js'
import { planIngress, throughDoor, type IngressPlan } from '../phases/ingress.js'
import {
  actionLogger,
  actionState,
  actionOutputs,
  quoteUntrusted,
  redact,
  shownVersionId,
  type Logger,
  type StepOutputs
} from '../lib/log.js'
import { restart } from '../restart/engine.js'
import { planRestart, trafficFromStack, type RestartPlan } from '../phases/restart.js'
import { readJsonSecret, requireKeys, type JsonSecret } from '../secrets/read.js'
import { previewStack } from '../phases/preview.js'
import { newReport, writeSummary, type RunReport } from './summary.js'
import { writeKeyBack } from '../secrets/compare-and-swap.js'
import { checkRotation } from '../secrets/rotate.js'
import { rotateAndRestart, type RotationPhase } from '../phases/rotate.js'

/** What the pipeline needs from outside; tests replace any of it. */
export interface Dependencies {
  env: NodeJS.ProcessEnv
  /** The one logger every phase writes to: the action's writes workflow commands. */
  log: Logger
  /** Where the step's outputs go (GITHUB_OUTPUT). */
  outputs: StepOutputs
  awsClients: (region: string) => AwsClients
  sleep: (ms: number) => Promise<void>
  /** Aborted when the run must stop (the step was cancelled); every phase observes it. */
  signal: AbortSignal
}

const defaultDependencies: Dependencies = {
  env: process.env,
  log: actionLogger,
  outputs: actionOutputs,
  awsClients: createAwsClients,
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
  signal: new AbortController().signal
}

/** The action's entry point: runs every phase, and turns any failure into one clear message. */
export async function run(overrides: Partial<Dependencies> = {}): Promise<void> {
  const given = { ...defaultDependencies, ...overrides }
  // Every wait is a safe point to stop at.
  const deps = { ...given, sleep: stoppableSleep(given.sleep, given.signal) }
  const report = newReport()
  const phases = new PhaseTracker(deps.signal)
  try {
    // Set first, so that a workflow reading it after a failure sees false, not nothing.
    core.setOutput(OUTPUTS.restarted, 'false')
    await pipeline(readInputs(), deps, report, phases)
    phases.finish(writtenState(report))
  } catch (error) {
    let message = error instanceof StoppedError ? phases.describe(error) : failureMessage(error)
    if (report.writeBack?.changed && !(error instanceof StoppedError)) {
      message += ` (The deploy itself succeeded: "${report.writeBack.key}" already holds the new address, version ${shownVersionId(report.writeBack.versionId)}.)`
    }
    // The runner masks the log, but older runners miss forms of a value; the message is also
    // written to the job summary.
    report.failure = redact(message)
    core.setFailed(report.failure)
  }
  try {
    await writeSummary(report, deps.env)
  } catch (error) {
    core.warning(`Could not write the job summary: ${redact(failureMessage(error))}`)
  }
}

/**
 * Input "config-path": the parameters under it, checked against the output names already claimed
 * (the action's, the deployment secret's keys).
 */
async function readConfig(
  inputs: ActionInputs,
  outputNames: OutputNames,
  clients: AwsClients,
  log: Logger
): Promise<ConfigParameters> {
  // Loaded only here: with it comes the SSM client.
  const { readConfigParameters } = await import('../secrets/parameters.js')
  const config = await readConfigParameters(
    await clients.ssm(),
    inputs.configPath,
    outputNames,
    log
  )
  const names = Object.keys(config.values)
  core.info(
    names.length
      ? `Read ${names.length} parameter${names.length === 1 ? '' : 's'} under "${inputs.configPath}" (input "config-path"), exported as step outputs: ${names.map(name => quoteUntrusted(name, 300)).join(', ')}.`
      : `No parameters under "${inputs.configPath}" (input "config-path"): no configuration outputs.`
  )
  return config
}

/** What the later phases will do, worked out and checked before anything changes. */
interface Plan {
  /** The deployment secret as environment variables, for the CDK app and export-env. */
  secretEnv: Record<string, string>
  cdk?: CdkDeployPlan
  /** The address the secret holds, checked, when the restart goes there (deploy: false). */
  restartAddress?: string
  restart?: RestartPlan
  /** Input "open-ingress": the door the restart goes through. */
  ingress?: IngressPlan
}

/** Where the restart goes: the deployed instance(s), or the address the secret already holds. */
type Target = (LocatedInstances | { instanceId?: undefined; address: string; instances: [] }) & {
  /** The deployed stack's outputs (input "target-group-arn: from-stack" reads them). */
  stackOutputs?: Record<string, string>
}

async function pipeline(
  inputs: ActionInputs,
  deps: Dependencies,
  report: RunReport,
  phases: PhaseTracker
): Promise<void> {
  const clients = deps.awsClients(resolveRegion(deps.env, inputs.deploymentSecretId))
  const deployment = await readJsonSecret(
    clients.secretsManager,
    inputs.deploymentSecretId,
    'deployment',
    inputs.maskExclude
  )
  report.secretsRead.push({
    role: 'deployment',
    id: deployment.id,
    versionId: deployment.versionId
  })
  // Every output name is checked before any is written: the runner takes names that differ only
  // in case for one output, and the last line written for it wins. The host key is set as an
  // output again after the write-back.
  const outputNames = checkOutputNames(deployment.id, Object.keys(deployment.values), {
    hostKey: inputs.mode === 'deploy' ? inputs.hostKey : undefined
  })
  requireKeys(deployment, inputs.requiredKeys, 'deployment', 'listed in input "required-keys"')
  const config = inputs.configPath
    ? await readConfig(inputs, outputNames, clients, deps.log)
    : undefined
  const plan = await planLaterPhases(inputs, deployment, deps.env, clients, deps.log, config)
  try {
    await runPhases({ inputs, deps, report, phases, clients, deployment, config, plan })
  } finally {
    plan.restart?.earlySocket?.discard()
    plan.restart?.jump?.close()
  }
}

/** What every phase after the plan is given: the run's settings, clients, secret and report. */
interface Run {
  inputs: ActionInputs
  deps: Dependencies
  report: RunReport
  phases: PhaseTracker
  clients: AwsClients
  deployment: JsonSecret
  config?: ConfigParameters
  plan: Plan
}

/** The phases after the plan, in order: each one a function of the run. */
async function runPhases(run: Run): Promise<void> {
  const rotation = await checkAppSecret(run)
  exportOutputs(run)
  if (run.inputs.comment.onPullRequest && run.inputs.mode !== 'diff')
    core.notice(
      'Input "comment-on-pr" is for deploy: diff; with this "deploy" no comment is posted.'
    )
  if (run.plan.cdk?.command === 'diff') {
    await preview(run, run.plan.cdk)
    core.setOutput(OUTPUTS.secretVersionId, run.deployment.versionId)
    return
  }
  const { target, versionId } = await findTargets(run)
  core.setOutput(OUTPUTS.secretVersionId, versionId)
  if (run.plan.restart && target) await restartTargets(run, run.plan.restart, target, rotation)
}

/**
 * The app secret: read and checked (a JSON object whose required keys are set), never exported;
 * with input "rotate", the rotation is checked now, before anything changes.
 */
async function checkAppSecret(run: Run): Promise<RotationPhase | undefined> {
  const { inputs, clients, report } = run
  if (inputs.appSecretId === '') return undefined
  const app = await readJsonSecret(clients.secretsManager, inputs.appSecretId, 'app')
  report.secretsRead.push({ role: 'app', id: app.id, versionId: app.versionId })
  requireKeys(app, inputs.appRequiredKeys, 'app', 'listed in input "app-required-keys"')
  const rotation = await planRotation(run, app)
  const required = inputs.appRequiredKeys.length
    ? `, with ${inputs.appRequiredKeys.map(key => `"${key}"`).join(', ')} set`
    : ''
  core.info(
    `Checked the app secret "${app.id}" (version ${shownVersionId(app.versionId)}): a JSON object of ` +
      `${Object.keys(app.values).length} keys${required}; it is not exported.`
  )
  return rotation
}

/**
 * Input "rotate", checked before anything changes; sets `app-secret-version-id` to the version
 * read (the rotation sets it again) and `rotated` to none until the rotation succeeds.
 */
async function planRotation(
  { inputs, clients, deps }: Run,
  app: JsonSecret
): Promise<RotationPhase | undefined> {
  deps.outputs.set(OUTPUTS.appSecretVersionId, app.versionId)
  if (!inputs.rotate) return undefined
  await checkRotation(clients.secretsManager, app, inputs.rotate)
  deps.outputs.set(OUTPUTS.rotated, '[]')
  return {
    request: inputs.rotate,
    app,
    client: clients.secretsManager,
    log: deps.log,
    outputs: deps.outputs
  }
}

/** The deployment secret's keys and config-path's parameters as outputs (and env-keys as variables). */
function exportOutputs({ inputs, deployment, config, plan, report }: Run): void {
  exportSecret(deployment.values, inputs.exportEnv ? plan.secretEnv : undefined)
  for (const [name, value] of Object.entries(config?.values ?? {})) core.setOutput(name, value)
  report.exportedKeys = [...Object.keys(deployment.values), ...Object.keys(config?.values ?? {})]
  report.exportedEnv = inputs.exportEnv ? Object.keys(plan.secretEnv) : []
  core.info(
    `Read the deployment secret "${deployment.id}" (version ${shownVersionId(deployment.versionId)}): ` +
      `${report.exportedKeys.length} keys exported as step outputs` +
      (inputs.exportEnv
        ? `; ${report.exportedEnv.join(', ') || 'none'} as environment variables.`
        : '.')
  )
}

/** deploy: diff: the preview, and with comment-on-pr its pull-request comment; nothing changes. */
async function preview(run: Run, cdk: CdkDeployPlan): Promise<void> {
  const { inputs, deps, report, phases, plan } = run
  core.info(
    'deploy: diff previews the stack: nothing is deployed, written back or restarted (input "restart" is not used).'
  )
  phases.enter(`cdk diff of stack "${inputs.stack}"`, STOPPED_DIFF_STATE)
  let refused: unknown
  try {
    await previewStack(cdk, cdkEnvironment(deps.env, plan.secretEnv), {
      addressesToMask: () => [],
      signal: deps.signal,
      timeoutSeconds: inputs.deployTimeoutSeconds,
      log: deps.log,
      outputs: deps.outputs,
      failOnReplace: inputs.failOnReplace,
      onReport: preview => (report.preview = preview)
    })
  } catch (error) {
    // Once the diff is reported, only fail-on-replace fails it: the comment goes out first,
    // since that is when a reviewer needs it most.
    if (!report.preview) throw error
    refused = error
  }
  if (report.preview && inputs.comment.onPullRequest) {
    phases.enter(
      'the pull-request comment',
      'nothing was deployed, written back or restarted; the pull-request comment may still show an earlier push'
    )
    const { commentPreview } = await import('../phases/comment/pull-request.js')
    await commentPreview(inputs, report.preview, deps, {
      required: inputs.comment.required && refused === undefined
    })
  }
  if (refused !== undefined) throw refused
}

/**
 * Where the restart goes: the deployed instances (with the address written back), the instances
 * input "targets" names, or the address the secret holds. With the version current afterwards.
 */
async function findTargets(run: Run): Promise<{ target?: Target; versionId: string }> {
  const { inputs, deps, report, phases, plan, clients, deployment } = run
  if (plan.cdk) {
    const target = await deployAndLocate(inputs, plan.cdk, plan.secretEnv, clients, deps, phases)
    report.deploy = {
      stack: inputs.stack,
      instanceId: target.instances.map(i => i.instanceId).join(', '),
      address: target.address
    }
    phases.enter(
      'the write-back of the address',
      'the stack was deployed; nothing was written back or restarted'
    )
    const versionId = await writeAddressBack(
      inputs,
      deployment,
      target.address,
      clients,
      report,
      deps
    )
    return { target, versionId }
  }
  const versionId = deployment.versionId
  if (inputs.targets.length > 0) {
    phases.enter('the lookup of input "targets"', 'nothing was deployed, written or restarted')
    const { locateTargets } = await import('../ec2/instances.js')
    const instances = await locateTargets(
      await clients.ec2(),
      inputs.targets,
      inputs.addressType,
      deps.log
    )
    return { target: setInstanceOutputs(instances), versionId }
  }
  if (plan.restartAddress === undefined) return { versionId }
  const target: Target = { address: plan.restartAddress, instances: [] }
  core.setOutput(OUTPUTS.instanceIp, target.address)
  return { target, versionId }
}

/** The restart phase: one engine, whichever transport reaches the instances. */
async function restartTargets(
  run: Run,
  plan: RestartPlan,
  target: Target,
  rotation?: RotationPhase
): Promise<void> {
  const { phase, transport, earlySocket } = plan
  const settings = trafficFromStack(plan.settings, run.inputs, target.stackOutputs)
  run.phases.enter(
    phase,
    stopped => `${writtenState(run.report)}; ${stopped ?? 'nothing was restarted'}`
  )
  const targets =
    target.instances.length > 0 ? target.instances : [{ address: target.address, earlySocket }]
  const { deps, report, clients } = run
  const door = { ec2: clients.ec2, env: deps.env, log: deps.log, state: actionState, report }
  await throughDoor(run.plan.ingress, door, () =>
    rotation
      ? rotateAndRestart(rotation, { settings, transport }, targets, deps, report)
      : restart(settings, targets, transport, deps, report)
  )
}

/** What a stopped run leaves in the deployment secret, once the write-back is past. */
function writtenState(report: RunReport): string {
  return report.writeBack?.changed
    ? `"${report.writeBack.key}" holds the new address (version ${shownVersionId(report.writeBack.versionId)})`
    : 'the deployment secret was not changed'
}

/** Writes the address into the deployment secret; returns the version current afterwards. */
async function writeAddressBack(
  inputs: ActionInputs,
  deployment: JsonSecret,
  address: string,
  clients: AwsClients,
  report: RunReport,
  deps: Dependencies
): Promise<string> {
  const { hostKey } = inputs
  const written = await writeKeyBack(
    clients.secretsManager,
    deployment,
    hostKey,
    address,
    inputs.maskExclude,
    deps.log,
    deps.signal
  )
  report.writeBack = { key: hostKey, changed: written.changed, versionId: written.versionId }
  core.info(
    written.changed
      ? `Wrote ${address} into "${hostKey}" of "${deployment.id}": version ${shownVersionId(written.versionId)} is now current.`
      : `"${hostKey}" of "${deployment.id}" already holds ${address}; the secret was not changed.`
  )
  core.setOutput(hostKey, address)
  if (inputs.exportEnv && inputs.envKeys.includes(hostKey))
    core.exportVariable(envName(hostKey), address)
  return written.versionId
}

/**
 * Checks what the deploy and restart phases will need, so that a mistake fails the run before
 * anything is deployed or written.
 */
async function planLaterPhases(
  inputs: ActionInputs,
  deployment: JsonSecret,
  env: NodeJS.ProcessEnv,
  clients: AwsClients,
  log: Logger,
  config?: ConfigParameters
): Promise<Plan> {
  const plan: Plan = {
    secretEnv:
      inputs.mode !== 'none' || inputs.exportEnv
        ? secretEnvironment(deployment.id, deployment.values, inputs.envKeys, config)
        : {}
  }
  if (inputs.mode !== 'none') {
    plan.cdk = planCdk(inputs, env, inputs.mode)
  } else if (inputs.restart !== 'none' && inputs.targets.length === 0) {
    requireKeys(
      deployment,
      [inputs.hostKey],
      'deployment',
      'input "host-key": the address to restart on when deploy is false'
    )
    plan.restartAddress = deployment.values[inputs.hostKey].trim()
    checkAddress(plan.restartAddress, inputs.hostKey, deployment.id)
  }
  plan.restart = await planRestart(inputs, deployment, plan.restartAddress, clients, log, env)
  const region = resolveRegion(env, inputs.deploymentSecretId)
  plan.ingress = planIngress(inputs, plan.restart?.runnerPort ?? inputs.ssh.port, region)
  return plan
}

/** An address from the secret must be one, or the SSH retries would spend their whole budget on it. */
function checkAddress(address: string, key: string, secretId: string): void {
  if (isIP(address) || HOST_NAME.test(address)) return
  throw new ActionError(
    `Key "${key}" of the deployment secret "${secretId}" is not an IP address or host name; fix it in the secret, ` +
      'or deploy once (deploy: true) to have the action write it.'
  )
}

async function deployAndLocate(
  inputs: ActionInputs,
  cdk: CdkDeployPlan,
  secretEnv: Record<string, string>,
  clients: AwsClients,
  deps: Dependencies,
  phases: PhaseTracker
): Promise<Target> {
  const maskAddresses = !inputs.maskExclude.includes(inputs.hostKey)
  phases.enter(`cdk deploy of stack "${inputs.stack}"`, STOPPED_DEPLOY_STATE)
  const stackOutputs = new StackOutputAddresses()
  const deployed = await cdkDeploy(cdk, cdkEnvironment(deps.env, secretEnv), {
    // The CLI prints the stack's outputs ("Stack.ApiUrl = http://203.0.113.7:8000/") before the
    // action knows which is the instance's address, which goes into the secret: mask every
    // address in them first.
    addressesToMask: line => (maskAddresses ? stackOutputs.addresses(line) : []),
    signal: deps.signal,
    timeoutSeconds: inputs.deployTimeoutSeconds,
    log: deps.log
  })
  phases.enter(
    'the wait for the instance',
    'the stack was deployed; its address was not written back and nothing was restarted'
  )
  core.setOutput(OUTPUTS.stackChanged, String(deployed.changed))
  core.info(
    deployed.changed
      ? `cdk deploy changed stack "${inputs.stack}" (output stack-changed is true).`
      : `cdk deploy left stack "${inputs.stack}" as it was: the CDK CLI reported no changes (output stack-changed is false).`
  )
  core.setOutput(OUTPUTS.stackOutputs, JSON.stringify(deployed.outputs))
  // Loaded here, not at start-up: with them comes the EC2 client, most of the bundle's size.
  const { findInstanceIds, waitForAddresses } = await import('../ec2/instances.js')
  const ec2 = await clients.ec2()
  const ids = await findInstanceIds(ec2, inputs.stack, deployed.outputs, inputs.instanceIdOutput)
  const instances = await waitForAddresses(
    ec2,
    ids,
    inputs.addressType,
    inputs.instanceTimeoutSeconds * 1000,
    deps.sleep,
    deps.log
  )
  // The address goes into the secret, where every value is masked unless the user says otherwise.
  if (maskAddresses) for (const instance of instances) maskAddress(instance.address)
  const target: Target = { ...setInstanceOutputs(instances), stackOutputs: deployed.outputs }
  core.info(
    instances.length === 1
      ? `Stack "${inputs.stack}" runs instance ${target.instanceId} at ${target.address}.`
      : `Stack "${inputs.stack}" runs ${instances.length} instances: ${instances.map(i => `${i.instanceId} at ${i.address}`).join(', ')}.`
  )
  return target
}
