import { awsErrorName, describeAwsError } from '../aws/errors.js'
import { iamPolicy, restartMethods } from '../secrets/iam-policy.js'
import { shownVersionId } from '../lib/log.js'
import { secretResource } from '../secrets/read.js'
import type { GlobalOptions, Session } from './context.js'
import { inertJson, printJson, shown, passOrFail, type Io } from './io.js'
import { instanceAccessChecks, type InstanceAccessOptions } from './instance-access.js'
import { checkSecrets, type ValidateOptions } from './read-commands.js'

export interface DoctorOptions extends Omit<ValidateOptions, 'json'>, InstanceAccessOptions {
  deploy: boolean
  restart: 'ssh' | 'ssm' | 'none'
  json?: boolean
}

type Outcome = 'ok' | 'fail' | 'warn' | 'skip'

export interface Check {
  outcome: Outcome
  check: string
  /** What was found, or the fix. */
  detail: string
  /** The IAM policy statement that would make it pass, printed on the next line. */
  fix?: Record<string, unknown>
}

/** Calls that a dry run proves permitted: EC2 answers DryRunOperation when the policy allows it. */
const DRY_RUN_CHECKS: Record<string, (session: Session) => Promise<void>> = {
  'ec2:DescribeInstances': async session => {
    const { DescribeInstancesCommand } = await import('@aws-sdk/client-ec2')
    const ec2 = await session.clients.ec2()
    await ec2.send(new DescribeInstancesCommand({ DryRun: true }))
  },
  // SSM has no dry run, but this call only reads: one short page of the managed instances.
  'ssm:DescribeInstanceInformation': async session => {
    const { DescribeInstanceInformationCommand } = await import('@aws-sdk/client-ssm')
    const ssm = await session.clients.ssm()
    await ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 5 }))
  }
}

/** Why an action the settings need is not checked here. */
function uncheckedReason(action: string): string {
  if (action === 'secretsmanager:GetSecretValue') return ''
  if (action.startsWith('secretsmanager:'))
    return 'Secrets Manager has no dry run; a write shows it (secrets-deploy set)'
  if (action === 'ec2:GetConsoleOutput') return 'needs an instance id to dry-run against'
  return 'not checked by this version of secrets-deploy'
}

/**
 * `doctor`: region, identity, both secrets, and each permission the chosen action settings need,
 * one verdict per line with the fix. Returns whether nothing failed.
 */
export async function doctor(
  session: Session,
  io: Io,
  globals: GlobalOptions,
  options: DoctorOptions
): Promise<boolean> {
  const checks: Check[] = [{ outcome: 'ok', check: 'region', detail: session.region }]
  checks.push(await identity(session))
  if (options.instance || options.instanceProfile)
    checks.push(...(await instanceAccessChecks(session, globals, options)))
  else checks.push(...(await callerChecks(session, globals, options)))
  const ok = checks.every(c => c.outcome !== 'fail')
  if (options.json) {
    printJson(io, { ok, checks })
    return ok
  }
  for (const c of checks) {
    const word = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', skip: 'skip' }[c.outcome]
    const coloured =
      c.outcome === 'ok' || c.outcome === 'fail' ? passOrFail(io, c.outcome === 'ok', word) : word
    io.out(`${coloured}  ${shown(c.check)}: ${shown(c.detail)}`)
    if (c.fix) io.out(`      ${inertJson(c.fix, 0)}`)
  }
  return ok
}

/** Both secrets as the caller reads them, and each permission the action settings need. */
async function callerChecks(
  session: Session,
  globals: GlobalOptions,
  options: DoctorOptions
): Promise<Check[]> {
  const checks: Check[] = []
  for (const v of await checkSecrets(session, globals, options)) {
    const what = `${v.role} secret "${v.secret}"`
    checks.push(
      v.problems.length === 0
        ? {
            outcome: 'ok',
            check: what,
            detail: `version ${shownVersionId(v.versionId ?? '')}: readable and valid`
          }
        : { outcome: 'fail', check: what, detail: v.problems.join(' ') }
    )
    for (const w of v.warnings) checks.push({ outcome: 'warn', check: what, detail: w })
  }
  const policy = iamPolicy({
    deploymentSecret: secretResource(globals.deploymentSecretId),
    appSecret: secretResource(globals.appSecretId),
    deploy: options.deploy,
    restarts: restartMethods(options.restart)
  })
  const actions = policy.Statement.flatMap(s => (Array.isArray(s.Action) ? s.Action : [s.Action]))
  for (const action of actions) {
    const dryRun = DRY_RUN_CHECKS[action]
    if (dryRun) {
      checks.push(await permitted(session, action, dryRun))
      continue
    }
    const reason = uncheckedReason(action)
    if (reason) checks.push({ outcome: 'skip', check: action, detail: reason })
  }
  return checks
}

async function identity(session: Session): Promise<Check> {
  const { GetCallerIdentityCommand } = await import('@aws-sdk/client-sts')
  const sts = await session.clients.sts()
  try {
    const who = await sts.send(new GetCallerIdentityCommand({}))
    return { outcome: 'ok', check: 'credentials', detail: `${who.Arn} (account ${who.Account})` }
  } catch (error) {
    const described = describeAwsError(error, {
      action: 'sts:GetCallerIdentity',
      subject: 'the caller identity',
      resource: '*'
    })
    return { outcome: 'fail', check: 'credentials', detail: described.message }
  }
}

async function permitted(
  session: Session,
  action: string,
  dryRun: (session: Session) => Promise<void>
): Promise<Check> {
  try {
    await dryRun(session)
    return { outcome: 'ok', check: action, detail: 'allowed' }
  } catch (error) {
    if (awsErrorName(error) === 'DryRunOperation')
      return { outcome: 'ok', check: action, detail: 'allowed (dry run)' }
    const described = describeAwsError(error, {
      action,
      subject: 'any instance',
      resource: '*'
    })
    return { outcome: 'fail', check: action, detail: described.message }
  }
}
