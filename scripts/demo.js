// npm run demo: the committed bundle (dist/index.js) through every phase, against the local
// stand-ins (test-support/stand-ins.js, with the in-process SSH server: no root, no OpenSSH, no
// AWS account), printed the way a workflow log shows it, then the outputs, the job summary and the
// self-test's check of what the run changed. Everything it starts is stopped before it exits.
//   npm run demo -- --ssm 5 [--fail 1]   a stack of 5 instances restarted with restart: ssm
//                                        (the local endpoint runs each instance's command), the
//                                        first 1 of them failing
//   npm run demo -- --release            two releases in a row over SSH, then one whose health
//                                        check fails and is rolled back (scripts/demo-release.js)
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createLogMasker, presentLogLine, repoRoot, runAction } from '../test-support/runner.js'
import { checkRun, startStandIns } from '../test-support/stand-ins.js'
import { LocalAws } from '../test-support/aws-endpoint.js'
import { createCdkApp } from '../test-support/cdk-app.js'
import { EXAMPLE_APP, EXAMPLE_DEPLOYMENT } from '../test-support/example-secrets.js'

const RULE = '─'.repeat(78)
const heading = (/** @type {string} */ title) => console.log(`\n${RULE}\n${title}\n${RULE}`)

async function main() {
  if (!existsSync(join(repoRoot, 'dist/index.js'))) {
    throw new Error('dist/index.js is missing: run "npm run package" first.')
  }
  if (process.argv.includes('--release')) {
    const { demonstrateRelease } = await import('./demo-release.js')
    return demonstrateRelease()
  }
  const fleetSize = numberAfter('--ssm')
  if (fleetSize !== undefined) return demonstrateFleet(fleetSize, numberAfter('--fail') ?? 0)
  const standIns = await startStandIns({ ssh: 'embedded' })
  // Ctrl-C must not leave the stand-ins' files behind.
  const interrupted = () => void standIns.stop().finally(() => process.exit(130))
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    return await demonstrate(standIns)
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await standIns.stop()
    console.log('\nStopped the stand-ins; nothing is left running.')
  }
}

/** @param {import('../test-support/stand-ins.js').StandIns} standIns @returns {Promise<number>} */
async function demonstrate(standIns) {
  const e = standIns.endpoints
  heading('Local stand-ins')
  console.log(`AWS endpoint   ${e.aws} (Secrets Manager + EC2), with the example secrets`)
  console.log(`CDK app        ${e.cdkApp} (CDK CLI stand-in)`)
  console.log(`SSH server     ${e.ssh}, user ${e.sshUser}, host key ${e.hostFingerprint}`)
  console.log(
    'Inputs given:  ' + Object.keys(standIns.inputs).join(', ') + '; defaults for the rest'
  )

  heading('Run secrets-deploy-action (node dist/index.js), as the workflow log shows it')
  const started = Date.now()
  const run = await runAction(standIns.inputs, standIns.env, {
    onLogLine: line => {
      const shown = presentLogLine(line)
      if (shown !== undefined) console.log(shown)
    }
  })
  console.log(`\n(exit code ${run.code}, ${((Date.now() - started) / 1000).toFixed(1)} s)`)

  printOutputsAndSummary(run)

  heading('Check: what the run changed')
  const { passed, failed } = checkRun(standIns.state(), run.outputs)
  for (const line of passed) console.log(`✓ ${line}`)
  for (const line of failed) console.log(`✗ ${line}`)
  const ok = run.code === 0 && failed.length === 0
  console.log(ok ? '\nThe demo run passed every check.' : '\nThe demo run FAILED.')
  return ok ? 0 : 1
}

/** @param {import('../test-support/runner.js').BundleRun} run */
function printOutputsAndSummary(run) {
  heading('Outputs (as a later step would print them: masked values show as ***)')
  const masker = createLogMasker()
  run.masks.forEach(masker.add)
  const width = Math.max(...Object.keys(run.outputs).map(name => name.length))
  for (const [name, value] of Object.entries(run.outputs)) {
    console.log(`${name.padEnd(width)}  ${masker.line(value)}`)
  }

  heading('Job summary')
  console.log(summaryAsText(run.summary))
}

/** @param {string} flag @returns {number | undefined} */
function numberAfter(flag) {
  const at = process.argv.indexOf(flag)
  if (at < 0) return undefined
  const value = Number(process.argv[at + 1])
  if (!Number.isInteger(value) || value < 0 || value > 500)
    throw new Error(`${flag} takes a number from 0 to 500.`)
  return value
}

/**
 * A stack of `size` instances restarted with restart: ssm on the local endpoint, which runs each
 * instance's command through /bin/sh with stand-ins; the first `failing` of them fail.
 * @param {number} size @param {number} failing @returns {Promise<number>}
 */
async function demonstrateFleet(size, failing) {
  const stack = 'FastAPIFleetStack'
  const aws = new LocalAws()
  await aws.start()
  aws.putSecret('FastAPIDeploymentSecrets', EXAMPLE_DEPLOYMENT)
  aws.putSecret('FastAPIAppSecrets', EXAMPLE_APP)
  const ids = Array.from({ length: size }, (_, i) => `i-0f1ee7${String(i + 1).padStart(11, '0')}`)
  ids.forEach((instanceId, i) => {
    aws.addInstance({ instanceId, publicIp: `198.51.100.${i + 1}`, privateIp: `10.0.1.${i + 1}` })
    aws.ssm.addAgent(
      instanceId,
      i < failing ? { outcome: 'failure', stderr: 'Job for fastapi.service failed.' } : {}
    )
  })
  const app = createCdkApp({ stacks: { [stack]: { outputs: { InstanceIds: ids.join(',') } } } })
  try {
    heading(`A stack of ${size} instances, restarted with restart: ssm (${failing} failing)`)
    const run = await runAction(
      {
        stack,
        'working-directory': app.dir,
        'cdk-command': app.command,
        'instance-id-output': 'InstanceIds',
        restart: 'ssm',
        'max-concurrency': '50%',
        'mask-exclude': 'ec2_host'
      },
      aws.environment(),
      {
        onLogLine: line => {
          const shown = presentLogLine(line)
          if (shown !== undefined) console.log(shown)
        }
      }
    )
    console.log(`\n(exit code ${run.code})`)
    printOutputsAndSummary(run)
    return run.code === (failing > 0 ? 1 : 0) ? 0 : 1
  } finally {
    app.remove()
    await aws.stop()
  }
}

/**
 * The job summary's HTML (headings, tables, paragraphs, code) as plain text for a terminal.
 * @param {string} html
 */
function summaryAsText(html) {
  const text = (/** @type {string} */ fragment) =>
    fragment
      .replace(/<code>(.*?)<\/code>/g, '`$1`')
      .replace(/<[^>]+>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
  return html
    .replace(
      /<h([1-6])>(.*?)<\/h\1>/g,
      (_, level, title) => `${'#'.repeat(level)} ${text(title)}\n`
    )
    .replace(/<table>(.*?)<\/table>/gs, (_, rows) => table(rows, text))
    .replace(/<p>(.*?)<\/p>/gs, (_, paragraph) => `${text(paragraph)}\n`)
    .trim()
}

/**
 * @param {string} rowsHtml
 * @param {(fragment: string) => string} text
 */
function table(rowsHtml, text) {
  const rows = [...rowsHtml.matchAll(/<tr>(.*?)<\/tr>/gs)].map(row =>
    [...row[1].matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map(cell => text(cell[1]))
  )
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map(row => (row[i] ?? '').length))) ?? []
  return (
    rows
      .map(row =>
        row
          .map((cell, i) => cell.padEnd(widths[i]))
          .join('  ')
          .trimEnd()
      )
      .join('\n') + '\n'
  )
}

main().then(
  code => process.exit(code),
  error => {
    console.error(`The demo could not run: ${error instanceof Error ? error.message : error}`)
    process.exit(1)
  }
)
