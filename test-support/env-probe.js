// The command `secrets-deploy exec` runs in the tests. It prints nothing (what it sees is asserted
// from the file, never from the command line's output) and writes to the file its first argument
// names: its pid and parent's, its argv as the kernel holds it, its environment, and whether its
// standard input, output and error are in non-blocking mode (O_NONBLOCK in /proc/self/fdinfo).
// Then, by its second argument: `exit N`, `signal NAME` (dies by it), `wait` (until SIGTERM,
// which it answers with exit 42), or nothing (exit 0).
import { readFileSync, writeFileSync } from 'node:fs'

const [out, mode, arg] = process.argv.slice(2)
if (mode === 'wait') {
  // Ready for SIGTERM before the file says it runs.
  process.on('SIGTERM', () => process.exit(42))
  setInterval(() => undefined, 1000)
}
/** @param {number} fd */
const nonBlocking = fd => {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
  return flags ? (Number.parseInt(flags[1], 8) & 0o4000) !== 0 : undefined
}
writeFileSync(
  out,
  JSON.stringify({
    pid: process.pid,
    ppid: process.ppid,
    cmdline: readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1),
    env: process.env,
    nonBlocking: [0, 1, 2].map(nonBlocking)
  })
)
if (mode === 'exit') process.exit(Number(arg))
if (mode === 'signal') process.kill(process.pid, /** @type {NodeJS.Signals} */ (arg))
