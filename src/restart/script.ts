import { quote } from 'shell-quote'
import { ActionError } from '../lib/errors.js'
import type { HealthSettings } from '../release/settings.js'
import { retriedCheck } from './health-check.js'
import { failureLogsCommand, failureLogsMarker } from './failure-logs.js'

/** A systemd unit name that checkServiceName accepted: the only kind a restart script takes. */
export type UnitName = string & { readonly checkedUnitName: unique symbol }

// systemd's own limit and alphabet for unit names (systemd.unit(5)); `@` for template instances.
const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+$/
const UNIT_NAME_MAX = 255

/** Returns `service` as a unit name, or throws: it ends up on a remote command line. */
export function checkServiceName(service: string): UnitName {
  if (service.length > UNIT_NAME_MAX || !UNIT_NAME.test(service) || service.startsWith('-')) {
    throw new ActionError(
      `Input "service" must be a systemd unit name such as "fastapi" or "fastapi.service" (letters, ` +
        `digits and ":_.@-\\", at most ${UNIT_NAME_MAX} characters, not starting with "-"), ` +
        `not ${JSON.stringify(service)}.`
    )
  }
  return service as UnitName
}

/**
 * "Restart, then check", as each transport runs it; built once, in the plan, from the checked
 * unit name and the workflow's own health command, each quoted as one word (shell-quote), never
 * from text out of a secret.
 */
export interface RestartScript {
  readonly unit: UnitName
  /** The check is the workflow's input "health-command", not `systemctl is-active`. */
  readonly healthCommand: boolean
  /** Input "health-url": the check probes it with curl on the instance. */
  readonly healthUrl: boolean
  /** Seconds the check retries for (input "health-timeout"); undefined: it runs once. */
  readonly checkSeconds?: number
  /**
   * Over SSH, two steps: the login user is not root, so the restart goes through `sudo -n`
   * (which fails at once instead of asking for a password), then the check as that user.
   */
  readonly sshSteps: { readonly restart: string; readonly check: string }
  /**
   * For AWS-RunShellScript, which runs as root: one line, since it goes on after a failed line,
   * and the check must not run then.
   */
  readonly runCommandLines: readonly string[]
  /**
   * Input "failure-logs": what a failed restart or check runs to say why (failure-logs.ts), and
   * the token that marks its parts in the output; undefined when the input is false.
   */
  readonly failureLogs?: { readonly command: string; readonly marker: string }
}

/** How a restart that passed its check is told in the summary: what the check was. */
export function checkedWords(script: RestartScript): string {
  if (script.healthUrl) return 'health-url answered'
  return script.healthCommand ? 'health command passed' : 'active'
}

export function restartScript(
  unit: UnitName,
  healthCommand: string,
  health: HealthSettings = { url: '' },
  failureLogs = false
): RestartScript {
  const restart = quote(['systemctl', 'restart', '--', unit])
  const retried = retriedCheck(health, healthCommand)
  const check =
    retried ??
    (healthCommand
      ? quote(['sh', '-c', healthCommand])
      : quote(['systemctl', 'is-active', '--', unit]))
  const marker = failureLogsMarker()
  const logs = failureLogs ? { command: failureLogsCommand(unit, marker), marker } : undefined
  return {
    unit,
    healthCommand: healthCommand !== '' && health.url === '',
    healthUrl: health.url !== '',
    checkSeconds: retried === undefined ? undefined : (health.timeoutSeconds ?? 60),
    sshSteps: { restart: `sudo -n ${restart}`, check },
    // Run Command has no second round trip: the logs come in the same command, which still
    // exits with the failure's code.
    runCommandLines: [
      logs
        ? `${restart} && ${check} || { s=$?; ${logs.command}; exit "$s"; }`
        : `${restart} && ${check}`
    ],
    ...(logs ? { failureLogs: logs } : {})
  }
}
