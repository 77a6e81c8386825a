// `secrets-deploy export` and `import` as a developer runs them: the real bundle against the local
// AWS endpoint; what export writes read back by the programs that read such files
// (helpers/env-file-readers.ts), what import reads from the reference document's `.env`.
import { spawn, spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parse } from 'yaml'
import { CLI_ENTRY, runCli, type CliOptions, type CliRun } from './helpers/run-cli.js'
import {
  PYTHON_DOTENV,
  SKIP_WITHOUT_PYTHON_DOTENV,
  readDockerEnvFile,
  readSystemdEnvFile,
  readWithPythonDotenv,
  readWithShell
} from './helpers/env-file-readers.js'
import { EXAMPLE_APP, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { HOSTILE_VALUES, readablePieces, repoRoot } from './helpers/run-bundle.js'

const APP = 'FastAPIAppSecrets'
/** The reference document's `.env` (shared/reference/secrets-manager-integration.md, "Option 1"). */
const REFERENCE_DOTENV = join(repoRoot, 'test-support', 'reference.env')

let aws: LocalAws
let dir: string
beforeEach(async () => {
  aws = await startLocalAws()
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'cli-export-')))
})
afterEach(async () => {
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

const cli = (args: string[], options: CliOptions = {}) =>
  runCli(aws, args, { cwd: dir, ...options })

function expectNoValues(run: CliRun, values: Record<string, string>) {
  for (const value of Object.values(values))
    for (const piece of readablePieces(value)) expect(run.output).not.toContain(piece)
}

// What a format has to quote: quotes, "$", "#", spaces around and inside, line breaks.
const ONE_LINE = {
  db_password: `it's "quoted" $HOME # not a comment`,
  jwt_secret: '  spaces around and  inside  ',
  api_keys: 'key-one,key-two;$(id) `id`',
  generated_password: 'C:\\dir\\'
}
const MULTI_LINE = { multi_line: HOSTILE_VALUES.multi_line, crlf: 'first\r\nsecond' }
const upper = (values: Record<string, string>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k.toUpperCase(), v]))

describe('export', () => {
  const values = { ...ONE_LINE, ...MULTI_LINE }
  const exported = async (format: string, extra: string[] = []) => {
    const file = join(dir, `out.${format}`)
    const run = await cli(['export', 'app', '--format', format, '--out', file, ...extra])
    expect(run).toMatchObject({ code: 0, stdout: '' })
    expect(run.stderr).toMatch(
      new RegExp(
        `^Wrote \\d+ variables? of the app secret "FastAPIAppSecrets" \\(version \\S+\\) to "${file}" \\(${format}, mode 0600\\)\\.\n$`
      )
    )
    expectNoValues(run, values)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    return file
  }

  const withPython = PYTHON_DOTENV ? it : it.skip
  withPython(
    `writes dotenv that python-dotenv reads back the same ${PYTHON_DOTENV ? '' : SKIP_WITHOUT_PYTHON_DOTENV}`,
    async () => {
      aws.putSecret(APP, values)
      expect(readWithPythonDotenv(await exported('dotenv'))).toEqual(upper(values))
    }
  )

  it('writes shell and systemd files that bash and systemd read back the same', async () => {
    aws.putSecret(APP, { ...values, quotes_dollar: HOSTILE_VALUES.quotes_dollar })
    const expected = upper({ ...values, quotes_dollar: HOSTILE_VALUES.quotes_dollar })
    const shell = readWithShell(await exported('shell'))
    const systemdFile = await exported('systemd')
    const systemd = readWithShell(systemdFile)
    for (const [name, value] of Object.entries(expected)) {
      expect([name, shell[name]]).toEqual([name, value])
      expect([name, systemd[name]]).toEqual([name, value])
    }
    expect(readSystemdEnvFile(readFileSync(systemdFile, 'utf8'))).toEqual(expected)
  })

  it('writes docker and json files read back the same, and refuses a line break for docker', async () => {
    aws.putSecret(APP, values)
    expect(
      readDockerEnvFile(
        readFileSync(await exported('docker', ['--only', Object.keys(ONE_LINE).join(',')]), 'utf8')
      )
    ).toEqual(upper(ONE_LINE))
    expect(JSON.parse(readFileSync(await exported('json'), 'utf8'))).toEqual(upper(values))
    const refused = await cli([
      'export',
      'app',
      '--format',
      'docker',
      '--out',
      join(dir, 'refused')
    ])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(
      'error: Key "multi_line" (MULTI_LINE) of the app secret "FastAPIAppSecrets" holds a line break, and docker --env-file ' +
        'reads one line per variable, with no quoting. Leave it out with --only KEYS, or choose another --format (dotenv, json, shell, systemd).\n'
    )
    expect(existsSync(join(dir, 'refused'))).toBe(false)
  })

  it('never replaces a file without --force; with it, a new file (mode 0600) takes its place, a link there is not followed', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const file = join(dir, '.env')
    writeFileSync(file, 'KEEP=me\n', { mode: 0o644 })
    const refused = await cli(['export', 'app', '--format', 'dotenv', '--out', file])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(
      `error: "${file}" already exists; export never replaces a file without --force.\n`
    )
    expect(readFileSync(file, 'utf8')).toBe('KEEP=me\n')
    const forced = await cli(['export', 'app', '--format', 'dotenv', '--out', file, '--force'])
    expect(forced.code).toBe(0)
    expect(readFileSync(file, 'utf8')).toContain(`DB_PASSWORD="${EXAMPLE_APP.db_password}"`)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const target = join(dir, 'elsewhere')
    writeFileSync(target, 'untouched\n')
    symlinkSync(target, join(dir, 'link.env'))
    expect(
      (await cli(['export', 'app', '--format', 'dotenv', '--out', 'link.env', '--force'])).code
    ).toBe(0)
    expect(readFileSync(target, 'utf8')).toBe('untouched\n')
    expect(readFileSync(join(dir, 'link.env'), 'utf8')).toContain('DB_PASSWORD=')
  })

  it('warns when the file is in a git work tree and not ignored', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    expect(spawnSync('git', ['init', '-q', dir]).status).toBe(0)
    const warned = await cli(['export', 'app', '--format', 'dotenv', '--out', '.env'])
    expect(warned.code).toBe(0)
    expect(warned.stderr).toContain(
      'warning: ".env" is in a git work tree and not ignored: add it to .gitignore, or a commit may carry the values with it.'
    )
    writeFileSync(join(dir, '.gitignore'), '.env\n')
    const ignored = await cli(['export', 'app', '--format', 'dotenv', '--out', '.env', '--force'])
    expect(ignored.code).toBe(0)
    expect(ignored.stderr).not.toContain('warning')
  })

  it('prints to a pipe; in a workflow step only with --reveal, reading nothing without it', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const piped = await cli(['export', 'app', '--format', 'shell'])
    expect(piped).toMatchObject({ code: 0, stderr: '' })
    expect(piped.stdout).toBe(
      Object.entries(upper(EXAMPLE_APP))
        .map(([k, v]) => `export ${k}='${v}'\n`)
        .join('')
    )
    const step = await cli(['export', 'app', '--format', 'dotenv'], {
      env: { GITHUB_ACTIONS: 'true' }
    })
    expect(step.code).toBe(1)
    expect(step.stdout).toBe('')
    expect(step.stderr).toContain(
      "error: In a workflow step (GITHUB_ACTIONS=true) standard output is the job's log"
    )
    expect(aws.callsOf('GetSecretValue')).toHaveLength(1)
    const revealed = await cli(['export', 'app', '--format', 'json', '--reveal'], {
      env: { GITHUB_ACTIONS: 'true' }
    })
    expect(JSON.parse(revealed.stdout)).toEqual(upper(EXAMPLE_APP))
  })

  it('prints nothing in a workflow step that the runner would read as a command, whatever the values', async () => {
    aws.putSecret(APP, {
      ...EXAMPLE_APP,
      api_keys: 'x\n::add-mask::hidden\n::set-output name=approved::yes',
      jwt_secret: 'a ##[error]b'
    })
    for (const [format, key] of [
      ['shell', 'jwt_secret'],
      ['systemd', 'jwt_secret'],
      ['dotenv', 'jwt_secret']
    ]) {
      const run = await cli(['export', 'app', '--format', format, '--reveal'], {
        env: { GITHUB_ACTIONS: 'true' }
      })
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      expect(run.stderr).toContain(
        `error: Key "${key}" (${key.toUpperCase()}) of the app secret "FastAPIAppSecrets" would print a line the runner reads`
      )
    }
    const json = await cli(['export', 'app', '--format', 'json', '--reveal'], {
      env: { GITHUB_ACTIONS: 'true' }
    })
    expect(json.code).toBe(0)
    expect(json.stdout).not.toMatch(/^\s*::|##\[/m)
    expect(JSON.parse(json.stdout).API_KEYS).toBe(
      'x\n::add-mask::hidden\n::set-output name=approved::yes'
    )
  })

  // `script` gives the command a terminal; not every machine has it.
  const withTerminal = existsSync('/usr/bin/script') ? it : it.skip
  withTerminal('refuses to print the values on a terminal without --reveal', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const child = spawn(
      '/usr/bin/script',
      ['-qec', `node ${CLI_ENTRY} export app --format dotenv`, '/dev/null'],
      {
        env: {
          PATH: process.env.PATH,
          HOME: '/nonexistent',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...aws.environment()
        }
      }
    )
    let output = ''
    child.stdout.setEncoding('utf8').on('data', chunk => (output += chunk))
    const code = await new Promise(resolve => child.on('close', resolve))
    expect(code).toBe(1)
    expect(output).toContain(
      'error: Standard output is a terminal: give --out FILE to write the values to a file, or --reveal to print them.'
    )
    expect(output).not.toContain(EXAMPLE_APP.db_password)
  })

  it('refuses keys that change how programs run, and bad usage', async () => {
    aws.putSecret(APP, { ...EXAMPLE_APP, ld_preload: '/tmp/evil.so' })
    const refused = await cli(['export', 'app', '--format', 'dotenv', '--out', join(dir, 'x')])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      '"ld_preload" would be LD_PRELOAD: the dynamic loader takes code to load from it'
    )
    expect(existsSync(join(dir, 'x'))).toBe(false)
    for (const args of [
      ['export', 'app'],
      ['export', 'app', '--format', 'yaml'],
      ['export', 'app', '--format', 'dotenv', '--force']
    ]) {
      const run = await cli(args)
      expect(run.code).toBe(2)
      expect(run.stdout).toBe('')
    }
  })
})

describe('import', () => {
  const imported = (args: string[], options?: CliOptions) =>
    cli(['import', 'app', ...args], options)

  it("creates the reference app secret from the reference document's .env", async () => {
    const run = await imported([
      '--from',
      REFERENCE_DOTENV,
      '--create',
      '--only',
      'DB_PASSWORD,JWT_SECRET,API_KEYS'
    ])
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(
      'add  db_password  from DB_PASSWORD\nadd  jwt_secret   from JWT_SECRET\nadd  api_keys     from API_KEYS\n'
    )
    expect(run.stderr).toMatch(
      /^Created the app secret "FastAPIAppSecrets": version \S+ is current\.\n$/
    )
    expect(aws.secretValue(APP).json).toEqual({
      db_password: 'local-password',
      jwt_secret: 'local-jwt-secret',
      api_keys: 'local-api-keys'
    })
    expectNoValues(run, { a: 'local-password', b: 'local-jwt-secret', c: 'local-api-keys' })
  })

  it("maps each name to the secret's key, keeps values that differ unless --overwrite, in one version", async () => {
    const first = aws.putSecret(APP, EXAMPLE_APP)
    const run = await imported(['--from', REFERENCE_DOTENV])
    expect(run.code).toBe(0)
    expect(run.stdout.split('\n')).toEqual([
      'keep  db_password          from DB_PASSWORD: the secret holds another value (--overwrite replaces it)',
      'same  jwt_secret           from JWT_SECRET',
      'same  api_keys             from API_KEYS',
      'add   use_secrets_manager  from USE_SECRETS_MANAGER',
      ''
    ])
    expect(aws.secretValue(APP).json).toEqual({ ...EXAMPLE_APP, use_secrets_manager: 'false' })
    // One new version: the one it read is the previous.
    expect(Object.keys(aws.versionStages(APP))).toHaveLength(2)
    expect(aws.versionStages(APP)[first]).toEqual(['AWSPREVIOUS'])
    const overwrite = await imported(['--from', REFERENCE_DOTENV, '--overwrite'])
    expect(overwrite.code).toBe(0)
    expect(overwrite.stdout).toContain('change  db_password')
    expect(overwrite.stdout).toContain('same    use_secrets_manager')
    expect(aws.secretValue(APP).json).toEqual({
      ...EXAMPLE_APP,
      db_password: 'local-password',
      use_secrets_manager: 'false'
    })
    const again = await imported(['--from', REFERENCE_DOTENV, '--overwrite'])
    expect(again.stderr).toContain(
      'already holds what the import would write; nothing was written.'
    )
  })

  it('keeps a concurrent edit: another key merged, the same key left as the other writer set it', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    let raced = false
    aws.before('UpdateSecretVersionStage', params => {
      if (raced || params.VersionStage !== 'AWSCURRENT') return
      raced = true
      aws.putSecret(APP, {
        ...EXAMPLE_APP,
        api_keys: 'rotated-by-someone-else',
        use_secrets_manager: 'true'
      })
    })
    const run = await imported(['--from', REFERENCE_DOTENV])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain(
      'changed while this command ran; merging "use_secrets_manager" into the new version'
    )
    expect(aws.secretValue(APP).json).toEqual({
      ...EXAMPLE_APP,
      api_keys: 'rotated-by-someone-else',
      use_secrets_manager: 'true'
    })
  })

  it('writes nothing with --dry-run, and for a file with a name twice', async () => {
    const version = aws.putSecret(APP, EXAMPLE_APP)
    const dry = await imported(['--from', REFERENCE_DOTENV, '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('add   use_secrets_manager  from USE_SECRETS_MANAGER')
    expect(dry.stderr).toBe(
      `Dry run: nothing was written to the app secret "FastAPIAppSecrets" (version ${version}).\n`
    )
    const file = join(dir, 'twice.env')
    writeFileSync(
      file,
      'DB_PASSWORD=first-secret-value\nJWT_SECRET=x-value\nDB_PASSWORD=second-secret-value\n'
    )
    const twice = await imported(['--from', file])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toBe(
      `error: "${file}" gives "DB_PASSWORD" twice (lines 1 and 3); keep the one you mean, then import again. Nothing was imported.\n`
    )
    expectNoValues(twice, { a: 'first-secret-value', b: 'second-secret-value' })
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
    expect(aws.secretValue(APP).versionId).toBe(version)
  })

  it('refuses a name two keys of the secret become, and names exec would refuse', async () => {
    const version = aws.putSecret(APP, { db_password: 'one-value', 'db-password': 'two-value' })
    const ambiguous = await imported(['--from', REFERENCE_DOTENV])
    expect(ambiguous.code).toBe(1)
    expect(ambiguous.stderr).toContain(
      '"DB_PASSWORD" could go into key "db_password" or "db-password"'
    )
    const file = join(dir, 'refused.env')
    writeFileSync(file, 'NODE_OPTIONS=--require ./evil.js\n')
    const refused = await imported(['--from', file])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      '"NODE_OPTIONS" is NODE_OPTIONS, which exec and export refuse to set from a secret'
    )
    expect(refused.output).not.toContain('evil')
    expect(aws.secretValue(APP).versionId).toBe(version)
  })

  it('takes a JSON object; values built to break masking reach no argv and no output', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const file = join(dir, 'from.json')
    writeFileSync(file, JSON.stringify(HOSTILE_VALUES))
    let argv = ''
    let pid = 0
    aws.before('PutSecretValue', () => {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    })
    const run = await imported(['--from', file], { onSpawn: p => (pid = p) })
    expect(run.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual({ ...EXAMPLE_APP, ...HOSTILE_VALUES })
    expectNoValues(run, HOSTILE_VALUES)
    expect(argv).toContain('from.json')
    for (const piece of Object.values(HOSTILE_VALUES).flatMap(readablePieces))
      expect(argv).not.toContain(piece)
  })

  it('fails with one message for a missing file, a folder, text that is not UTF-8, a secret that does not exist', async () => {
    writeFileSync(join(dir, 'latin1.env'), Buffer.from('A=caf\xe9\n', 'latin1'))
    for (const [from, message] of [
      [join(dir, 'missing.env'), `error: Cannot read "${join(dir, 'missing.env')}" (ENOENT).`],
      [dir, `error: "${dir}" is a folder, not a regular file: give a .env file or a JSON object.`],
      [
        join(dir, 'latin1.env'),
        `error: "${join(dir, 'latin1.env')}" is not UTF-8 text: save it as UTF-8, then import again.`
      ]
    ]) {
      const run = await imported(['--from', from])
      expect(run.code).toBe(1)
      expect(run.stderr).toBe(`${message}\n`)
    }
    const missing = await imported(['--from', REFERENCE_DOTENV])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('App secret "FastAPIAppSecrets" was not found')
    expect(missing.stderr).toContain('To create it from the file, add --create.')
    expect((await imported([])).code).toBe(2)
  })
})

/** A workflow step's script as the runner runs it (bash -e), without blocking the local endpoint. */
function runScript(script: string, env: Record<string, string | undefined>) {
  const child = spawn('bash', ['-e', '-c', script], { cwd: dir, env: env as NodeJS.ProcessEnv })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', chunk => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', chunk => (stderr += chunk))
  return new Promise<{ status: number | null; stdout: string; stderr: string }>(resolve =>
    child.on('close', status => resolve({ status, stdout, stderr }))
  )
}

describe('docs/migrating.md', () => {
  const page = readFileSync(join(repoRoot, 'docs', 'migrating.md'), 'utf8')
  const blocks = (language: string) =>
    [...page.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'gm'))].map(m => m[1])

  it("copies the values only GitHub holds with its workflow's own script", async () => {
    const workflow = parse(blocks('yaml')[0]) as {
      jobs: { copy: { steps: { name?: string; env?: Record<string, string>; run?: string }[] } }
    }
    const step = workflow.jobs.copy.steps.find(
      s => s.name === "Copy the app secret's values into Secrets Manager"
    )
    expect(step?.run).toBeDefined()
    // What GitHub would put in ${{ secrets.* }}: values built to break quoting and masking.
    const values = {
      DB_PASSWORD: HOSTILE_VALUES.quotes_dollar,
      JWT_SECRET: HOSTILE_VALUES.multi_line,
      API_KEYS: 'plain-api-keys'
    }
    expect(Object.keys(step?.env ?? {})).toEqual(Object.keys(values))
    // The workflow's checkout of this repository, at "secrets-deploy".
    symlinkSync(repoRoot, join(dir, 'secrets-deploy'))
    const temp = mkdtempSync(join(dir, 'runner-temp-'))
    const run = await runScript(step!.run!, {
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      HOME: '/nonexistent',
      RUNNER_TEMP: temp,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...aws.environment(),
      ...values
    })
    expect(run.stderr).toMatch(
      /^Created the app secret "FastAPIAppSecrets": version \S+ is current\.\n$/
    )
    expect(run.status).toBe(0)
    expect(aws.secretValue(APP).json).toEqual({
      db_password: values.DB_PASSWORD,
      jwt_secret: values.JWT_SECRET,
      api_keys: values.API_KEYS
    })
    expect(readdirSync(temp)).toEqual([])
    const empty = spawnSync('bash', ['-e', '-c', step!.run!], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
        RUNNER_TEMP: temp,
        ...values,
        JWT_SECRET: ''
      }
    })
    expect(empty.status).toBe(1)
    expect(empty.stderr).toContain('not set in GitHub: JWT_SECRET')
  })

  const verify = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0
  ;(verify ? it : it.skip)(
    `has a systemd unit that systemd-analyze verify accepts${verify ? '' : ' (skipped: no systemd-analyze here)'}`,
    () => {
      const [unit] = blocks('ini')
      expect(unit).toContain('exec app -- ')
      // The unit names /usr/bin/node; verify checks that the program exists.
      const file = join(dir, 'fastapi.service')
      writeFileSync(file, unit.replace('/usr/bin/node', process.execPath))
      const run = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' })
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' })
    }
  )
})
