// ncc's ESM bundle gives the CommonJS code it wraps no __dirname or __filename (vercel/ncc#749),
// and ssh2 reads __dirname when it loads. This module is imported first, so they exist by then.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const globals = globalThis as { __dirname?: string; __filename?: string }
globals.__filename ??= fileURLToPath(import.meta.url)
globals.__dirname ??= dirname(globals.__filename)
