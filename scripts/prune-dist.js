// Runs after ncc: removes what ncc copies into dist/ that the action never loads.
// pagent.exe is ssh2's Windows helper for PuTTY's agent (Pageant); the action logs in with the
// key it is given and never asks an agent, so it is dead weight, and security scanners flag
// executables in action repositories.
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const NEVER_SHIPPED = ['pagent.exe']

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
for (const name of NEVER_SHIPPED) rmSync(`${dist}${name}`, { force: true })
