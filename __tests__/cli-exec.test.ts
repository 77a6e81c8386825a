// `secrets-deploy exec` as a person or a systemd unit runs it: the real bundle against the local
// AWS endpoint, running a probe (test-support/env-probe.js) that writes what it sees to a file.
// Both ways of running the command are tested: process.execve where this Node has it (24, and 22
// from 22.15), and a child process where it is missing. For the second, NODE_WITHOUT_EXECVE names
// a Node older than 22.15 (.ci/run installs 22.14.0); without it, this Node runs the bundle with
// process.execve deleted before the bundle loads, which is what such a Node looks like to it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HOSTILE_VALUES, readablePieces, repoRoot } from './helpers/run-bundle.js'
import { runCli, type CliOptions, type CliRun } from './helpers/run-cli.js'
import { EXAMPLE_APP, startLocalAws, type LocalAws } from './helpers/local-aws.js'

const PROBE = join(repoRoot, 'test-support', 'env-probe.js')
const APP = 'FastAPIAppSecrets'

interface Probe {
  pid: number
  ppid: number
  cmdline: string[]
  env: Record<string, string>
  nonBlocking: (boolean | undefined)[]
}

interface Way {
  name: string
  options: Pick<CliOptions, 'node' | 'nodeArgs'>
  replaces: boolean
}

const WITHOUT_EXECVE = process.env.NODE_WITHOUT_EXECVE
const WAYS: Way[] = [
  typeof process.execve === 'function'
    ? { name: `process.execve (Node ${process.version})`, options: {}, replaces: true }
    : {
        name: `a child process (Node ${process.version}, which has no process.execve)`,
        options: {},
        replaces: false
      },
  WITHOUT_EXECVE
    ? {
        name: `a child process (${WITHOUT_EXECVE})`,
        options: { node: WITHOUT_EXECVE },
        replaces: false
      }
    : {
        name: `a child process (Node ${process.version} without process.execve)`,
        options: { nodeArgs: ['--import', 'data:text/javascript,delete process.execve'] },
        replaces: false
      }
]

it('runs on a Node that has process.execve exactly from 22.15 on', () => {
  const [major, minor] = process.versions.node.split('.').map(Number)
  expect(typeof process.execve === 'function').toBe(major > 22 || (major === 22 && minor >= 15))
})

let aws: LocalAws
let dir: string
beforeEach(async () => {
  aws = await startLocalAws()
  dir = mkdtempSync(join(tmpdir(), 'cli-exec-'))
})
afterEach(async () => {
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

function expectNoValues(run: CliRun, values: Record<string, string>) {
  for (const value of Object.values(values))
    for (const piece of readablePieces(value)) expect(run.output).not.toContain(piece)
}

describe.each(WAYS)('exec through $name', way => {
  const out = () => join(dir, 'probe.json')
  const probe = (): Probe => JSON.parse(readFileSync(out(), 'utf8'))
  const exec = (args: string[], probeArgs: string[] = [], options: CliOptions = {}) =>
    runCli(aws, ['exec', 'app', ...args, '--', process.execPath, PROBE, out(), ...probeArgs], {
      ...way.options,
      ...options
    })

  it("gives the command the secret's keys as variables, in its environment only", async () => {
    const values = { ...EXAMPLE_APP, ...HOSTILE_VALUES }
    aws.putSecret(APP, values)
    const run = await exec([])
    expect(run).toMatchObject({ code: 0, stdout: '', stderr: '' })
    const seen = probe()
    for (const [key, value] of Object.entries(values))
      expect([key, seen.env[key.toUpperCase()]]).toEqual([key, value])
    expect(seen.env.AWS_ENDPOINT_URL).toBe(aws.url)
    // No value in the command's argv, nor in anything the command line printed.
    expect(seen.cmdline).toEqual([process.execPath, PROBE, out()])
    expectNoValues(run, values)
    // The command keeps this process's pid (execve), or is its child.
    if (way.replaces) expect(seen.pid).toBe(run.pid)
    else expect(seen.ppid).toBe(run.pid)
    // Its standard input, output and error (pipes here) are blocking, as a shell would give them.
    expect(seen.nonBlocking).toEqual([false, false, false])
  })

  it('keeps a variable already set unless --override, and says which by name only', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const kept = await exec([], [], { env: { DB_PASSWORD: 'set-by-hand-value' } })
    expect(kept.code).toBe(0)
    expect(kept.stderr).toBe(
      "Kept DB_PASSWORD as set in this environment, not the secret's value (--override uses the secret).\n"
    )
    expect(probe().env).toMatchObject({
      DB_PASSWORD: 'set-by-hand-value',
      JWT_SECRET: EXAMPLE_APP.jwt_secret
    })
    expectNoValues(kept, EXAMPLE_APP)
    const override = await exec(['--override'], [], { env: { DB_PASSWORD: 'set-by-hand-value' } })
    expect(override).toMatchObject({ code: 0, stderr: '' })
    expect(probe().env.DB_PASSWORD).toBe(EXAMPLE_APP.db_password)
  })

  it('passes only the keys and PATH, HOME, LANG, TERM with --pristine', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const run = await exec(['--pristine', '--only', 'db_password,JWT_SECRET'], [], {
      env: { LANG: 'C.UTF-8', TERM: 'dumb', UNRELATED: 'dropped' }
    })
    expect(run.code).toBe(0)
    expect(probe().env).toEqual({
      PATH: process.env.PATH,
      HOME: '/nonexistent',
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      DB_PASSWORD: EXAMPLE_APP.db_password,
      JWT_SECRET: EXAMPLE_APP.jwt_secret
    })
  })

  it("passes the command's exit code and its death by a signal on", async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    expect(await exec([], ['exit', '7'])).toMatchObject({ code: 7, stderr: '' })
    expect(await exec([], ['signal', 'SIGTERM'])).toMatchObject({ code: null, signal: 'SIGTERM' })
    expect(await exec([], ['signal', 'SIGKILL'])).toMatchObject({ code: null, signal: 'SIGKILL' })
  })

  it('lets a signal sent to its pid reach the command', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    let pid = 0
    const running = exec([], ['wait'], { onSpawn: p => (pid = p) })
    while (!existsSync(out())) await new Promise(resolve => setTimeout(resolve, 50))
    process.kill(pid, 'SIGTERM')
    expect(await running).toMatchObject({ code: 42 })
  })

  it('refuses keys that change how programs run, running nothing', async () => {
    aws.putSecret(APP, {
      ...EXAMPLE_APP,
      ld_preload: '/tmp/evil.so',
      node_options: '--require /tmp/evil.js',
      BASH_ENV: '/tmp/evil.sh'
    })
    const run = await exec([])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(
      'error: The app secret "FastAPIAppSecrets" has keys that cannot become environment variables: ' +
        '"ld_preload" would be LD_PRELOAD: the dynamic loader takes code to load from it; ' +
        '"node_options" would be NODE_OPTIONS: Node.js takes options (and code to load) from it; ' +
        '"BASH_ENV" would be BASH_ENV: bash runs the file it names before every script. Whoever can edit the ' +
        'secret would then choose how the program runs. Leave them out with --only KEYS, or rename them in the secret.\n'
    )
    expect(existsSync(out())).toBe(false)
    expect(run.output).not.toContain('evil')
    // --only leaves them out.
    expect((await exec(['--only', 'db_password'])).code).toBe(0)
  })

  it('fails with one message, running nothing, for a command it cannot run and a value no variable holds', async () => {
    aws.putSecret(APP, EXAMPLE_APP)
    const script = join(dir, 'no-shebang')
    writeFileSync(script, 'echo never\n', { mode: 0o755 })
    for (const [command, message] of [
      [
        'no-such-command-here',
        'error: "no-such-command-here" was not found on PATH; give its path, or check PATH.\n'
      ],
      [script, `error: "${script}" has no "#!" line and is not a compiled program`],
      [
        join(dir, 'missing'),
        `error: "${join(dir, 'missing')}" does not exist; give the path of a program.\n`
      ]
    ]) {
      const run = await runCli(aws, ['exec', 'app', '--', command], way.options)
      expect(run.code).toBe(1)
      expect(run.stderr.startsWith(message)).toBe(true)
      expect(run.stderr.split('\n')).toHaveLength(2)
    }
    aws.putSecret(APP, { ...EXAMPLE_APP, api_keys: 'nul-\u0000-inside-secret' })
    const nul = await exec([])
    expect(nul.code).toBe(1)
    expect(nul.stderr).toContain(
      'Key "api_keys" (API_KEYS) of the app secret "FastAPIAppSecrets" holds a NUL character'
    )
    expect(nul.output).not.toContain('inside-secret')
    expect(existsSync(out())).toBe(false)
  })
})

describe('exec usage', () => {
  it('is a usage error (exit 2) without a command, and a failure (exit 1) for a secret that does not exist', async () => {
    const none = await runCli(undefined, ['exec', 'app'])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("error: missing required argument 'command'")
    const missing = await runCli(aws, ['exec', 'NoSuchSecret', '--', 'true'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('error: Secret "NoSuchSecret" was not found')
  })
})
