// The SSM restart in-process: the real SSM client against the local endpoint, which runs each
// instance's command through /bin/sh and records the stand-ins' calls.
import { jest } from '@jest/globals'
import { StoppedError } from '../src/lib/cancel.js'
import { allowedCount, parseRate } from '../src/restart/rate.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import { batchRates } from '../src/restart/ssm/command.js'
import { restartWithRunCommand, type SsmRestartOptions } from '../src/restart/ssm/run-command.js'
import { ssmFor, startLocalAws, type LocalAws } from './helpers/local-aws.js'
import { actionLogger } from '../src/lib/log.js'

let aws: LocalAws
let log: string[]

beforeEach(async () => {
  aws = await startLocalAws()
  log = []
  // The restart's own workflow commands (groups, errors) stay out of the test run's log, where a
  // runner would obey them.
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})
afterEach(async () => {
  jest.restoreAllMocks()
  await aws.stop()
})

const ids = (count: number) =>
  Array.from({ length: count }, (_, i) => `i-${String(i + 1).padStart(17, '0')}`)

// Polls come quickly, and still some real time passes while the endpoint's commands run: the
// budget counts the time asked for, so a sleep much shorter than asked could spend it first.
const briefSleep = (ms: number) =>
  new Promise<void>(resolve => setTimeout(resolve, Math.min(ms, 100)))
const noSleep = () => new Promise<void>(resolve => setImmediate(resolve))

function options(instanceIds: string[], extra: Partial<SsmRestartOptions> = {}) {
  for (const id of instanceIds) if (!aws.ssm.agents.has(id)) aws.ssm.addAgent(id)
  return {
    ssm: ssmFor(aws),
    instanceIds,
    script: restartScript(checkServiceName('fastapi'), ''),
    maxConcurrency: parseRate('100%'),
    maxErrors: parseRate('0'),
    timeoutSeconds: 600,
    sleep: briefSleep,
    // The action's own logger: its commands reach stdout, as on the runner.
    log: actionLogger,
    write: (line: string) => void log.push(line),
    ...extra
  }
}

describe('the command sent to the instances', () => {
  it('restarts the validated unit, then checks it, on one line', () => {
    expect(restartScript(checkServiceName('fastapi.service'), '').runCommandLines).toEqual([
      'systemctl restart -- fastapi.service && systemctl is-active -- fastapi.service'
    ])
    expect(
      restartScript(checkServiceName('fastapi'), `curl -fsS 'http://127.0.0.1:8000/health'`)
        .runCommandLines
    ).toEqual([`systemctl restart -- fastapi && sh -c "curl -fsS 'http://127.0.0.1:8000/health'"`])
  })

  it('refuses a unit name that is not one, before anything is sent', () => {
    expect(() => restartScript(checkServiceName('fastapi; reboot'), '')).toThrow('Input "service"')
  })

  it('shares a count of concurrent instances among batches, and passes percentages on', () => {
    expect(batchRates(parseRate('25%'), parseRate('0'), 50, 200)).toEqual({
      maxConcurrency: '25%',
      maxErrors: '0'
    })
    expect(batchRates(parseRate('100'), parseRate('2'), 50, 200)).toEqual({
      maxConcurrency: '25',
      maxErrors: '2'
    })
    expect(batchRates(parseRate('2'), parseRate('0'), 50, 200)).toEqual({
      maxConcurrency: '1',
      maxErrors: '0'
    })
    expect(allowedCount(parseRate('10%'), 25)).toBe(2)
    expect(allowedCount(parseRate('3'), 25)).toBe(3)
  })
})

describe('restartWithRunCommand', () => {
  it('restarts every instance through the stand-ins and reports each', async () => {
    const fleet = ids(3)
    const result = await restartWithRunCommand(options(fleet))
    expect(result.failure).toBeUndefined()
    expect(result.failed).toEqual([])
    expect(result.results.map(r => [r.instanceId, r.status, r.exitCode])).toEqual(
      fleet.map(id => [id, 'Success', 0])
    )
    for (const id of fleet) {
      expect(aws.ssm.calls(id)).toEqual([
        ['systemctl', 'restart', '--', 'fastapi'],
        ['systemctl', 'is-active', '--', 'fastapi']
      ])
    }
    expect(aws.callsOf('SendCommand')).toHaveLength(1)
    expect(aws.callsOf('SendCommand')[0].params).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: fleet,
      MaxConcurrency: '100%',
      MaxErrors: '0'
    })
    // Each instance's output (here, is-active's "active") is printed inside stop-commands.
    expect(log.filter(line => line === 'active')).toHaveLength(3)
    expect(log[0]).toMatch(/^::stop-commands::[0-9a-f]{32}$/)
  })

  it('waits for a Pending invocation and for an agent that registers late', async () => {
    const [late, slow] = ids(2)
    aws.ssm.addAgent(late, { registerAfterPolls: 2 })
    aws.ssm.addAgent(slow, { pendingPolls: 3 })
    const result = await restartWithRunCommand(options([late, slow]))
    expect(result.failed).toEqual([])
    expect(aws.callsOf('DescribeInstanceInformation').length).toBeGreaterThanOrEqual(3)
    expect(aws.ssm.calls(slow)).toHaveLength(2)
  })

  it('fails beyond max-errors, naming the instance, its status and its last stderr lines', async () => {
    const fleet = ids(3)
    aws.ssm.addAgent(fleet[1], {
      outcome: 'failure',
      stderr: 'Job for fastapi.service failed because the control process exited with error code.'
    })
    const result = await restartWithRunCommand(options(fleet))
    expect(result.failed.map(r => [r.instanceId, r.status])).toEqual([[fleet[1], 'Failed']])
    expect(result.failure).toContain(`${fleet[1]} Failed`)
    expect(result.failure).toContain('control process exited with error code')
    expect(result.failure).toContain('max-errors 0')
    expect(aws.callsOf('GetCommandInvocation').length).toBeGreaterThan(0)
  })

  it('stops at max-errors one at a time: the rest is cancelled, the failed one explains', async () => {
    const fleet = ids(3)
    aws.ssm.addAgent(fleet[0], { outcome: 'failure', stderr: 'unit fastapi.service not found' })
    const result = await restartWithRunCommand(options(fleet, { maxConcurrency: parseRate('1') }))
    expect(result.failed.map(r => [r.instanceId, r.status])).toEqual([
      [fleet[0], 'Failed'],
      [fleet[1], 'Cancelled'],
      [fleet[2], 'Cancelled']
    ])
    expect(result.failure).toContain('The cancelled ones were not restarted')
    expect(result.failure).toContain(
      `Last output of ${fleet[0]}:\n  unit fastapi.service not found`
    )
    expect(aws.ssm.calls(fleet[1])).toEqual([])
  })

  it('counts max-errors over the whole fleet: a failure in one batch cancels the other', async () => {
    const fleet = ids(60)
    aws.ssm.addAgent(fleet[0], { outcome: 'failure' })
    // The second batch would wait for ever, unless cancelled.
    for (const id of fleet.slice(50)) aws.ssm.addAgent(id, { pendingPolls: 1_000_000 })
    const result = await restartWithRunCommand(options(fleet, { maxConcurrency: parseRate('1') }))
    expect(result.commandIds).toHaveLength(2)
    expect(aws.callsOf('SendCommand').map(c => c.params.MaxConcurrency)).toEqual(['1', '1'])
    // Only what had not started; the first batch stopped by itself (SSM's own MaxErrors).
    expect(aws.callsOf('CancelCommand').map(c => c.params)).toEqual([
      { CommandId: result.commandIds[1], InstanceIds: fleet.slice(50) }
    ])
    expect(result.failed[0]).toMatchObject({ instanceId: fleet[0], status: 'Failed' })
    expect(result.results.slice(50).every(r => r.status === 'Cancelled')).toBe(true)
    expect(result.failure).toContain('more than max-errors 0 allows')
  })

  it('reports failures within max-errors without failing', async () => {
    const fleet = ids(3)
    aws.ssm.addAgent(fleet[0], { outcome: 'undeliverable' })
    const result = await restartWithRunCommand(options(fleet, { maxErrors: parseRate('1') }))
    expect(result.failure).toBeUndefined()
    expect(result.failed.map(r => [r.instanceId, r.status])).toEqual([[fleet[0], 'Undeliverable']])
  })

  it('reports a time-out as TimedOut', async () => {
    const [id] = ids(1)
    aws.ssm.addAgent(id, { outcome: 'timeout', timeoutAfterMs: 200 })
    const result = await restartWithRunCommand(options([id]))
    expect(result.failed.map(r => r.status)).toEqual(['ExecutionTimedOut'])
    expect(result.failure).toContain(`${id} ExecutionTimedOut`)
  })

  it('reads every page of the invocations, one request per page, never one per instance', async () => {
    aws.ssm.pageSize = 2
    const fleet = ids(5)
    const result = await restartWithRunCommand(options(fleet))
    expect(result.results).toHaveLength(5)
    const lists = aws.callsOf('ListCommandInvocations')
    const rounds = lists.filter(call => !call.params.NextToken).length
    expect(lists.length).toBe(rounds * 3)
    expect(lists.every(call => call.params.InstanceId === undefined)).toBe(true)
  })

  it('sends 200 instances as four commands of 50 and polls each with one request', async () => {
    const fleet = ids(200)
    const result = await restartWithRunCommand(options(fleet, { maxConcurrency: parseRate('50%') }))
    expect(result.failed).toEqual([])
    expect(result.commandIds).toHaveLength(4)
    expect(aws.callsOf('SendCommand').map(c => (c.params.InstanceIds as string[]).length)).toEqual([
      50, 50, 50, 50
    ])
    // Above five instances, only failures' full output is fetched.
    expect(aws.callsOf('GetCommandInvocation')).toHaveLength(0)
  }, 60_000)

  it('fails naming an agent that never registers and what it needs, sending nothing', async () => {
    const [ok, never, offline] = ids(3)
    aws.ssm.addAgent(never, { agent: 'never' })
    aws.ssm.addAgent(offline, { agent: 'offline' })
    const fleet = [ok, never, offline]
    await expect(
      restartWithRunCommand(options(fleet, { timeoutSeconds: 30, sleep: async () => {} }))
    ).rejects.toThrow(
      new RegExp(
        `Instances ${never} \\(not registered\\), ${offline} \\(agent ConnectionLost\\) are not Online managed instances in SSM.*AmazonSSMManagedInstanceCore`
      )
    )
    expect(aws.callsOf('SendCommand')).toHaveLength(0)
  })

  it('cancels the command when the step is cancelled, and says so', async () => {
    const [id] = ids(1)
    aws.ssm.addAgent(id, { outcome: 'timeout' })
    const controller = new AbortController()
    const sleep = async () => {
      if (aws.callsOf('ListCommandInvocations').length > 0) controller.abort()
      await noSleep()
    }
    await expect(
      restartWithRunCommand(options([id], { sleep, signal: controller.signal }))
    ).rejects.toThrow(/cancelled.*CancelCommand/)
    expect(aws.callsOf('CancelCommand')).toHaveLength(1)
  })

  it('stops between two commands: the first is cancelled, the second never sent, and it says so', async () => {
    const fleet = ids(60)
    const controller = new AbortController()
    aws.before('SendCommand', () => controller.abort())
    const error = await restartWithRunCommand(options(fleet, { signal: controller.signal })).catch(
      (caught: unknown) => caught
    )
    const [sent] = [...aws.ssm.commands.keys()]
    expect(error).toBeInstanceOf(StoppedError)
    expect((error as StoppedError).state).toBe(
      `sent command ${sent} to 50 of the 60 instances; sent CancelCommand for command ${sent}; ` +
        'nothing was sent to the other 10; instances that had already restarted stay restarted'
    )
    expect(aws.callsOf('SendCommand')).toHaveLength(1)
    expect(aws.callsOf('CancelCommand').map(call => call.params.CommandId)).toEqual([sent])
  })

  it('says which command it could not cancel when the step stops', async () => {
    const [id] = ids(1)
    aws.ssm.addAgent(id, { pendingPolls: 1_000_000 })
    aws.deny('CancelCommand')
    const controller = new AbortController()
    const sleep = async () => {
      controller.abort()
      await noSleep()
    }
    const error = await restartWithRunCommand(
      options([id], { sleep, signal: controller.signal })
    ).catch((caught: unknown) => caught)
    const [sent] = [...aws.ssm.commands.keys()]
    expect((error as StoppedError).state).toBe(
      `could not cancel command ${sent} (see the warning): its instances may still restart; ` +
        'instances that had already restarted stay restarted'
    )
  })

  it("leaves throttling to the SDK's retries, and names the permission a denied poll needs", async () => {
    aws.failNext('ListCommandInvocations', { status: 400, code: 'ThrottlingException', times: 2 })
    const result = await restartWithRunCommand(options(ids(1)))
    expect(result.failed).toEqual([])
    aws.deny('DescribeInstanceInformation')
    await expect(restartWithRunCommand(options(ids(1)))).rejects.toThrow(
      'Allow "ssm:DescribeInstanceInformation" on "*"'
    )
  })

  it('names the SSM permission when SendCommand is denied', async () => {
    aws.deny('SendCommand')
    await expect(restartWithRunCommand(options(ids(1)))).rejects.toThrow(
      'Allow "ssm:SendCommand" on "arn:aws:ssm:*:*:document/AWS-RunShellScript'
    )
  })

  it('refuses a command id that is not one, before printing or polling it', async () => {
    const opts = options(ids(1))
    // The endpoint's answer, altered after the SDK read it off the wire.
    opts.ssm.middlewareStack.add(
      next => async args => {
        const result = await next(args)
        const output = result.output as { Command?: { CommandId?: string } }
        if (output.Command) output.Command.CommandId = 'x\n::warning::planted'
        return result
      },
      { step: 'initialize', name: 'plantCommandId' }
    )
    await expect(restartWithRunCommand(opts)).rejects.toThrow(
      'ssm:SendCommand answered with the command id "x ::warning::planted", which is not one.'
    )
    expect(aws.callsOf('ListCommandInvocations')).toEqual([])
  })
})

describe('failure-logs with restart: ssm', () => {
  const withLogs = () => restartScript(checkServiceName('fastapi'), '', undefined, true)

  it("runs the unit's status and journal in the same command, keeping the failure's exit code", async () => {
    const [id] = ids(1)
    aws.ssm.addAgent(id, {
      outcome: 'failure',
      exitCode: 5,
      journal: ['app[1]: ::set-output name=restarted::true', 'app[1]: ##[error]forged'].join('\n')
    })
    const result = await restartWithRunCommand(options([id], { script: withLogs() }))
    expect(result.failed.map(r => [r.status, r.exitCode])).toEqual([['Failed', 5]])
    // Root needs no sudo: the first journalctl answers.
    expect(aws.ssm.calls(id)).toEqual([
      ['systemctl', 'restart', '--', 'fastapi'],
      ['systemctl', 'status', '--no-pager', '--', 'fastapi'],
      ['sudo', '-n', 'journalctl', '-u', 'fastapi', '-n', '50', '--no-pager'],
      ['journalctl', '-u', 'fastapi', '-n', '50', '--no-pager']
    ])
    expect(result.failureLogs).toEqual([
      {
        where: id,
        logs: expect.objectContaining({
          unit: 'fastapi',
          journal: ['app[1]: ::set-output name=restarted::true', 'app[1]: ##[error]forged']
        })
      }
    ])
    expect(result.failureLogs?.[0].logs.status.join('\n')).toContain('Active: failed')
    // The instance's own group no longer holds the markers; the journal is in a group of its own,
    // where the runner obeys none of its lines.
    expect(log.join('\n')).not.toMatch(/sda-logs-/)
    const group = log.indexOf('$ journalctl -u fastapi -n 50 --no-pager')
    expect(group).toBeGreaterThan(0)
    expect(log.slice(group)).toContain('app[1]: #\u200b#[error]forged')
  })

  it('adds nothing to a command that succeeds, and nothing at all with failure-logs false', async () => {
    const [ok, failing] = ids(2)
    aws.ssm.addAgent(failing, { outcome: 'failure' })
    const result = await restartWithRunCommand(
      options([ok, failing], { maxErrors: parseRate('1') })
    )
    expect(result.failureLogs).toEqual([])
    expect(aws.ssm.calls(failing)).toEqual([['systemctl', 'restart', '--', 'fastapi']])
    const withThem = await restartWithRunCommand(options([ok], { script: withLogs() }))
    expect(withThem.failureLogs).toEqual([])
    expect(aws.ssm.calls(ok).filter(call => call[1] === 'status')).toEqual([])
  })
})
