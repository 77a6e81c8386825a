// Loaded with `node --import` by the benchmark: when the process exits, appends its own CPU time
// (user + system, ms) to the file named by BENCH_CPU_FILE, so that the action's cost can be told
// apart from that of the servers it talks to on the same machine.
import { appendFileSync } from 'node:fs'

const file = process.env.BENCH_CPU_FILE
if (file) {
  process.on('exit', () => {
    const { user, system } = process.cpuUsage()
    appendFileSync(file, `${(user + system) / 1000}\n`)
  })
}
