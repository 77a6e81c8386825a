// The restart engine in-process: its decisions (a single host or a fleet, the fan-out's rates,
// the report, what a stop says) with the real SSM transport against the local endpoint, and with
// a scripted instance transport whose instances succeed, fail or hang as each test says (the SSH
// transport itself is proven against OpenSSH in restart.test.ts and the e2e suites).
import { jest } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoppedError, StopRequest } from '../src/lib/cancel.js'
import { ActionError } from '../src/lib/errors.js'
import { sshTransport } from '../src/restart/ssh/transport.js'
import { restart } from '../src/restart/engine.js'
import { hostKeyPolicy } from '../src/restart/host-key-policy.js'
import { parseRate } from '../src/restart/rate.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import type { InstanceTransport, RestartSettings, RestartTarget } from '../src/restart/transport.js'
import { ssmTransport } from '../src/restart/ssm/transport.js'
import { newReport, type RunReport } from '../src/action/summary.js'
import { parseFileCommand } from '../test-support/runner.js'
import { ec2For, ssmFor, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { actionLogger, actionOutputs } from '../src/lib/log.js'

let aws: LocalAws
let dir: string
let stdout: string
let report: RunReport
const saved = process.env.GITHUB_OUTPUT

beforeEach(async () => {
  aws = await startLocalAws()
  dir = mkdtempSync(join(tmpdir(), 'sda-engine-'))
  process.env.GITHUB_OUTPUT = join(dir, 'output')
  writeFileSync(process.env.GITHUB_OUTPUT, '')
  stdout = ''
  // The engine's workflow commands (groups, warnings) are what these tests read; they stay out of
  // the test run's own log, where a runner would obey them.
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
  report = newReport()
})
afterEach(async () => {
  jest.restoreAllMocks()
  if (saved === undefined) delete process.env.GITHUB_OUTPUT
  else process.env.GITHUB_OUTPUT = saved
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

const outputs = () => parseFileCommand(readFileSync(join(dir, 'output'), 'utf8'))
const lines = () => stdout.split('\n')
const warnings = () => lines().filter(line => line.startsWith('::warning::'))
const groups = () => lines().filter(line => line.startsWith('::group::'))
const noSleep = () => new Promise<void>(resolve => setImmediate(resolve))
// The action's own logger and outputs: the tests read what the runner would (stdout, GITHUB_OUTPUT).
const actionIo = { log: actionLogger, outputs: actionOutputs }

function settings(maxConcurrency = '100%', maxErrors = '0'): RestartSettings {
  return {
    script: restartScript(checkServiceName('fastapi'), ''),
    maxConcurrency: parseRate(maxConcurrency),
    maxErrors: parseRate(maxErrors)
  }
}

const ids = (count: number) =>
  Array.from({ length: count }, (_, i) => `i-0eee${String(i + 1).padStart(13, '0')}`)

/** What a scripted instance does: succeed, fail with a message, or hang until the step stops. */
type Behaviour = 'success' | { fail: string } | 'hang'

/**
 * An instance transport whose instances do what `behaviours` says (by address), recording what
 * the engine asked of it.
 */
function scriptedTransport(behaviours: Record<string, Behaviour> = {}) {
  const calls = { prepared: [] as string[][], ran: [] as string[], streamedLive: [] as boolean[] }
  const transport: InstanceTransport = {
    kind: 'instance',
    name: 'ssh',
    via: 'over SSH',
    stopped: several => (several ? 'several left unknown' : 'one left unknown'),
    where: target => (target.address ? `${target.address}:22` : undefined),
    failure: error =>
      error instanceof StoppedError
        ? { status: 'Unknown', message: 'stopped mid-command' }
        : { status: 'Failed', exitCode: 1, message: (error as Error).message },
    async prepare(targets, _settings, deps) {
      calls.prepared.push(targets.map(t => t.address))
      return async target => ({
        async run(output) {
          calls.ran.push(target.address)
          calls.streamedLive.push(output === undefined)
          output?.line(`restarting on ${target.address}`)
          const behaviour = behaviours[target.address] ?? 'success'
          if (behaviour === 'hang') {
            await new Promise(resolve => deps.signal?.addEventListener('abort', resolve))
            throw new StoppedError(new StopRequest({ kind: 'signal', signal: 'SIGINT' }))
          }
          if (behaviour !== 'success') throw new ActionError(behaviour.fail)
          return 'active (host key SHA256:test)'
        }
      })
    }
  }
  return { transport, calls }
}

const targetsAt = (count: number): RestartTarget[] =>
  ids(count).map((instanceId, i) => ({ instanceId, address: `198.51.100.${i + 1}` }))

describe('restart over an instance transport (SSH)', () => {
  it('runs a single host as a fleet of one: live output, the single-restart summary, no group', async () => {
    const { transport, calls } = scriptedTransport()

    await restart(
      settings(),
      [{ address: '198.51.100.1' }],
      transport,
      { ...actionIo, sleep: noSleep },
      report
    )

    expect(calls.streamedLive).toEqual([true])
    expect(report.restart).toEqual({
      host: '198.51.100.1:22',
      unit: 'fastapi',
      result: 'restarted, active (host key SHA256:test)'
    })
    expect(report.fleet).toBeUndefined()
    expect(groups()).toEqual([])
    expect(outputs()).toEqual({ restarted: 'true' })
    expect(stdout).toContain('Restarted "fastapi" on 198.51.100.1:22.')
  })

  it('fails a single host with its own message: max-errors does not apply to it', async () => {
    const { transport } = scriptedTransport({ '198.51.100.1': { fail: 'sudo said no' } })

    await expect(
      restart(settings('1', '1'), targetsAt(1), transport, { ...actionIo, sleep: noSleep }, report)
    ).rejects.toThrow(new ActionError('sudo said no'))

    expect(report.restart?.result).toBe('failed')
    expect(outputs()).toEqual({})
  })

  it("reports a single host's fate as unknown when the step stops mid-command", async () => {
    const { transport } = scriptedTransport({ '198.51.100.1': 'hang' })
    const controller = new AbortController()
    const running = restart(
      settings(),
      targetsAt(1),
      transport,
      { ...actionIo, sleep: noSleep, signal: controller.signal },
      report
    )
    await noSleep()
    controller.abort()

    const error = await running.catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(StoppedError)
    expect((error as StoppedError).state).toBe('one left unknown')
    expect(report.restart?.result).toBe(
      'unknown: the run was stopped and the connection closed mid-command'
    )
  })

  it('fans out: one group per instance, the fleet table over SSH, restarted true', async () => {
    const { transport, calls } = scriptedTransport()

    await restart(settings('2'), targetsAt(3), transport, { ...actionIo, sleep: noSleep }, report)

    // The host key mode is decided once, for all of them.
    expect(calls.prepared).toEqual([['198.51.100.1', '198.51.100.2', '198.51.100.3']])
    expect(calls.streamedLive).toEqual([false, false, false])
    expect(stdout).toContain(
      'Restarting "fastapi" on 3 instances over SSH, 2 at a time (max-concurrency 2, max-errors 0).'
    )
    expect(groups().map(line => line.replace(/[0-9.]+ s$/, 'N s'))).toEqual(
      ids(3).map((id, i) => `::group::${id} (198.51.100.${i + 1}:22): Success, exit code 0, N s`)
    )
    expect(report.fleet).toMatchObject({ unit: 'fastapi', commandIds: [], via: 'ssh' })
    expect(report.fleet?.results.map(r => r.status)).toEqual(['Success', 'Success', 'Success'])
    expect(report.restart).toBeUndefined()
    expect(outputs()).toEqual({ restarted: 'true' })
    expect(stdout).toContain('Restarted "fastapi" on 3 instances over SSH.')
  })

  it('starts no instance once max-errors is exceeded, and names the first failure', async () => {
    const { transport, calls } = scriptedTransport({ '198.51.100.1': { fail: 'unit not found' } })

    const error = await restart(
      settings('1', '0'),
      targetsAt(3),
      transport,
      { ...actionIo, sleep: noSleep },
      report
    )
      .then(() => undefined)
      .catch((caught: unknown) => caught as ActionError)

    expect(calls.ran).toEqual(['198.51.100.1'])
    const [first, second, third] = ids(3)
    expect(error?.message).toBe(
      'Restarting "fastapi" did not succeed on 3 of 3 instances, more than max-errors 0 allows (0): ' +
        `${first} Failed, ${second} NotStarted, ${third} NotStarted. The NotStarted ones were not ` +
        "restarted: no instance starts once max-errors is exceeded. Each instance's log group has " +
        `its output.\n${first}: unit not found`
    )
    expect(report.fleet?.results.map(r => r.status)).toEqual(['Failed', 'NotStarted', 'NotStarted'])
    // The failure is in the instance's own group, after its output.
    expect(stdout).toMatch(/restarting on 198\.51\.100\.1\n.*unit not found\n/)
  })

  it('passes within max-errors with a warning and restarted false', async () => {
    const { transport } = scriptedTransport({ '198.51.100.2': { fail: 'unit not found' } })

    await restart(
      settings('100%', '1'),
      targetsAt(3),
      transport,
      { ...actionIo, sleep: noSleep },
      report
    )

    expect(warnings()).toEqual([
      `::warning::1 of 3 instances did not restart (${ids(3)[1]} Failed); within max-errors 1, so the step passes, with restarted false.`
    ])
    expect(outputs()).toEqual({})
  })

  it('stops the fan-out at a stop: the running ones Unknown, the rest not started', async () => {
    const { transport } = scriptedTransport({ '198.51.100.1': 'hang', '198.51.100.2': 'hang' })
    const controller = new AbortController()
    const running = restart(
      settings('2', '3'),
      targetsAt(3),
      transport,
      { ...actionIo, sleep: noSleep, signal: controller.signal },
      report
    )
    await noSleep()
    controller.abort()

    const error = await running.catch((caught: unknown) => caught)

    expect((error as StoppedError).state).toBe('several left unknown')
    expect(report.fleet?.results.map(r => r.status)).toEqual(['Unknown', 'Unknown', 'NotStarted'])
  })
})

describe('restart over the SSH transport', () => {
  it('refuses a single target without an address, before connecting anywhere', async () => {
    const transport = sshTransport(
      {
        credentials: { username: 'ec2-user', privateKey: 'never parsed', passphrase: undefined },
        port: 22,
        connectTimeoutMs: 1_000,
        commandTimeoutMs: 1_000,
        addressType: 'public'
      },
      hostKeyPolicy(
        {
          fingerprints: [`SHA256:${'A'.repeat(43)}`],
          skipCheck: false,
          consoleTimeoutMs: 1_000,
          addressType: 'public'
        },
        async () => ec2For(aws)
      )
    )

    // Input "targets" named one running instance that has no public address.
    await expect(
      restart(
        settings(),
        [{ instanceId: 'i-0eee0000000000001', address: '' }],
        transport,
        { ...actionIo, sleep: noSleep },
        report
      )
    ).rejects.toThrow(
      new ActionError(
        'Instance i-0eee0000000000001 has no public address (input "address-type"), so it cannot be reached over SSH.'
      )
    )
    expect(report.restart).toBeUndefined()
    expect(aws.calls).toEqual([])
  })
})

describe('restart over a fleet transport (SSM Run Command)', () => {
  const transport = () =>
    ssmTransport(
      { timeoutSeconds: 600, addressType: 'public', hostKey: 'ec2_host' },
      {
        ec2: async () => ec2For(aws),
        ssm: async () => ssmFor(aws),
        s3: () => Promise.reject(new Error('a restart without a release uses no S3'))
      }
    )

  function addFleet(count: number): RestartTarget[] {
    return targetsAt(count).map(target => {
      aws.addInstance({ instanceId: target.instanceId as string, publicIp: target.address })
      aws.ssm.addAgent(target.instanceId as string)
      return target
    })
  }

  it('restarts the fleet with one command, sets command-id and fills the fleet table', async () => {
    const targets = addFleet(3)

    await restart(settings(), targets, transport(), { ...actionIo, sleep: noSleep }, report)

    const [send] = aws.callsOf('SendCommand')
    expect(send.params).toMatchObject({ InstanceIds: ids(3), MaxConcurrency: '100%' })
    const commandId = [...aws.ssm.commands.keys()][0]
    expect(outputs()).toEqual({ 'command-id': commandId, restarted: 'true' })
    expect(report.fleet).toEqual({
      unit: 'fastapi',
      commandIds: [commandId],
      results: expect.arrayContaining([expect.objectContaining({ status: 'Success' })])
    })
    expect(groups()).toHaveLength(3)
    expect(stdout).toContain('Restarted "fastapi" on 3 instances with SSM Run Command.')
  })

  it("finds the single host's instance by the address the secret holds", async () => {
    addFleet(3)

    await restart(
      settings(),
      [{ address: '198.51.100.2' }],
      transport(),
      { ...actionIo, sleep: noSleep },
      report
    )

    expect(aws.callsOf('SendCommand')[0].params).toMatchObject({ InstanceIds: [ids(3)[1]] })
    expect(stdout).toContain('Restarted "fastapi" on 1 instance with SSM Run Command.')
  })

  it('refuses an address no running instance has, before anything is sent', async () => {
    addFleet(1)

    await expect(
      restart(
        settings(),
        [{ address: '203.0.113.99' }],
        transport(),
        { ...actionIo, sleep: noSleep },
        report
      )
    ).rejects.toThrow(
      'No single running EC2 instance has the public address in "ec2_host" of the deployment secret, and ' +
        'restart: ssm needs an instance id'
    )
    expect(aws.callsOf('SendCommand')).toEqual([])
  })

  it("warns within max-errors, and fails beyond it with the transport's message", async () => {
    const targets = addFleet(3)
    aws.ssm.setBehaviour(ids(3)[0], {
      outcome: 'failure',
      stderr: 'unit fastapi.service not found'
    })

    await restart(
      settings('100%', '1'),
      targets,
      transport(),
      { ...actionIo, sleep: noSleep },
      report
    )
    expect(warnings()).toEqual([
      `::warning::1 of 3 instances did not restart (${ids(3)[0]} Failed); within max-errors 1, so the step passes, with restarted false.`
    ])

    await expect(
      restart(settings('100%', '0'), targets, transport(), { ...actionIo, sleep: noSleep }, report)
    ).rejects.toThrow(
      /more than max-errors 0 allows \(0\).*\n.*\n {2}unit fastapi\.service not found/
    )
    expect(outputs().restarted).toBeUndefined()
  })

  it('says that nothing was sent when the step stops while the agents register', async () => {
    const targets = addFleet(2)
    for (const id of ids(2)) aws.ssm.setBehaviour(id, { registerAfterPolls: 1_000_000 })
    const controller = new AbortController()
    const sleep = async () => {
      controller.abort()
      await noSleep()
    }

    const error = await restart(
      settings(),
      targets,
      transport(),
      { ...actionIo, sleep, signal: controller.signal },
      report
    ).catch((caught: unknown) => caught)

    expect(error).toBeInstanceOf(StoppedError)
    expect((error as StoppedError).state).toBe('nothing was sent')
    expect(aws.callsOf('SendCommand')).toEqual([])
  })
})
