#!/usr/bin/env node
// The command line's entry point (dist/cli/index.js): a program of its own, so the action's
// bundle never loads it.
import { keepMasksLocal } from '../lib/log.js'
import { processIo } from './io.js'
import { runCli } from './program.js'
import packageJson from '../../package.json' with { type: 'json' }

// No runner reads this output: an ::add-mask:: line would print the very value it hides.
keepMasksLocal()
process.exitCode = await runCli(process.argv.slice(2), processIo(), packageJson.version)
