#!/usr/bin/env node
// Stands for the service on the instance at its start: like a FastAPI app whose settings
// (pydantic-settings) are read once, it reads the app secret from Secrets Manager (the local
// endpoint, over the real JSON 1.1 protocol) and loads one key. `systemctl restart`'s stand-in
// runs it (sshd.js, behaviour onRestart), and its exit code is the unit's state. It records what it
// loaded as a SHA-256 digest, never the value, and comes up (exits 0) unless <state>/accept lists
// digests and the value it loaded is not one of them: a service that does not come back with a
// new key.
//
//   node secret-reading-service.js <endpoint> <secret-id> <key> <state-dir>
// Test support only.

import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** @param {string} value */
export function digest(value) {
  return createHash('sha256').update(value).digest('hex')
}

/**
 * @param {string} endpoint @param {string} secretId @param {string} key @param {string} stateDir
 */
export async function startService(endpoint, secretId, key, stateDir) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'secretsmanager.GetSecretValue'
    },
    body: JSON.stringify({ SecretId: secretId })
  })
  const answer = /** @type {{ SecretString?: string }} */ (await response.json())
  const values = JSON.parse(answer.SecretString ?? '{}')
  const loaded = digest(String(values[key]))
  appendFileSync(path.join(stateDir, 'loaded'), `${loaded}\n`)
  const acceptFile = path.join(stateDir, 'accept')
  const accepted =
    !existsSync(acceptFile) || readFileSync(acceptFile, 'utf8').split('\n').includes(loaded)
  return accepted
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const [endpoint, secretId, key, stateDir] = process.argv.slice(2)
  process.exitCode = (await startService(endpoint, secretId, key, stateDir)) ? 0 : 1
}
