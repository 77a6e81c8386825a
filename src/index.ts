import { abortOnSignals } from './lib/cancel.js'
import { actionLogger } from './lib/log.js'
import { run } from './action/main.js'

const signal = abortOnSignals(actionLogger)
await run({ signal })
// A stopped run may still hold a connection or a timer: it has reported, so end it now (with the
// exit code run() set).
if (signal.aborted) process.exit()
