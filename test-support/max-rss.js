// Preloaded into a child process (NODE_OPTIONS=--import=<this file>) so that a test can tell how
// much memory it used: on exit, the process's peak resident set size in kilobytes
// (process.resourceUsage().maxRSS, getrusage's ru_maxrss) is written to the file MAX_RSS_FILE names.
import { writeFileSync } from 'node:fs'

const file = process.env.MAX_RSS_FILE
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)))
