// The stand-ins program (test-support/stand-ins.js) as its users run it: the self-test workflow's
// own steps, replayed here (start in the background, run the bundle with the inputs it printed,
// check, stop), and `npm run demo`. Each must leave nothing running and nothing in TMPDIR.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { NodeSSH } from 'node-ssh'
import { EXAMPLE_APP } from '../test-support/example-secrets.js'
import { accepts, sshServerChoice, startSshd, type SshServerKind } from '../test-support/sshd.js'
import { replayJob, workflowSteps, type ReplayedStep } from './helpers/replay-workflow.js'
import { parseFileCommand, readablePieces, repoRoot } from './helpers/run-bundle.js'

const exec = promisify(execFile)
const STAND_INS = join(repoRoot, 'test-support/stand-ins.js')

/** A TMPDIR of its own, so that "nothing left behind" can be checked. */
let tempDir: string
beforeEach(() => {
  tempDir = mkdtempSync(join(tmpdir(), 'sda-stand-ins-test-'))
})
afterEach(() => rmSync(tempDir, { recursive: true, force: true }))

const machineEnv = (): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? tempDir,
  TMPDIR: tempDir,
  // Which SSH server the stand-ins choose (test-support/sshd.js).
  ...Object.fromEntries(
    ['SSHD_PATH', 'REQUIRE_OPENSSH'].flatMap(name => {
      const value = process.env[name]
      return value === undefined ? [] : [[name, value]]
    })
  )
})

async function expectClosed(ports: number[]): Promise<void> {
  expect(ports.length).toBeGreaterThan(0)
  for (const port of ports) expect(await accepts(port)).toBe(false)
}

const portOf = (url: string) => Number(new URL(url).port)

describe('the self-test workflow, replayed here with --ssh auto', () => {
  it('starts the stand-ins, runs the action through every phase, checks it, stops them', async () => {
    const steps = workflowSteps('self-test.yml', 'self-test')
    const replayed = await replayJob(steps, machineEnv())
    const byName = (name: string): ReplayedStep => {
      const found = replayed.find(r => r.step.name === name)
      if (!found) throw new Error(`step "${name}" did not run`)
      return found
    }

    const start = byName('Start the stand-ins')
    expect(start.step.run).toContain('test-support/stand-ins.js start --ssh auto')
    expect(start.code).toBe(0)
    const server = sshServerChoice().server === 'openssh' ? 'OpenSSH sshd' : 'embedded ssh2 server'
    expect(start.log).toMatch(/Stand-ins ready \(pid \d+\): /)
    expect(start.log).toContain(`(${server}) as ${userInfo().username},`)

    const action = byName('Run the action through every phase')
    expect(action.log).not.toContain('::error::')
    expect(action.code).toBe(0)
    expect(action.outputs).toMatchObject({ restarted: 'true', 'instance-ip': '127.0.0.1' })

    const check = byName('Check the outputs and the written-back secret')
    expect(check.code).toBe(0)
    expect(check.log).toContain('✓ the step outputs')
    expect(check.log).toContain('The self-test passed.')

    const stop = byName('Stop the stand-ins')
    expect(stop.code).toBe(0)
    expect(stop.log).toMatch(/Stopped the stand-ins \(pid \d+\)/)
    expect(replayed.map(r => r.step.name)).not.toContain("Show the stand-ins' log")

    // Nothing answers any more where the stand-ins listened, and they left no files behind.
    const stepInputs = start.outputs
    const aws = /AWS endpoint (http:\S+),/.exec(start.log)?.[1] ?? ''
    await expectClosed([portOf(aws), Number(stepInputs['ssh-port'])])
    expect(readdirSync(tempDir)).toEqual([])
  })
})

describe('stand-ins.js from the command line, with --ssh embedded', () => {
  it('check names what a run did not do, and stop ends the background process', async () => {
    const files = { env: join(tempDir, 'env'), output: join(tempDir, 'output') }
    const env = machineEnv()
    await exec(
      process.execPath,
      [
        STAND_INS,
        'start',
        '--ssh',
        'embedded',
        '--github-env',
        files.env,
        '--github-output',
        files.output
      ],
      { env }
    )
    const stepEnv = parseFileCommand(readFileSync(files.env, 'utf8'))
    const inputs = parseFileCommand(readFileSync(files.output, 'utf8'))
    expect(Object.keys(inputs).sort()).toEqual(
      ['cdk-command', 'ssh-port', 'ssh-private-key', 'stack', 'working-directory'].sort()
    )
    expect(inputs['ssh-private-key']).toContain('-----BEGIN OPENSSH PRIVATE KEY-----')
    try {
      // No action ran: the secret still has no address and nothing was restarted.
      const failed = await exec(process.execPath, [STAND_INS, 'check'], {
        env: { ...env, ...stepEnv, ACTION_OUTPUTS: JSON.stringify({ restarted: 'false' }) }
      }).then(
        () => undefined,
        (error: { code: number; stdout: string; stderr: string }) => error
      )
      expect(failed?.code).toBe(1)
      expect(failed?.stdout).toContain(
        'has ec2_host "", not 127.0.0.1: the address was not written back'
      )
      expect(failed?.stdout).toContain('recorded no restart of fastapi')
      expect(failed?.stdout).toContain('are not as expected (restarted: "false")')
      expect(failed?.stderr).toContain('The self-test failed: 4 check(s) did not pass.')
    } finally {
      const stopped = await exec(process.execPath, [STAND_INS, 'stop'], {
        env: { ...env, ...stepEnv }
      })
      expect(stopped.stdout).toContain(`Stopped the stand-ins (pid ${stepEnv.STAND_INS_PID})`)
    }
    await expectClosed([
      portOf(stepEnv.AWS_ENDPOINT_URL),
      portOf(stepEnv.STAND_INS_CONTROL_URL),
      Number(inputs['ssh-port'])
    ])
    expect(readdirSync(tempDir).sort()).toEqual(['env', 'output'])
  })
})

describe('npm run demo', () => {
  it('runs the bundle through every phase against the embedded SSH server and cleans up', async () => {
    const { stdout } = await exec('npm', ['run', '--silent', 'demo'], {
      cwd: repoRoot,
      env: machineEnv()
    })
    expect(stdout).toContain('▶ cdk deploy FastAPIEC2Stack')
    // The embedded server answers on loopback, which the action never registers as a mask.
    expect(stdout).toMatch(/127\.0\.0\.1:\d+\$ timeout \d+ sudo -n systemctl restart -- fastapi/)
    expect(stdout).toMatch(/restarted +true/)
    expect(stdout).toMatch(/ec2_key_name +\*\*\*/)
    expect(stdout).toContain('### secrets-deploy-action')
    expect(stdout).toContain('The demo run passed every check.')
    // The runner's masking, applied: no mask command and no secret value shows.
    expect(stdout).not.toContain('::add-mask::')
    for (const value of [...Object.values(EXAMPLE_APP), 'my-key-pair', 'PRIVATE KEY']) {
      for (const piece of readablePieces(value)) expect(stdout).not.toContain(piece)
    }

    const aws = /AWS endpoint +(http:\S+)/.exec(stdout)?.[1] ?? ''
    const ssh = /SSH server +127\.0\.0\.1:(\d+)/.exec(stdout)?.[1] ?? ''
    await expectClosed([portOf(aws), Number(ssh)])
    // npm 11 on Node 24 turns on Node's compile cache, kept in TMPDIR: npm's, not the demo's.
    expect(readdirSync(tempDir).filter(name => name !== 'node-compile-cache')).toEqual([])
  })
})

// The fallback must behave like sshd for any command line: the same checks run against both
// servers where OpenSSH is installed.
const servers: SshServerKind[] =
  sshServerChoice().server === 'openssh' ? ['embedded', 'openssh'] : ['embedded']

describe.each(servers)('the SSH test server (%s)', server => {
  it('lets in only the current user with its key, and runs any command line through sh', async () => {
    const sshd = await startSshd({ server })
    const other = await startSshd({ server })
    const connect = async (user: string, privateKey: string) => {
      const ssh = new NodeSSH()
      await ssh.connect({ host: sshd.host, port: sshd.port, username: user, privateKey })
      return ssh
    }
    try {
      expect(sshd.user).toBe(userInfo().username)
      await expect(connect(sshd.user, other.clientPrivateKey)).rejects.toThrow(
        'All configured authentication methods failed'
      )
      await expect(connect(`${sshd.user}x`, sshd.clientPrivateKey)).rejects.toThrow(
        'All configured authentication methods failed'
      )
      await sshd.setBehaviour({ restartExitCode: 0, activeState: 'active' })
      const ssh = await connect(sshd.user, sshd.clientPrivateKey)
      try {
        const both = await ssh.execCommand(
          "timeout 7 sudo -n systemctl restart -- 'fastapi' && timeout 7 systemctl is-active -- 'fastapi'"
        )
        const streams = await ssh.execCommand('echo out; echo "err $(id -un)" >&2; exit 7')
        const unknown = await ssh.execCommand('no-such-program-here')
        expect([both.code, both.stdout, both.stderr]).toEqual([0, 'active', ''])
        expect([streams.code, streams.stdout, streams.stderr]).toEqual([
          7,
          'out',
          `err ${sshd.user}`
        ])
        expect(unknown.code).toBe(127)
        expect(unknown.stderr).toMatch(/no-such-program-here: (command )?not found/)

        await sshd.setBehaviour({ restartExitCode: 5, restartStderr: 'Job failed.' })
        const failed = await ssh.execCommand("sudo -n systemctl restart -- 'fastapi'")
        expect([failed.code, failed.stderr]).toEqual([5, 'Job failed.'])
      } finally {
        ssh.dispose()
      }
      expect(sshd.calls()).toEqual([
        ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi'],
        ['systemctl', 'restart', '--', 'fastapi'],
        ['systemctl', 'is-active', '--', 'fastapi'],
        ['sudo', '-n', 'systemctl', 'restart', '--', 'fastapi'],
        ['systemctl', 'restart', '--', 'fastapi']
      ])
      expect(sshd.serverLog()).toContain(`Accepted publickey for ${sshd.user}`)
    } finally {
      await Promise.all([sshd.stop(), other.stop()])
    }
    await expectClosed([sshd.port, other.port])
  })
})
