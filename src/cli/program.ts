import { Command, CommanderError, Option } from 'commander'
import { checkSecurityGroupId, checkTargetGroupArns } from '../lib/aws-ids.js'
import { DEFAULT_RELEASE_PREFIX, checkReleaseBucket, checkReleasePrefix } from '../lib/s3-names.js'
import { ActionError } from '../lib/errors.js'
import { DEFAULT_POLICY_SETTINGS, iamPolicy, restartMethods } from '../secrets/iam-policy.js'
import { quoteUntrusted } from '../lib/log.js'
import { secretResource } from '../secrets/read.js'
import {
  DEFAULT_SECRET_IDS,
  SECRET_ID_ENV,
  openSession,
  resolveSecret,
  type GlobalOptions,
  type Session
} from './context.js'
import { printJson, type Io } from './io.js'
import { doctor, type DoctorOptions } from './doctor.js'
import { parseInstanceId, parseProfileName } from './instance-access.js'
import { backupCommand, restoreCommand, type BackupOptions, type RestoreOptions } from './backup.js'
import {
  DEFAULT_APP_REQUIRED_KEYS,
  getSecret,
  listSecrets,
  secretHistory,
  validateSecrets
} from './read-commands.js'
import { resolvePolicyArns } from './policy-command.js'
import { generateCommand, rollbackCommand, setCommand, unsetCommand } from './write-commands.js'
import { execCommand, type ExecOptions } from './exec.js'
import { exportCommand, type ExportOptions } from './export-command.js'
import { EXPORT_FORMATS } from './export-formats.js'
import { importCommand, type ImportOptions } from './import.js'
import { AUDIT_EVENTS, auditCommand, parseSince, type AuditOptions } from './audit.js'

/** Exit codes: what scripts branch on. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

const SECRET_HELP = '"deployment", "app", or any secret name or ARN'

/**
 * Runs one command line and returns its exit code: 0 done, 1 failed (one message naming the
 * secret, the AWS call and what to do), 2 a usage error.
 */
export async function runCli(argv: readonly string[], io: Io, version: string): Promise<number> {
  let code: number = EXIT.ok
  const program = new Command('secrets-deploy')
  program
    .description(
      'Manage the two JSON secrets of secrets-deploy-action in AWS Secrets Manager, with the ' +
        "action's own rules and its compare-and-swap write."
    )
    .version(version)
    .exitOverride()
    .configureOutput({
      writeOut: text => io.out(text.replace(/\n$/, '')),
      writeErr: text => io.err(text.replace(/\n$/, ''))
    })
    .showHelpAfterError('(add --help for usage)')
    .option('--region <region>', 'AWS region (default: the SDK chain: AWS_REGION, the profile)')
    .addOption(
      new Option('--deployment-secret-id <id>', 'name or ARN of the deployment secret')
        .env(SECRET_ID_ENV.deployment)
        .default(DEFAULT_SECRET_IDS.deployment)
    )
    .addOption(
      new Option('--app-secret-id <id>', 'name or ARN of the app secret')
        .env(SECRET_ID_ENV.app)
        .default(DEFAULT_SECRET_IDS.app)
    )

  /** Runs a command body with a session, turning its failure into exit code 1. */
  const withSession =
    <A extends unknown[]>(
      // false: failed; a number: the exit code (exec passes on its command's).
      body: (
        session: Session,
        globals: GlobalOptions,
        ...args: A
      ) => Promise<boolean | number | void>
    ) =>
    async (...args: A) => {
      const globals = program.opts<GlobalOptions>()
      const session = await openSession(globals, io)
      try {
        const result = await body(session, globals, ...args)
        if (result === false) code = EXIT.failed
        else if (typeof result === 'number') code = result
      } finally {
        session.clients.destroy()
      }
    }

  program
    .command('list')
    .description(
      'the secrets the credentials can see: name, last change, versions, keys; never a value'
    )
    .option('--json', 'print JSON')
    .action(
      withSession(async (session, _globals, options: { json?: boolean }) =>
        listSecrets(session, io, options.json ?? false)
      )
    )

  program
    .command('get')
    .description('the keys of a secret with the length of each value; values only with --reveal')
    .argument('<secret>', SECRET_HELP)
    .argument('[key]', 'one key: with --reveal, prints just its value')
    .option('--reveal', 'print the values')
    .option('--version-id <id>', 'read this version')
    .option('--version-stage <stage>', 'read the version with this label (e.g. AWSPREVIOUS)')
    .option('--json', 'print JSON')
    .action(
      withSession(async (session, globals, name: string, key: string | undefined, options) =>
        getSecret(session, io, resolveSecret(name, globals), key, options)
      )
    )

  program
    .command('set')
    .description(
      'set one key with the compare-and-swap; the value from standard input, a hidden prompt, or the argument'
    )
    .argument('<secret>', SECRET_HELP)
    .argument('<key>', 'the key to set')
    .argument('[value]', 'the value (lands in shell history: prefer standard input)')
    .option('--create', 'create the secret when it does not exist')
    .action(
      withSession(
        async (session, globals, name: string, key: string, value: string | undefined, options) =>
          setCommand(session, io, resolveSecret(name, globals), key, value, options)
      )
    )

  program
    .command('unset')
    .description('remove one key with the compare-and-swap')
    .argument('<secret>', SECRET_HELP)
    .argument('<key>', 'the key to remove')
    .action(
      withSession(async (session, globals, name: string, key: string) =>
        unsetCommand(session, io, resolveSecret(name, globals), key)
      )
    )

  withRequiredKeys(
    program
      .command('validate')
      .description("check both secrets against the action's rules before a deploy")
  )
    .option('--json', 'print JSON')
    .action(
      withSession(async (session, globals, options) =>
        validateSecrets(session, io, globals, options)
      )
    )

  program
    .command('history')
    .description(
      'the versions of a secret and the keys each added, removed or changed (names only)'
    )
    .argument('<secret>', SECRET_HELP)
    .option('--json', 'print JSON')
    .action(
      withSession(async (session, globals, name: string, options: { json?: boolean }) =>
        secretHistory(session, io, resolveSecret(name, globals), options.json ?? false)
      )
    )

  program
    .command('rollback')
    .description(
      'make the keys of the previous version (or --to VERSION_ID) current again; refuses if the secret changes meanwhile'
    )
    .argument('<secret>', SECRET_HELP)
    .option('--to <version-id>', 'the version to go back to (default: AWSPREVIOUS)')
    .action(
      withSession(async (session, globals, name: string, options) =>
        rollbackCommand(session, io, resolveSecret(name, globals), options)
      )
    )

  program
    .command('generate')
    .description(
      'set a key to a new random value from GetRandomPassword, with the compare-and-swap (manual rotation)'
    )
    .argument('<secret>', SECRET_HELP)
    .argument('<key>', 'the key to set, e.g. jwt_secret')
    .option('--length <n>', 'number of characters', '32')
    .option('--exclude-characters <chars>', 'characters never to use')
    .option('--exclude-punctuation', 'no punctuation')
    .option('--exclude-numbers', 'no digits')
    .option('--exclude-uppercase', 'no upper-case letters')
    .option('--exclude-lowercase', 'no lower-case letters')
    .option('--include-space', 'may contain spaces')
    .option('--require-each-included-type', 'at least one of each kind of character')
    .option('--reveal', 'print the new value (on standard error)')
    .option('--create', 'create the secret when it does not exist')
    .action(
      withSession(async (session, globals, name: string, key: string, options) =>
        generateCommand(session, io, resolveSecret(name, globals), key, options)
      )
    )

  program
    .command('exec')
    .description(
      "run a command with the secret's keys as environment variables (db_password -> DB_PASSWORD); " +
        'where Node has process.execve (22.15 and later, 24) the command replaces this process'
    )
    .argument('<secret>', SECRET_HELP)
    .argument('<command...>', 'the command and its arguments, after "--"')
    .option('--only <keys>', 'only these keys (or variable names), separated by commas')
    .option('--pristine', 'pass only the keys and PATH, HOME, LANG, TERM; no other variable')
    .option('--override', "the secret's value wins over a variable already set")
    .addHelpText('after', '\nExample: secrets-deploy exec app -- uvicorn app.main:app')
    .action(
      withSession(async (session, globals, name: string, command: string[], options: ExecOptions) =>
        execCommand(session, io, resolveSecret(name, globals), command, options)
      )
    )

  program
    .command('export')
    .description(
      "the secret's keys as environment variables in a file format, into a new file (mode 0600) or, " +
        'with --reveal or into a pipe, on standard output'
    )
    .argument('<secret>', SECRET_HELP)
    .addOption(
      new Option('--format <format>', 'how to write them')
        .choices(EXPORT_FORMATS)
        .makeOptionMandatory()
    )
    .option('--out <file>', 'write a new file (mode 0600) instead of standard output')
    .option('--force', 'with --out: replace a file that exists')
    .option('--only <keys>', 'only these keys (or variable names), separated by commas')
    .option('--reveal', 'print the values on a terminal or in a workflow step')
    .hook('preAction', command => {
      if (command.opts().force && command.opts().out === undefined)
        command.error('error: --force replaces the file --out names; give --out FILE too')
    })
    .action(
      withSession(async (session, globals, name: string, options: ExportOptions) =>
        exportCommand(session, io, resolveSecret(name, globals), options)
      )
    )

  program
    .command('import')
    .description(
      "a .env file (or JSON object) into the secret's keys (DB_PASSWORD -> db_password), in one new version " +
        'written with the compare-and-swap; keys holding another value are kept unless --overwrite'
    )
    .argument('<secret>', SECRET_HELP)
    .requiredOption('--from <file>', 'the .env file, or a file holding one JSON object of strings')
    .option('--only <names>', 'only these names of the file (or keys), separated by commas')
    .option('--create', 'create the secret when it does not exist')
    .option('--overwrite', 'replace the values of keys the secret already has')
    .option('--dry-run', 'print what it would add, change and keep; write nothing')
    .action(
      withSession(async (session, globals, name: string, options: ImportOptions) =>
        importCommand(session, io, resolveSecret(name, globals), options)
      )
    )

  program
    .command('audit')
    .description(
      "who read or changed the secret, from CloudTrail's event history (90 days): time, event, " +
        'principal and role session, source address, client; CloudTrail holds no secret values, and none is printed'
    )
    .argument('<secret>', SECRET_HELP)
    .addOption(
      new Option('--since <duration>', 'how far back: 30m, 12h, 7d, at most 90d')
        .argParser(parseSince)
        .default(parseSince('7d'), '7d')
    )
    .addOption(
      new Option(
        '--event <kind>',
        'reads (GetSecretValue, ...), writes (PutSecretValue, ...), or all'
      )
        .choices(AUDIT_EVENTS)
        .default('all')
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nNeeds cloudtrail:LookupEvents (secrets-deploy iam-policy --audit) and secretsmanager:DescribeSecret.'
    )
    .action(
      withSession(async (session, globals, name: string, options: AuditOptions) =>
        auditCommand(session, io, resolveSecret(name, globals), options)
      )
    )

  program
    .command('iam-policy')
    .description(
      'the least-privilege IAM policy the action needs for these settings, with the real secret ARNs when it can read them'
    )
    .option(
      '--deploy',
      'the action deploys (input deploy: true) and writes the address back',
      false
    )
    .addOption(
      new Option('--restart <how>', 'input "restart"')
        .choices(['ssh', 'ssm', 'none'])
        .default('ssh')
    )
    .option('--no-app', 'the action does not read the app secret (input app-secret-id empty)')
    .option('--offline', 'do not look up the ARNs: print name patterns')
    .option('--config-path <path>', 'input "config-path": read parameters under this path')
    .option('--rotate', 'input "rotate": the action regenerates keys of the app secret', false)
    .option(
      '--open-ingress <sg-id>',
      'input "open-ingress": open this security group to the runner for each run'
    )
    .option(
      '--release-bucket <bucket>',
      'input "release-bucket": releases travel to the instances through this S3 bucket'
    )
    .option(
      '--release-prefix <prefix>',
      `input "release-prefix": the key prefix of the archives in that bucket (default ${DEFAULT_RELEASE_PREFIX})`
    )
    .option('--audit', 'also what "secrets-deploy audit" needs', false)
    .option('--doctor', 'also what "secrets-deploy doctor --instance" needs', false)
    .option(
      '--target-group <arn...>',
      'input "target-group-arn": restart behind these ELBv2 target groups (drain, register back)'
    )
    .action(
      async (options: {
        deploy: boolean
        restart: 'ssh' | 'ssm' | 'none'
        app: boolean
        offline?: boolean
        configPath?: string
        rotate: boolean
        openIngress?: string
        releaseBucket?: string
        releasePrefix?: string
        audit: boolean
        doctor: boolean
        targetGroup?: string[]
      }) => {
        if (options.rotate && !options.app)
          throw new ActionError(
            '--rotate rotates keys of the app secret: it cannot go with --no-app.'
          )
        if (options.releasePrefix !== undefined && options.releaseBucket === undefined)
          throw new ActionError(
            '--release-prefix is the key prefix in the bucket of --release-bucket: give both.'
          )
        // Checked before any lookup: a bad name prints no policy.
        const release =
          options.releaseBucket === undefined
            ? {}
            : {
                releaseBucket: checkReleaseBucket(options.releaseBucket, 'Option --release-bucket'),
                releasePrefix: checkReleasePrefix(
                  options.releasePrefix ?? '',
                  'Option --release-prefix'
                )
              }
        const globals = program.opts<GlobalOptions>()
        const resources = options.offline
          ? {
              deploymentSecret: secretResource(globals.deploymentSecretId),
              appSecret: options.app ? secretResource(globals.appSecretId) : ''
            }
          : await resolvePolicyArns(io, globals, options.app)
        const policy = iamPolicy({
          ...DEFAULT_POLICY_SETTINGS,
          ...resources,
          deploy: options.deploy,
          restarts: restartMethods(options.restart),
          configPath: options.configPath,
          rotate: options.rotate,
          openIngress: checkSecurityGroupId(options.openIngress, 'Option --open-ingress'),
          ...release,
          audit: options.audit,
          doctor: options.doctor,
          targetGroups: checkTargetGroupArns(options.targetGroup ?? [], 'Option --target-group')
        })
        printJson(io, policy)
      }
    )

  withRequiredKeys(
    program
      .command('doctor')
      .description(
        'region, credentials, both secrets, and each permission the chosen action settings need: one verdict per line with the fix'
      )
      .option('--deploy', 'the action deploys (input deploy: true)', false)
      .addOption(
        new Option('--restart <how>', 'input "restart"')
          .choices(['ssh', 'ssm', 'none'])
          .default('ssh')
      )
  )
    .addOption(
      new Option(
        '--instance <id>',
        "instead: whether this instance's role may read both secrets (IAM's policy simulator)"
      )
        .argParser(parseInstanceId)
        .conflicts('instanceProfile')
    )
    .addOption(
      new Option('--instance-profile <name>', 'the same for an instance profile').argParser(
        parseProfileName
      )
    )
    .option('--json', 'print JSON')
    .action(
      withSession(async (session, globals, options: DoctorOptions) =>
        doctor(session, io, globals, options)
      )
    )

  program
    .command('backup')
    .description(
      "every key of each secret's current version, with its version id, into a new file (mode 0600, never overwritten)"
    )
    .argument('<secrets...>', SECRET_HELP)
    .requiredOption('--out <file>', 'the file to create')
    .option(
      '--kms-key-id <key>',
      'encrypt the file with a data key from this KMS key (envelope encryption)'
    )
    .action(
      withSession(async (session, globals, names: string[], options: BackupOptions) =>
        backupCommand(
          session,
          io,
          names.map(name => resolveSecret(name, globals)),
          options
        )
      )
    )

  program
    .command('restore')
    .description(
      'write the secrets named (or --all) back from a backup with the compare-and-swap, after checking each ' +
        'against the version it names; refuses when one changed since the backup'
    )
    .argument('<file>', 'a file made by backup')
    .argument('[secrets...]', `the secrets to restore: ${SECRET_HELP}`)
    .option('--all', 'restore every secret the backup holds')
    .option('--dry-run', 'list what would be restored; write nothing')
    .option(
      '--force',
      'replace secrets that changed since the backup, and restore values whose version is gone'
    )
    .hook('preAction', command => {
      const [, names] = command.processedArgs as [string, string[]]
      if (names.length === 0 && !command.opts().all)
        command.error(
          'error: name the secrets to restore (e.g. restore FILE deployment app), or give --all'
        )
      if (names.length > 0 && command.opts().all)
        command.error('error: give either secret names or --all, not both')
    })
    .action(
      withSession(
        async (session, globals, file: string, names: string[], options: RestoreOptions) =>
          restoreCommand(session, io, globals, file, names, options)
      )
    )

  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage
    }
    if (error instanceof ActionError) {
      io.err(`error: ${quoteUntrusted(error.message, 4096)}`)
      return EXIT.failed
    }
    const message = error instanceof Error ? error.message : String(error)
    io.err(
      `error: unexpected: ${quoteUntrusted(message, 4096)}. This is a bug in secrets-deploy; please report it.`
    )
    return EXIT.failed
  }
}

/** The options `validate` and `doctor` share: the keys the action's inputs would require. */
function withRequiredKeys(command: Command): Command {
  return command
    .option(
      '--required-keys <keys>',
      'keys the deployment secret must have (input "required-keys")',
      ''
    )
    .option(
      '--app-required-keys <keys>',
      'keys the app secret must have (input "app-required-keys")',
      DEFAULT_APP_REQUIRED_KEYS
    )
}
