// SSM Run Command for the local AWS endpoint (test-support/aws-endpoint.js): the JSON 1.1
// operations the action calls, answered as SSM answers them, and each instance's command really
// run through /bin/sh, with `sudo` and `systemctl` stand-ins first on PATH that record their calls
// (one directory, one recording per instance). Test support only: nothing under src/ imports it.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { withOwnDirectory } from './own-directory.js'
import { FAILED_JOURNAL, FAILED_STATUS } from './sshd.js'

/**
 * How one managed instance behaves; every field falls back to an Online agent and a restart that
 * succeeds at once.
 * @typedef {object} Invocation one instance's part of a command
 * @property {string} instanceId
 * @property {string} status Pending, InProgress, Success, Failed, TimedOut, Cancelled, ...
 * @property {string} details SSM's StatusDetails
 * @property {number} pendingPolls
 * @property {string} stdout
 * @property {string} stderr
 * @property {number} code
 * @property {number | undefined} start
 * @property {number | undefined} end
 * @property {import('node:child_process').ChildProcess | undefined} child
 */

/**
 * @typedef {object} Command one SendCommand
 * @property {string} commandId
 * @property {number} requested
 * @property {string} comment
 * @property {string} script
 * @property {number} timeoutSeconds
 * @property {number} executionTimeout
 * @property {string} maxConcurrency
 * @property {string} maxErrors
 * @property {number} errors
 * @property {Map<string, Invocation>} invocations
 */

/**
 * @typedef {object} SsmBehaviour
 * @property {'online' | 'offline' | 'never'} [agent] 'offline': registered, PingStatus
 *   ConnectionLost (commands to it are Undeliverable); 'never': never registers
 * @property {number} [registerAfterPolls] the agent appears only after this many
 *   DescribeInstanceInformation calls that asked about the instance (a late agent)
 * @property {'success' | 'failure' | 'timeout' | 'undeliverable'} [outcome]
 * @property {number} [pendingPolls] the invocation stays Pending for this many
 *   ListCommandInvocations calls before it runs
 * @property {string} [stdout] what `systemctl restart` prints first
 * @property {string} [stderr] what a failing `systemctl restart` writes to stderr
 * @property {number} [exitCode] exit code of a failing `systemctl restart` (default 1)
 * @property {number} [timeoutAfterMs] 'timeout': when SSM gives up on it (default: executionTimeout)
 * @property {{ path: string, files: string }} [ownDirectory] the instance's commands see `files` (a
 *   directory of the test's) at `path`, a private bind mount in a mount namespace of their own
 *   (needs root), as each instance of a fleet has its own disk
 * @property {string} [status] what `systemctl status` prints (default: a failed unit's, as in sshd.js)
 * @property {string} [journal] what `journalctl` prints (default: the failed unit's journal)
 * @property {string} [onRestart] a shell command `systemctl restart` runs, as the service's start
 *   (ExecStart) does, e.g. read its secret; its output is discarded, and its exit code decides what
 *   `systemctl is-active` prints until the next restart: "active", or "failed"
 */

const FIELD = '\x1f'
const PLUGIN = 'aws:runShellScript'
const PLUGIN_OUTPUT_LIMIT = 2500
const CONTENT_LIMIT = 24000
const TRUNCATED = '\n---Output truncated---'
const FINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled'])

export class SsmError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message)
    this.status = 400
    this.code = code
  }
}

export class LocalRunCommand {
  constructor() {
    /** @type {Map<string, SsmBehaviour & { infoPolls: number }>} */
    this.agents = new Map()
    /** @type {Map<string, Command>} */
    this.commands = new Map()
    /** Answer at most this many items per page, whatever MaxResults asks (a page boundary). */
    this.pageSize = 50
    /** @type {string | undefined} */
    this.root = undefined
    /** @type {Set<import('node:child_process').ChildProcess>} */
    this.children = new Set()
  }

  /** @param {string} instanceId @param {SsmBehaviour} [behaviour] */
  addAgent(instanceId, behaviour = {}) {
    this.agents.set(instanceId, { ...behaviour, infoPolls: 0 })
  }

  /** @param {string} instanceId @param {SsmBehaviour} behaviour merged into the current one */
  setBehaviour(instanceId, behaviour) {
    const agent = this.agents.get(instanceId)
    if (!agent) throw new Error(`no agent ${instanceId}`)
    Object.assign(agent, behaviour)
  }

  /**
   * The stand-ins' calls on one instance, oldest first: program name, then arguments.
   * @param {string} instanceId @returns {string[][]}
   */
  calls(instanceId) {
    if (!this.root) return []
    let text
    try {
      text = readFileSync(path.join(this.root, instanceId, 'calls'), 'utf8')
    } catch {
      return []
    }
    return text
      .split('\n')
      .filter(line => line !== '')
      .map(line => line.split(FIELD).slice(0, -1))
  }

  stop() {
    for (const child of this.children) killGroup(child)
    this.children.clear()
    if (this.root) rmSync(this.root, { recursive: true, force: true })
    this.root = undefined
  }

  /** @type {Record<string, (this: LocalRunCommand, params: any) => object>} */
  actions = {
    DescribeInstanceInformation(params) {
      const wanted = instanceIdFilter(params)
      const items = []
      for (const [instanceId, agent] of [...this.agents].sort(([a], [b]) => a.localeCompare(b))) {
        if (wanted && !wanted.includes(instanceId)) continue
        agent.infoPolls++
        if (agent.agent === 'never') continue
        if (agent.infoPolls <= (agent.registerAfterPolls ?? 0)) continue
        items.push({
          InstanceId: instanceId,
          PingStatus: agent.agent === 'offline' ? 'ConnectionLost' : 'Online',
          LastPingDateTime: Date.now() / 1000,
          AgentVersion: '3.3.1142.0',
          IsLatestVersion: true,
          PlatformType: 'Linux',
          PlatformName: 'Amazon Linux',
          PlatformVersion: '2023',
          ResourceType: 'EC2Instance'
        })
      }
      const max = params.MaxResults ?? 50
      if (max < 5 || max > 50) throw validation('MaxResults must be between 5 and 50.')
      const { page, next } = paginate(items, params.NextToken, Math.min(max, this.pageSize))
      return { InstanceInformationList: page, ...(next ? { NextToken: next } : {}) }
    },

    SendCommand(params) {
      if (params.DocumentName !== 'AWS-RunShellScript')
        throw new SsmError('InvalidDocument', `Document ${params.DocumentName} does not exist.`)
      const ids = params.InstanceIds ?? []
      if (ids.length === 0 || ids.length > 50)
        throw validation('InstanceIds must hold 1 to 50 instance ids.')
      const commands = params.Parameters?.commands
      if (!Array.isArray(commands) || commands.length === 0)
        throw new SsmError('InvalidParameters', 'Parameter "commands" is required.')
      for (const id of ids) {
        if (!this.agents.has(id) || this.agents.get(id)?.agent === 'never')
          throw new SsmError(
            'InvalidInstanceId',
            `Instances [[${id}]] not in a valid state for account`
          )
      }
      const commandId = randomUUID()
      const requested = Date.now() / 1000
      /** @type {Command} */
      const command = {
        commandId,
        requested,
        comment: params.Comment ?? '',
        script: commands.join('\n'),
        timeoutSeconds: params.TimeoutSeconds ?? 3600,
        executionTimeout: Number(params.Parameters?.executionTimeout?.[0] ?? 3600),
        maxConcurrency: String(params.MaxConcurrency ?? '50'),
        maxErrors: String(params.MaxErrors ?? '0'),
        errors: 0,
        invocations: new Map(
          [...ids].sort().map(instanceId => [
            instanceId,
            {
              instanceId,
              status: 'Pending',
              details: 'Pending',
              pendingPolls: this.agents.get(instanceId)?.pendingPolls ?? 0,
              stdout: '',
              stderr: '',
              code: -1,
              start: undefined,
              end: undefined,
              child: undefined
            }
          ])
        )
      }
      this.commands.set(commandId, command)
      this.schedule(command)
      return {
        Command: {
          CommandId: commandId,
          DocumentName: params.DocumentName,
          Comment: command.comment,
          InstanceIds: ids,
          RequestedDateTime: requested,
          Status: 'Pending',
          StatusDetails: 'Pending',
          MaxConcurrency: command.maxConcurrency,
          MaxErrors: command.maxErrors,
          TargetCount: ids.length,
          TimeoutSeconds: command.timeoutSeconds
        }
      }
    },

    ListCommandInvocations(params) {
      const command = this.command(params.CommandId)
      let invocations = [...command.invocations.values()]
      if (params.InstanceId)
        invocations = invocations.filter(i => i.instanceId === params.InstanceId)
      // A Pending invocation waits for some polls before it runs, when told to.
      for (const invocation of invocations)
        if (invocation.status === 'Pending' && invocation.pendingPolls > 0)
          invocation.pendingPolls--
      this.schedule(command)
      const max = params.MaxResults ?? 50
      if (max < 1 || max > 50) throw validation('MaxResults must be between 1 and 50.')
      const items = invocations.map(i => invocationJson(command, i, Boolean(params.Details)))
      const { page, next } = paginate(items, params.NextToken, Math.min(max, this.pageSize))
      return { CommandInvocations: page, ...(next ? { NextToken: next } : {}) }
    },

    GetCommandInvocation(params) {
      const command = this.commands.get(params.CommandId)
      const invocation = command?.invocations.get(params.InstanceId)
      if (!command || !invocation) throw new SsmError('InvocationDoesNotExist', '')
      return {
        CommandId: command.commandId,
        InstanceId: invocation.instanceId,
        Comment: command.comment,
        DocumentName: 'AWS-RunShellScript',
        DocumentVersion: '$DEFAULT',
        PluginName: PLUGIN,
        ResponseCode: invocation.code,
        ExecutionStartDateTime: invocation.start ? new Date(invocation.start).toISOString() : '',
        ExecutionElapsedTime: invocation.end
          ? `PT${((invocation.end - (invocation.start ?? invocation.end)) / 1000).toFixed(3)}S`
          : '',
        ExecutionEndDateTime: invocation.end ? new Date(invocation.end).toISOString() : '',
        Status: invocation.status,
        StatusDetails: invocation.details,
        StandardOutputContent: invocation.stdout.slice(0, CONTENT_LIMIT),
        StandardOutputUrl: '',
        StandardErrorContent: invocation.stderr.slice(0, CONTENT_LIMIT),
        StandardErrorUrl: ''
      }
    },

    CancelCommand(params) {
      const command = this.command(params.CommandId)
      for (const invocation of command.invocations.values()) {
        if (params.InstanceIds?.length && !params.InstanceIds.includes(invocation.instanceId))
          continue
        if (FINAL.has(invocation.status)) continue
        if (invocation.child) killGroup(invocation.child)
        finish(invocation, 'Cancelled', 'Cancelled', -1)
      }
      return {}
    }
  }

  /** @param {unknown} commandId */
  command(commandId) {
    const command = this.commands.get(String(commandId ?? ''))
    if (!command) throw new SsmError('InvalidCommandId', '')
    return command
  }

  /**
   * Starts as many Pending invocations as MaxConcurrency allows, unless MaxErrors is exceeded.
   * @param {Command} command
   */
  schedule(command) {
    const invocations = [...command.invocations.values()]
    const total = invocations.length
    const limit = Math.max(1, rateOf(command.maxConcurrency, total))
    const allowedErrors = rateOf(command.maxErrors, total)
    for (const invocation of invocations) {
      if (invocation.status !== 'Pending' || invocation.pendingPolls > 0) continue
      if (command.errors > allowedErrors) {
        finish(invocation, 'Cancelled', 'Cancelled', -1)
        continue
      }
      if (invocations.filter(i => i.status === 'InProgress').length >= limit) break
      this.run(command, invocation)
    }
  }

  /** @param {Command} command @param {Invocation} invocation */
  run(command, invocation) {
    const behaviour = this.agents.get(invocation.instanceId) ?? { infoPolls: 0 }
    if (behaviour.agent === 'offline' || behaviour.outcome === 'undeliverable') {
      finish(invocation, 'Failed', 'Undeliverable', -1)
      return
    }
    invocation.start = Date.now()
    invocation.status = 'InProgress'
    invocation.details = 'InProgress'
    const dir = this.instanceDir(invocation.instanceId, behaviour)
    const script = path.join(dir, `${command.commandId}.sh`)
    writeFileSync(script, `${command.script}\n`)
    const own = behaviour.ownDirectory
    // The child is still the script's shell: the mount's wrapper execs it.
    const program = own
      ? withOwnDirectory(own.files, own.path, ['/bin/sh', script])
      : ['/bin/sh', script]
    const child = spawn(program[0], program.slice(1), {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`, HOME: dir, LANG: 'C' }
    })
    invocation.child = child
    this.children.add(child)
    child.stdout.on('data', chunk => (invocation.stdout += chunk))
    child.stderr.on('data', chunk => (invocation.stderr += chunk))
    const timeoutMs =
      behaviour.outcome === 'timeout' && behaviour.timeoutAfterMs !== undefined
        ? behaviour.timeoutAfterMs
        : command.executionTimeout * 1000
    const timer = setTimeout(() => {
      killGroup(child)
      finish(invocation, 'TimedOut', 'ExecutionTimedOut', -1)
      command.errors++
      this.schedule(command)
    }, timeoutMs)
    child.on('close', code => {
      clearTimeout(timer)
      this.children.delete(child)
      invocation.child = undefined
      if (FINAL.has(invocation.status)) return
      if (code === 0) finish(invocation, 'Success', 'Success', 0)
      else finish(invocation, 'Failed', 'Failed', code ?? -1)
      if (invocation.status !== 'Success') command.errors++
      this.schedule(command)
    })
  }

  /**
   * The instance's own directory: stand-ins, their behaviour and their recording.
   * @param {string} instanceId @param {SsmBehaviour} behaviour
   */
  instanceDir(instanceId, behaviour) {
    this.root ??= mkdtempSync(path.join(tmpdir(), 'local-ssm-'))
    const dir = path.join(this.root, instanceId)
    const bin = path.join(dir, 'bin')
    mkdirSync(bin, { recursive: true })
    const calls = path.join(dir, 'calls')
    const record = `record() { { printf '%s${FIELD}' "\${0##*/}" "$@"; printf '\\n'; } >> ${shellQuote(calls)}; }`
    writeFileSync(
      path.join(bin, 'sudo'),
      `#!/bin/sh\n${record}\nrecord "$@"\nwhile [ "\${1#-}" != "$1" ]; do shift; done\nexec "$@"\n`,
      { mode: 0o755 }
    )
    const outcome = behaviour.outcome ?? 'success'
    const restart =
      outcome === 'timeout'
        ? 'echo restarting; exec sleep 300'
        : outcome === 'failure'
          ? `printf '%s\\n' ${shellQuote(behaviour.stderr ?? 'Job for unit failed.')} >&2; exit ${Number(behaviour.exitCode ?? 1)}`
          : 'exit 0'
    const stdout = behaviour.stdout ? `printf '%s\\n' ${shellQuote(behaviour.stdout)}` : ':'
    const unitState = shellQuote(path.join(dir, 'unit-state'))
    const start = behaviour.onRestart
      ? `if /bin/sh -c ${shellQuote(behaviour.onRestart)} >/dev/null 2>&1; then echo active; else echo failed; fi > ${unitState}`
      : ':'
    const isActive = behaviour.onRestart
      ? `state=$(cat ${unitState} 2>/dev/null || echo active); echo "$state"; [ "$state" = active ] && exit 0; exit 3`
      : 'echo active; exit 0'
    writeFileSync(
      path.join(bin, 'systemctl'),
      [
        '#!/bin/sh',
        record,
        'record "$@"',
        'case "$1" in',
        `  restart) ${stdout}; ${start}; ${restart} ;;`,
        `  is-active) ${isActive} ;;`,
        `  status) printf '%s\\n' ${shellQuote(behaviour.status ?? FAILED_STATUS)}; exit 3 ;;`,
        '  *) echo "systemctl stand-in: unsupported verb $1" >&2; exit 1 ;;',
        'esac',
        ''
      ].join('\n'),
      { mode: 0o755 }
    )
    // AWS-RunShellScript runs as root: the whole journal is readable.
    writeFileSync(
      path.join(bin, 'journalctl'),
      `#!/bin/sh\n${record}\nrecord "$@"\nprintf '%s\\n' ${shellQuote(behaviour.journal ?? FAILED_JOURNAL)}\n`,
      { mode: 0o755 }
    )
    return dir
  }
}

/** @param {Invocation} invocation @param {string} status @param {string} details @param {number} code */
function finish(invocation, status, details, code) {
  invocation.status = status
  invocation.details = details
  invocation.code = code
  // One that never ran (cancelled while Pending, undeliverable) has no start or end time.
  if (invocation.start !== undefined) invocation.end = Date.now()
}

/**
 * One item of ListCommandInvocations, with the plugin's short output when Details is set.
 * @param {Command} command @param {Invocation} invocation @param {boolean} details
 */
function invocationJson(command, invocation, details) {
  let output = invocation.stdout
  if (invocation.stderr) output += `\n----------ERROR-------\n${invocation.stderr}`
  if (output.length > PLUGIN_OUTPUT_LIMIT) output = output.slice(0, PLUGIN_OUTPUT_LIMIT) + TRUNCATED
  return {
    CommandId: command.commandId,
    InstanceId: invocation.instanceId,
    InstanceName: '',
    Comment: command.comment,
    DocumentName: 'AWS-RunShellScript',
    DocumentVersion: '$DEFAULT',
    RequestedDateTime: command.requested,
    Status: invocation.status,
    StatusDetails: invocation.details,
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    CommandPlugins: details
      ? [
          {
            Name: PLUGIN,
            Status: invocation.status,
            StatusDetails: invocation.details,
            ResponseCode: invocation.code,
            ...(invocation.start ? { ResponseStartDateTime: invocation.start / 1000 } : {}),
            ...(invocation.end ? { ResponseFinishDateTime: invocation.end / 1000 } : {}),
            Output: output
          }
        ]
      : []
  }
}

/** @param {any} params */
function instanceIdFilter(params) {
  const filters = [...(params.Filters ?? []), ...(params.InstanceInformationFilterList ?? [])]
  const filter = filters.find(f => f.Key === 'InstanceIds' || f.key === 'InstanceIds')
  return filter ? (filter.Values ?? filter.valueSet) : undefined
}

/** @param {unknown[]} items @param {string | undefined} token @param {number} size */
function paginate(items, token, size) {
  const start = token ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0
  if (!Number.isInteger(start) || start < 0) throw new SsmError('InvalidNextToken', '')
  const end = start + size
  return {
    page: items.slice(start, end),
    next: end < items.length ? Buffer.from(String(end)).toString('base64') : undefined
  }
}

/** @param {string} rate @param {number} total */
function rateOf(rate, total) {
  return rate.endsWith('%') ? Math.floor((Number(rate.slice(0, -1)) * total) / 100) : Number(rate)
}

/** @param {string} message */
function validation(message) {
  return new SsmError('ValidationException', message)
}

/** @param {import('node:child_process').ChildProcess} child */
function killGroup(child) {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

/** @param {string} value */
function shellQuote(value) {
  return `'${value.replaceAll("'", "'\\''")}'`
}
