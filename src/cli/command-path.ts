import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { ActionError } from '../lib/errors.js'
import { shown } from './io.js'

// process.execve() does no PATH lookup, and on the Node releases out today a call the kernel
// refuses aborts the whole process (with a core dump where they are on) instead of throwing. So a
// command is found on PATH here, and everything execve(2) would refuse for is checked first: the
// file, its permission, and what the kernel runs it with (a "#!" line's interpreter, an ELF
// program's loader and machine).

/** The kernel reads at most this much of a "#!" line (BINPRM_BUF_SIZE, Linux 5.1 and later). */
const SHEBANG_BYTES = 256
/** Linux runs an interpreter that is itself a script, a few levels deep. */
const MAX_INTERPRETER_DEPTH = 4
/** execvp's search path when PATH is unset (confstr _CS_PATH). */
const DEFAULT_PATH = '/bin:/usr/bin'

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46])
const ET_EXEC = 2
const ET_DYN = 3
const PT_INTERP = 3
/** e_machine values this Node can run, by process.arch: its own, and the 32-bit one beside it. */
const ELF_MACHINES: Partial<Record<NodeJS.Architecture, number[]>> = {
  x64: [62, 3],
  ia32: [3],
  arm64: [183, 40],
  arm: [40],
  riscv64: [243],
  ppc64: [21],
  s390x: [22],
  loong64: [258]
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isExecutable(path: string): boolean {
  try {
    // access(2): also false on a file system mounted noexec, where execve(2) fails too.
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first bytes of a file, up to `length`. */
function head(path: string, length: number, offset = 0): Buffer {
  const fd = openSync(path, 'r')
  try {
    const buffer = Buffer.alloc(length)
    const read = readSync(fd, buffer, 0, length, offset)
    return buffer.subarray(0, read)
  } finally {
    closeSync(fd)
  }
}

/**
 * The file the command names: a path as given (relative to `cwd`), else the first executable file
 * of that name in a directory of `searchPath`, as execvp(3) searches (an empty entry is `cwd`).
 */
export function findCommand(command: string, searchPath: string | undefined, cwd: string): string {
  if (command === '') throw new ActionError('The command is empty; give it after "--".')
  if (command.includes('/')) {
    const file = resolve(cwd, command)
    if (!isFile(file)) {
      throw new ActionError(
        `"${shown(command)}" ${statSafe(file) ? 'is not a regular file' : 'does not exist'}; give the path of a program.`
      )
    }
    if (!isExecutable(file))
      throw new ActionError(
        `"${shown(command)}" is not executable (chmod +x it, or give its interpreter first: -- sh ${shown(command)}).`
      )
    return checkRunnable(file, command)
  }
  let notExecutable: string | undefined
  for (const dir of (searchPath ?? DEFAULT_PATH).split(':')) {
    const file = resolve(cwd, dir || '.', command)
    if (!isFile(file)) continue
    if (isExecutable(file)) return checkRunnable(file, command)
    notExecutable ??= file
  }
  throw new ActionError(
    notExecutable
      ? `"${shown(command)}" on PATH (${shown(notExecutable)}) is not executable.`
      : `"${shown(command)}" was not found on PATH; give its path, or check PATH.`
  )
}

function statSafe(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

/**
 * Checks that the kernel can run `file`: a "#!" line naming an executable interpreter, or an ELF
 * program for this machine whose loader exists. Anything else execve(2) refuses (ENOEXEC), where
 * a shell would have run it with sh.
 */
function checkRunnable(file: string, command: string, depth = 0): string {
  const start = head(file, SHEBANG_BYTES)
  if (start.subarray(0, 2).toString('latin1') === '#!') {
    // As the kernel reads it: blanks around, the interpreter up to the next blank; a "\r" stays.
    const line = start.subarray(2).toString('utf8').split('\n')[0]
    const interpreter = line.replace(/^[ \t]+/, '').split(/[ \t]/)[0]
    if (!interpreter)
      throw new ActionError(`"${shown(command)}" has a "#!" line that names no interpreter.`)
    if (interpreter.endsWith('\r')) {
      throw new ActionError(
        `The "#!" line of "${shown(command)}" ends with a carriage return (Windows line endings), which the kernel ` +
          "takes as part of the interpreter's name: convert the file to Unix line endings."
      )
    }
    const path = isAbsolute(interpreter) ? interpreter : resolve(interpreter)
    if (!isFile(path) || !isExecutable(path)) {
      throw new ActionError(
        `"${shown(command)}" names the interpreter "${shown(interpreter)}" in its "#!" line, which does not exist or is not executable here.`
      )
    }
    if (depth >= MAX_INTERPRETER_DEPTH)
      throw new ActionError(`"${shown(command)}" has too many levels of "#!" interpreters.`)
    checkRunnable(path, interpreter, depth + 1)
    return file
  }
  if (start.subarray(0, 4).equals(ELF_MAGIC)) {
    checkElf(file, command)
    return file
  }
  throw new ActionError(
    `"${shown(command)}" has no "#!" line and is not a compiled program, so it cannot be run directly: ` +
      `add a "#!" line (e.g. #!/bin/sh), or give its interpreter first (-- sh ${shown(command)}).`
  )
}

/** The ELF header and program headers a kernel reads before it runs a program. */
function checkElf(file: string, command: string): void {
  const header = head(file, 64)
  const wide = header[4] === 2
  const little = header[5] === 1
  const u16 = (b: Buffer, at: number) => (little ? b.readUInt16LE(at) : b.readUInt16BE(at))
  const u32 = (b: Buffer, at: number) => (little ? b.readUInt32LE(at) : b.readUInt32BE(at))
  const word = (b: Buffer, at: number) =>
    wide ? Number(little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at)) : u32(b, at)
  if (header.length < (wide ? 64 : 52))
    throw new ActionError(`"${shown(command)}" is a damaged program (its ELF header is cut short).`)
  const type = u16(header, 16)
  const machine = u16(header, 18)
  if (type !== ET_EXEC && type !== ET_DYN)
    throw new ActionError(`"${shown(command)}" is an ELF file but not a program (type ${type}).`)
  const machines = ELF_MACHINES[process.arch]
  if (machines && !machines.includes(machine)) {
    throw new ActionError(
      `"${shown(command)}" is a program for another kind of processor (ELF machine ${machine}), not for this ${process.arch} machine.`
    )
  }
  const phoff = word(header, wide ? 32 : 28)
  const phentsize = u16(header, wide ? 54 : 42)
  const phnum = u16(header, wide ? 56 : 44)
  const table = head(file, phentsize * phnum, phoff)
  for (let i = 0; i + phentsize <= table.length; i += phentsize) {
    if (u32(table, i) !== PT_INTERP) continue
    const offset = word(table, i + (wide ? 8 : 4))
    const size = word(table, i + (wide ? 32 : 16))
    const loader = head(file, Math.min(size, 4096), offset).toString('utf8').replace(/\0.*$/s, '')
    if (!isFile(loader) || !isExecutable(loader)) {
      throw new ActionError(
        `"${shown(command)}" needs the program loader "${shown(loader)}", which this machine does not have: ` +
          'it was built for another system (another C library or distribution).'
      )
    }
  }
}
