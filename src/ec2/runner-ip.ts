import http from 'node:http'
import https from 'node:https'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted } from '../lib/log.js'
import { plainAddress, publicAddressProblem } from './runner-address.js'

// Asks input "runner-ip-url" for the runner's public address. Apart from the checks
// (runner-address.ts), which the inputs use: node:http and node:https load only for open-ingress.

const MAX_ANSWER_BYTES = 256
const TIMEOUT_MS = 10_000

/**
 * The runner's public address: the local address of the connection to `url` where that is a public
 * one (the runner is not behind NAT), else the service's answer, checked.
 */
export async function runnerAddress(url: URL): Promise<string> {
  return chooseAddress(url, await fetchAnswer(url))
}

/** The connection's own local address when it is public, else the answer, which must be one. */
export function chooseAddress(
  url: URL,
  { body, localAddress }: { body: string; localAddress?: string }
): string {
  if (localAddress && publicAddressProblem(localAddress) === undefined) {
    return plainAddress(localAddress)
  }
  const answer = body.trim()
  const problem = publicAddressProblem(answer)
  if (problem === undefined) return plainAddress(answer)
  throw new ActionError(
    `${url.origin} (input "runner-ip-url") answered ${JSON.stringify(quoteUntrusted(answer, 100))}, ` +
      `which is ${problem}: input "open-ingress" opens the door for one public address only. Give ` +
      'a "runner-ip-url" that answers with the address the instance sees the runner come from.'
  )
}

function fetchAnswer(url: URL): Promise<{ body: string; localAddress?: string }> {
  const failed = (why: string) =>
    new ActionError(
      `Could not learn the runner's public address from ${url.origin} (input "runner-ip-url"): ${why}.`
    )
  const get = url.protocol === 'https:' ? https.get : http.get
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: TIMEOUT_MS, headers: { accept: 'text/plain' } }, res => {
      const localAddress = res.socket.localAddress
      if (res.statusCode !== 200) {
        res.resume()
        return reject(failed(`it answered HTTP ${res.statusCode}`))
      }
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        // One address is a few dozen bytes: more is not an answer, and is not kept.
        if (bytes > MAX_ANSWER_BYTES) {
          request.destroy()
          return reject(failed(`its answer is longer than ${MAX_ANSWER_BYTES} bytes`))
        }
        chunks.push(chunk)
      })
      res.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8'), localAddress }))
      res.on('error', error => reject(failed(quoteUntrusted(error.message))))
    })
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`))
    )
    request.on('error', error => reject(failed(quoteUntrusted(error.message))))
  })
}
