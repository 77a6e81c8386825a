import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findCommand } from '../src/cli/command-path.js'

// Every file execve(2) would refuse makes process.execve abort the whole process on the Node
// releases out today: findCommand must refuse each first, with a message, and pass what runs.

let dir: string
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'command-path-')))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, content: string | Buffer, mode = 0o755): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode)
  return path
}

/** This machine's own /bin/true, an ELF program, with some bytes changed. */
function patchedTrue(name: string, patch: (program: Buffer) => void): string {
  const program = readFileSync('/bin/true')
  patch(program)
  return file(name, program)
}

const SH = findCommand('sh', process.env.PATH, '/')

describe('findCommand', () => {
  it('finds a command on PATH as execvp does, skipping what is not executable', () => {
    mkdirSync(join(dir, 'a'))
    mkdirSync(join(dir, 'b'))
    file('a/tool', '#!/bin/sh\n', 0o644)
    const tool = file('b/tool', '#!/bin/sh\necho hi\n')
    expect(findCommand('tool', `${dir}/missing:${dir}/a:${dir}/b`, dir)).toBe(tool)
    // An empty entry is the current directory.
    expect(findCommand('tool', `/nonexistent::${dir}/a`, join(dir, 'b'))).toBe(tool)
    expect(SH).toMatch(/\/sh$/)
  })

  it('takes a path as given, relative to the directory', () => {
    const script = file('run.sh', '#!/bin/sh\nexit 0\n')
    expect(findCommand('./run.sh', '', dir)).toBe(script)
    expect(findCommand(script, '', '/')).toBe(script)
  })

  it.each([
    ['a command not on PATH', 'no-such-tool', '"no-such-tool" was not found on PATH'],
    ['a path that does not exist', './missing', '"./missing" does not exist'],
    ['a folder', '/tmp', '"/tmp" is not a regular file']
  ])('refuses %s', (_what, command, message) => {
    expect(() => findCommand(command, '/nonexistent', dir)).toThrow(message)
  })

  it('refuses a file that is not executable, on PATH or by path', () => {
    file('plain.sh', '#!/bin/sh\n', 0o644)
    expect(() => findCommand('./plain.sh', '', dir)).toThrow(
      '"./plain.sh" is not executable (chmod +x it, or give its interpreter first: -- sh ./plain.sh).'
    )
    expect(() => findCommand('plain.sh', dir, dir)).toThrow(
      `"plain.sh" on PATH (${dir}/plain.sh) is not executable.`
    )
  })

  it('refuses a script without "#!", which only a shell would run', () => {
    file('noshebang', 'echo hi\n')
    expect(() => findCommand('./noshebang', '', dir)).toThrow(
      '"./noshebang" has no "#!" line and is not a compiled program'
    )
  })

  it('checks the interpreter of a "#!" line, a script as interpreter, and Windows line endings', () => {
    file('python9', '#!/usr/bin/python9-does-not-exist\n')
    expect(() => findCommand('./python9', '', dir)).toThrow(
      '"./python9" names the interpreter "/usr/bin/python9-does-not-exist" in its "#!" line, which does not exist'
    )
    const inner = file('inner', `#!${SH}\n`)
    const outer = file('outer', `#! ${inner} -x\n`)
    expect(findCommand('./outer', '', dir)).toBe(outer)
    file('crlf', `#!${SH}\r\necho hi\r\n`)
    expect(() => findCommand('./crlf', '', dir)).toThrow(
      'ends with a carriage return (Windows line endings)'
    )
    file('empty-shebang', '#!\n')
    expect(() => findCommand('./empty-shebang', '', dir)).toThrow('names no interpreter')
    let previous = SH
    for (let level = 0; level < 6; level++) previous = file(`level${level}`, `#!${previous}\n`)
    expect(() => findCommand(previous, '', dir)).toThrow('too many levels')
  })

  it('runs a real ELF program, refuses one whose loader is missing or built for another machine', () => {
    expect(findCommand('/bin/true', '', dir)).toBe('/bin/true')
    // The loader the program names (PT_INTERP), e.g. /lib64/ld-linux-x86-64.so.2, renamed.
    const noLoader = patchedTrue('no-loader', program => {
      const at = program.indexOf('/ld-')
      expect(at).toBeGreaterThan(0)
      program.write('/xx-', at, 'latin1')
    })
    expect(() => findCommand(noLoader, '', dir)).toThrow(
      /needs the program loader ".*\/xx-.*", which this machine does not have/
    )
    const otherMachine = patchedTrue('other-machine', program => program.writeUInt16LE(0x5678, 18))
    expect(() => findCommand(otherMachine, '', dir)).toThrow(
      'is a program for another kind of processor (ELF machine 22136)'
    )
    const object = patchedTrue('object-file', program => program.writeUInt16LE(1, 16))
    expect(() => findCommand(object, '', dir)).toThrow('is an ELF file but not a program (type 1)')
    const cut = file('cut-elf', readFileSync('/bin/true').subarray(0, 20))
    expect(() => findCommand(cut, '', dir)).toThrow('is a damaged program')
  })
})
