import { randomBytes } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ActionError } from '../lib/errors.js'
import { shown } from './io.js'

// The files the command line writes hold secret values (a backup, an export): only their owner
// may read them, and one is never replaced by surprise.

export interface PrivateFileOptions {
  /** Replace a file that exists (by renaming a new one over it: a link there is not followed). */
  replace?: boolean
  /** What to say when the file exists and may not be replaced. */
  exists: string
}

async function createNew(path: string, text: string, exists: string): Promise<void> {
  let handle
  try {
    // 'wx': fails when the file exists, so a file is never replaced by surprise.
    handle = await open(path, 'wx', 0o600)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ActionError(
      code === 'EEXIST'
        ? exists
        : `Cannot create "${shown(path)}" (${code}): check the folder exists and is writable.`
    )
  }
  try {
    // The mode given to open() is narrowed by the umask, never widened: set it exactly.
    await handle.chmod(0o600)
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
}

/** Writes `text` into a new file of mode 0600 at `path`; with `replace`, over the one there. */
export async function writePrivateFile(
  path: string,
  text: string,
  options: PrivateFileOptions
): Promise<void> {
  if (!options.replace) return createNew(path, text, options.exists)
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`)
  await createNew(temporary, text, options.exists)
  try {
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw new ActionError(
      `Cannot replace "${shown(path)}" (${(error as NodeJS.ErrnoException).code}): check it is a file in a writable folder.`
    )
  }
}

/** Read in pieces of this size, so that memory grows only with what the file really holds. */
const READ_CHUNK_BYTES = 64 * 1024

function fileKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isFIFO()) return 'a named pipe'
  if (stats.isSocket()) return 'a socket'
  return 'a special file'
}

export interface ReadFileRules {
  maxBytes: number
  /** The message for a file larger than `maxBytes`. */
  tooLarge: string
  /** The message for something other than a regular file, given what it is ("a folder"). */
  notRegular: (kind: string) => string
}

/**
 * The bytes of a regular file (a symbolic link to one is followed), at most `maxBytes`, read in a
 * loop that stops there. The size fstat gives is no bound on its own: a device such as /dev/zero
 * says 0 and never ends, and so can a file under /proc.
 */
export async function readRegularFile(file: string, rules: ReadFileRules): Promise<Buffer> {
  const cannotRead = (error: unknown) =>
    new ActionError(`Cannot read "${shown(file)}" (${(error as NodeJS.ErrnoException).code}).`)
  let handle: FileHandle
  try {
    // O_NONBLOCK: opening a named pipe would otherwise wait for a writer; files ignore the flag.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    throw cannotRead(error)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) throw new ActionError(rules.notRegular(fileKind(stats)))
    if (stats.size > rules.maxBytes) throw new ActionError(rules.tooLarge)
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      // One byte past the limit is enough to know the file is too large.
      const chunk = Buffer.alloc(Math.min(READ_CHUNK_BYTES, rules.maxBytes + 1 - total))
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > rules.maxBytes) throw new ActionError(rules.tooLarge)
      chunks.push(chunk.subarray(0, bytesRead))
    }
    return Buffer.concat(chunks, total)
  } catch (error) {
    throw error instanceof ActionError ? error : cannotRead(error)
  } finally {
    await handle.close()
  }
}
