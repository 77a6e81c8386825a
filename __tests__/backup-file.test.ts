import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readBackupFile } from '../src/cli/backup.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sd-backup-file-'))
})
afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

const LIMIT = 16 * 1024 * 1024

describe('readBackupFile', () => {
  it('reads a regular file, also through a symbolic link, up to the limit', async () => {
    const file = join(dir, 'backup.json')
    writeFileSync(file, '{"format":"secrets-deploy-backup/1"}\n')
    expect((await readBackupFile(file)).toString()).toBe('{"format":"secrets-deploy-backup/1"}\n')
    const link = join(dir, 'link.json')
    symlinkSync(file, link)
    expect((await readBackupFile(link)).toString()).toContain('secrets-deploy-backup/1')
    const full = join(dir, 'full.json')
    writeFileSync(full, '')
    truncateSync(full, LIMIT)
    expect((await readBackupFile(full)).length).toBe(LIMIT)
  })

  it('refuses a file one byte over the limit', async () => {
    const large = join(dir, 'large.json')
    writeFileSync(large, '')
    truncateSync(large, LIMIT + 1)
    await expect(readBackupFile(large)).rejects.toThrow(
      `"${large}" is larger than any backup (${LIMIT} bytes): not a backup file.`
    )
  })

  it.each([
    [
      'a symbolic link to /dev/zero',
      'a character device',
      (path: string) => symlinkSync('/dev/zero', path)
    ],
    [
      'a named pipe no one writes to',
      'a named pipe',
      (path: string) => execFileSync('mkfifo', [path])
    ],
    ['a folder', 'a folder', (path: string) => execFileSync('mkdir', [path])]
  ])('refuses %s before reading from it', async (_what, kind, make) => {
    const path = join(dir, 'backup.json')
    make(path)
    await expect(readBackupFile(path)).rejects.toThrow(
      `"${path}" is ${kind}, not a regular file: not a backup. Give the file that "secrets-deploy backup --out" wrote.`
    )
  })

  it('says why a file cannot be opened', async () => {
    await expect(readBackupFile(join(dir, 'missing.json'))).rejects.toThrow(
      `Cannot read "${join(dir, 'missing.json')}" (ENOENT).`
    )
  })
})
