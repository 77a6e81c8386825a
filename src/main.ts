import * as core from '@actions/core'
import { createAwsClients, resolveRegion, type AwsClients } from './aws.js'
import { failureMessage } from './errors.js'
import { exportSecret } from './export.js'
import { readInputs, type ActionInputs } from './inputs.js'
import { readJsonSecret, requireKeys } from './secrets.js'
import { newReport, writeSummary, type RunReport } from './summary.js'

/** What the pipeline needs from outside; tests replace any of it. */
export interface Dependencies {
  env: NodeJS.ProcessEnv
  awsClients: (region: string) => AwsClients
  sleep: (ms: number) => Promise<void>
}

const defaultDependencies: Dependencies = {
  env: process.env,
  awsClients: createAwsClients,
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms))
}

/** The action's entry point: runs every phase, and turns any failure into one clear message. */
export async function run(overrides: Partial<Dependencies> = {}): Promise<void> {
  const deps = { ...defaultDependencies, ...overrides }
  const report = newReport()
  try {
    await pipeline(readInputs(), deps, report)
  } catch (error) {
    report.failure = failureMessage(error)
    core.setFailed(report.failure)
  }
  try {
    await writeSummary(report, deps.env)
  } catch (error) {
    core.warning(`Could not write the job summary: ${failureMessage(error)}`)
  }
}

async function pipeline(
  inputs: ActionInputs,
  deps: Dependencies,
  report: RunReport
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
  requireKeys(deployment, inputs.requiredKeys, 'deployment', 'listed in input "required-keys"')

  if (inputs.appSecretId !== '') {
    const app = await readJsonSecret(clients.secretsManager, inputs.appSecretId, 'app')
    report.secretsRead.push({ role: 'app', id: app.id, versionId: app.versionId })
    requireKeys(app, inputs.appRequiredKeys, 'app', 'listed in input "app-required-keys"')
  }

  exportSecret(deployment.id, deployment.values, inputs.exportEnv)
  report.exportedKeys = Object.keys(deployment.values)
  report.exportedEnv = inputs.exportEnv
  core.info(
    `Read the deployment secret "${deployment.id}" (version ${deployment.versionId}): ` +
      `${report.exportedKeys.length} keys exported as step outputs${inputs.exportEnv ? ' and environment variables' : ''}.`
  )
}
