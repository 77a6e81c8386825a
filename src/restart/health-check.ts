import { quote } from 'shell-quote'
import type { HealthSettings } from '../release/settings.js'

// The check after a restart, retried on the instance itself until it passes or its time is up:
// one remote command, so the waits cost no round trips, and the service's port need not be open
// to the runner (curl runs on the instance). Backoff: 1, 2, 4, 8, 8, ... seconds.

const RETRY = `limit=$1; kind=$2; target=$3
start=$(date +%s); delay=1; tries=0
while :; do
  tries=$((tries + 1))
  if [ "$kind" = url ]; then
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$target")
    case "$code" in 2[0-9][0-9]) echo "$target answered HTTP $code (try $tries)"; exit 0 ;; esac
    last="HTTP $code"
  else
    sh -c "$target" && exit 0
    last="exit code $?"
  fi
  now=$(date +%s)
  if [ $((now - start + delay)) -gt "$limit" ]; then
    echo "Not healthy within $limit s ($tries tries); the last: $last" >&2
    exit 1
  fi
  sleep "$delay"
  delay=$((delay * 2)); [ "$delay" -le 8 ] || delay=8
done`

/**
 * The health check's command, or undefined for the plain one-shot checks (`systemctl is-active`,
 * or the health command once): a URL probed until 2xx, or the health command until it passes,
 * within `health.timeoutSeconds`.
 */
export function retriedCheck(health: HealthSettings, healthCommand: string): string | undefined {
  if (health.timeoutSeconds === undefined && health.url === '') return undefined
  const limit = health.timeoutSeconds ?? 60
  if (health.url !== '')
    return quote(['sh', '-c', RETRY, 'health-check', String(limit), 'url', health.url])
  if (healthCommand !== '')
    return quote(['sh', '-c', RETRY, 'health-check', String(limit), 'command', healthCommand])
  return undefined
}
