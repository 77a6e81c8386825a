// The release's remote commands, run by a real /bin/sh in a temporary app-dir, as sshd runs the
// command line it is given: the layout they leave (releases/<id>, current, the lock), the atomic
// switch, the pruning, the lock's wait, and values built to break quoting kept as plain words.
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  LOCK_DIR,
  lockCommand,
  pruneCommand,
  receiveCommand,
  releaseCommand,
  switchCommand,
  unlockCommand
} from '../src/release/remote-scripts.js'

let root: string
let appDir: string
let source: string

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sda-release-'))
  appDir = join(root, 'opt', 'fastapi')
  mkdirSync(appDir, { recursive: true })
  source = join(root, 'source')
  mkdirSync(join(source, 'app'), { recursive: true })
  writeFileSync(join(source, 'main.py'), 'print("v1")\n')
  writeFileSync(join(source, 'app', 'routes.py'), 'ROUTES = []\n')
})
afterEach(() => {
  chmodSync(appDir, 0o755)
  rmSync(root, { recursive: true, force: true })
})

/** Runs `line` as sshd hands it to the login shell, with `input` on standard input. */
function sh(line: string, input?: Buffer) {
  const result = spawnSync('/bin/sh', ['-c', line], { input, encoding: 'utf8', timeout: 20_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** A tar.gz of the source tree, made by the system's GNU tar as a stand-in for the archive. */
function archive(): Buffer {
  return spawnSync('tar', ['-czf', '-', '-C', source, '.']).stdout
}

const layout = (releaseId: string) => ({ appDir, releaseId })

const REVISION = `${'a'.repeat(40)}\nhttps://github.com/o/r/actions/runs/1`

/** Locks, receives the archive as `releaseId`, and unlocks unless told to keep the lock. */
function ship(releaseId: string, { keepLock = false } = {}) {
  const holder = `release ${releaseId}`
  expect(sh(lockCommand(layout(releaseId), holder, 5, 'MARK')).code).toBe(0)
  const received = sh(receiveCommand(layout(releaseId), REVISION), archive())
  expect(received).toMatchObject({ code: 0 })
  if (!keepLock) expect(sh(unlockCommand(appDir, holder)).code).toBe(0)
  return holder
}

describe('lock', () => {
  it('refuses an app-dir the user cannot write, before anything is shipped, saying how to create it', () => {
    chmodSync(appDir, 0o555)
    // Root may write anywhere; the check is still exercised on a path that is not a directory.
    const target = process.getuid?.() === 0 ? join(root, 'missing') : appDir
    const result = sh(lockCommand({ appDir: target, releaseId: 'r1' }, 'me', 1, 'MARK'))
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(`${target} is not a directory that user`)
    expect(result.stderr).toContain('install -d -o ')
    expect(existsSync(join(target, 'releases'))).toBe(false)
  })

  it('takes the lock, names its holder, and prints where current points after the marker', () => {
    const holder = `release r1 of it's "$(touch ${root}/pwned)" \`id\``
    const result = sh(lockCommand(layout('r1'), holder, 1, 'MARK-1'))
    expect(result).toMatchObject({ code: 0, stdout: 'MARK-1 \n' })
    expect(readFileSync(join(appDir, LOCK_DIR, 'holder'), 'utf8')).toBe(`${holder}\n`)
    expect(existsSync(join(root, 'pwned'))).toBe(false)
  })

  it('makes a second run wait, and fails after its wait naming the holder', () => {
    expect(sh(lockCommand(layout('r1'), 'release r1 of run 41', 1, 'M')).code).toBe(0)
    const second = sh(lockCommand(layout('r2'), 'release r2 of run 42', 2, 'M'))
    expect(second.code).toBe(75)
    expect(second.stdout).toContain('Waiting for the release under way in')
    expect(second.stderr).toContain('Another release held')
    expect(second.stderr).toContain('release r1 of run 41')
  })

  it('takes over a lock whose connection is gone, saying whose it was', () => {
    mkdirSync(join(appDir, LOCK_DIR))
    writeFileSync(join(appDir, LOCK_DIR, 'holder'), 'release r0 of run 40\n')
    // A process id that no process has: the lost connection's sshd.
    writeFileSync(join(appDir, LOCK_DIR, 'session'), '999999999\n')
    const result = sh(lockCommand(layout('r1'), 'release r1', 5, 'M'))
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(
      'Taking over the lock of a release whose connection is gone: release r0 of run 40'
    )
    expect(readFileSync(join(appDir, LOCK_DIR, 'holder'), 'utf8')).toBe('release r1\n')
  })

  it('never leaves a lock without its holder when killed right after making a directory (a cancelled Run Command)', () => {
    // A mkdir that kills the script once it has made its directory: the worst moment to be killed.
    const bin = join(root, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'mkdir'), '#!/bin/sh\n/bin/mkdir "$@" && kill -9 $PPID\n', {
      mode: 0o755
    })
    const killed = spawnSync('/bin/sh', ['-c', lockCommand(layout('r1'), 'killed run', 1, 'M')], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }
    })
    // The outer shell, as sshd's login shell would, reports its child's death by SIGKILL.
    expect(killed.status).toBe(128 + 9)
    const lock = join(appDir, LOCK_DIR)
    if (existsSync(lock)) expect(readFileSync(join(lock, 'holder'), 'utf8')).toBe('killed run\n')
    // What the killed run left aside never blocks the next one.
    expect(sh(lockCommand(layout('r2'), 'next run', 1, 'M')).code).toBe(0)
    expect(readFileSync(join(lock, 'holder'), 'utf8')).toBe('next run\n')
  })

  it('refuses an app-dir or releases/ that someone else may write, before anything is shipped', () => {
    for (const dir of [appDir, join(appDir, 'releases')]) {
      mkdirSync(dir, { recursive: true })
      chmodSync(dir, 0o777)
      const result = sh(lockCommand(layout('r1'), 'me', 1, 'M'))
      expect(result.code).toBe(3)
      expect(result.stderr).toContain(`${dir} must belong to user`)
      expect(result.stderr).toContain('writable by no one else')
      expect(existsSync(join(appDir, LOCK_DIR))).toBe(false)
      chmodSync(dir, 0o755)
    }
  })

  it('lets one of two runs take over a stale lock, never both', async () => {
    mkdirSync(join(appDir, LOCK_DIR))
    writeFileSync(join(appDir, LOCK_DIR, 'holder'), 'release r0 of run 40\n')
    writeFileSync(join(appDir, LOCK_DIR, 'session'), '999999999\n')
    // Removing is slow for the second run, as it may be on a loaded machine: both judge the lock
    // stale, and the second's removal comes after the first has taken the lock anew.
    const bin = join(root, 'bin')
    mkdirSync(bin)
    const lockPath = join(appDir, LOCK_DIR)
    writeFileSync(
      join(bin, 'rm'),
      `#!/bin/sh\ncase "$*" in *${lockPath}) sleep "$RM_DELAY" ;; esac\nexec /bin/rm "$@"\n`,
      { mode: 0o755 }
    )
    const take = (holder: string, delay: string) =>
      new Promise<number | null>(resolve =>
        spawn('/bin/sh', ['-c', lockCommand(layout('r1'), holder, 2, 'M')], {
          env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, RM_DELAY: delay }
        }).on('close', resolve)
      )
    const codes = await Promise.all([take('first', '0'), take('second', '0.8')])
    // One holds the lock; the other waited for it, and gave up naming the holder.
    expect(codes.sort()).toEqual([0, 75])
  })

  it('goes on once the first run unlocks', () => {
    expect(sh(lockCommand(layout('r1'), 'first', 1, 'M')).code).toBe(0)
    const unlock = sh(unlockCommand(appDir, 'first'))
    expect(unlock.code).toBe(0)
    expect(sh(lockCommand(layout('r2'), 'second', 1, 'M')).code).toBe(0)
  })
})

describe('receive', () => {
  it('extracts into releases/<id> with a REVISION file, and leaves no temporary directory', () => {
    ship('r1')
    const release = join(appDir, 'releases', 'r1')
    expect(readFileSync(join(release, 'main.py'), 'utf8')).toBe('print("v1")\n')
    expect(readFileSync(join(release, 'app', 'routes.py'), 'utf8')).toBe('ROUTES = []\n')
    expect(readFileSync(join(release, 'REVISION'), 'utf8')).toBe(
      `${'a'.repeat(40)}\nhttps://github.com/o/r/actions/runs/1\n`
    )
    expect(readdirSync(join(appDir, 'releases'))).toEqual(['r1'])
  })

  it('leaves no release that looks whole when the archive is cut short', () => {
    expect(sh(lockCommand(layout('r1'), 'me', 1, 'M')).code).toBe(0)
    const whole = archive()
    const cut = whole.subarray(0, Math.floor(whole.length / 2))
    const result = sh(receiveCommand(layout('r1'), 'x'), cut)
    expect(result.code).not.toBe(0)
    expect(existsSync(join(appDir, 'releases', 'r1'))).toBe(false)
    // The next run clears what the cut one left.
    sh(unlockCommand(appDir, 'me'))
    ship('r2')
    expect(readdirSync(join(appDir, 'releases'))).toEqual(['r2'])
  })

  it('refuses a release id that is already there', () => {
    ship('r1')
    const again = sh(receiveCommand(layout('r1'), 'x'), archive())
    expect(again.code).toBe(4)
    expect(again.stderr).toContain('Release r1 is already in')
  })
})

describe('release-command', () => {
  it("runs the workflow's command in the release's directory, as one word whatever it holds", () => {
    ship('r1')
    const command = `pwd > where && printf '%s' "$0 $1" > args && echo "it's" > quote`
    const result = sh(releaseCommand(layout('r1'), command))
    expect(result.code).toBe(0)
    const release = join(appDir, 'releases', 'r1')
    expect(readFileSync(join(release, 'where'), 'utf8').trim()).toBe(release)
    expect(readFileSync(join(release, 'quote'), 'utf8')).toBe("it's\n")
  })

  it("passes the command's exit code and stderr on", () => {
    ship('r1')
    const result = sh(releaseCommand(layout('r1'), 'echo "no module named fastapi" >&2; exit 7'))
    expect(result).toMatchObject({ code: 7, stderr: 'no module named fastapi\n' })
  })
})

describe('switch', () => {
  it('points current at the release with a relative symlink, replaced in one rename', () => {
    ship('r1')
    expect(sh(switchCommand(appDir, 'r1')).code).toBe(0)
    const current = join(appDir, 'current')
    expect(lstatSync(current).isSymbolicLink()).toBe(true)
    expect(readlinkSync(current)).toBe('releases/r1')
    ship('r2')
    expect(sh(switchCommand(appDir, 'r2')).code).toBe(0)
    expect(readlinkSync(current)).toBe('releases/r2')
    expect(readFileSync(join(current, 'main.py'), 'utf8')).toBe('print("v1")\n')
    // No temporary link is left behind, and the lock step now reports the live release.
    expect(readdirSync(appDir).sort()).toEqual(['current', 'releases'])
    expect(sh(lockCommand(layout('r3'), 'h', 1, 'MARK')).stdout).toBe('MARK releases/r2\n')
  })

  it('refuses a release that is not there, and leaves current alone', () => {
    ship('r1')
    sh(switchCommand(appDir, 'r1'))
    const result = sh(switchCommand(appDir, 'missing'))
    expect(result.code).toBe(4)
    expect(readlinkSync(join(appDir, 'current'))).toBe('releases/r1')
  })

  it('refuses to replace a current that is a real directory', () => {
    ship('r1')
    mkdirSync(join(appDir, 'current'))
    writeFileSync(join(appDir, 'current', 'old.py'), '')
    expect(sh(switchCommand(appDir, 'r1')).code).not.toBe(0)
    expect(lstatSync(join(appDir, 'current')).isDirectory()).toBe(true)
  })
})

describe('prune and unlock', () => {
  it('keeps the newest releases, and always the live and the previous one', () => {
    const releases = join(appDir, 'releases')
    mkdirSync(releases)
    const ids = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']
    ids.forEach((id, i) => {
      mkdirSync(join(releases, id))
      const when = new Date(Date.UTC(2026, 0, 1 + i))
      utimesSync(join(releases, id), when, when)
    })
    // r1 is the oldest; as the previous release it stays.
    const result = sh(pruneCommand(appDir, 2, 'r6', 'r1'))
    expect(result.code).toBe(0)
    expect(readdirSync(releases).sort()).toEqual(['r1', 'r5', 'r6'])
    expect(result.stdout).toContain('Removed release r2')
  })

  it('removes a release never switched to, and only its own lock', () => {
    ship('r1')
    sh(switchCommand(appDir, 'r1'))
    const holder = ship('r2', { keepLock: true })
    // Another job of the same workflow run names the same release: it never got the lock, so it
    // removes nothing of what the holder is shipping.
    expect(sh(unlockCommand(appDir, 'someone else', 'r2')).code).toBe(0)
    expect(existsSync(join(appDir, LOCK_DIR))).toBe(true)
    expect(readdirSync(join(appDir, 'releases')).sort()).toEqual(['r1', 'r2'])
    expect(sh(unlockCommand(appDir, holder, 'r2')).code).toBe(0)
    expect(existsSync(join(appDir, LOCK_DIR))).toBe(false)
    expect(readdirSync(join(appDir, 'releases'))).toEqual(['r1'])
    // The live release is never removed as unused.
    sh(lockCommand(layout('r3'), 'h', 1, 'M'))
    sh(unlockCommand(appDir, 'h', 'r1'))
    expect(readdirSync(join(appDir, 'releases'))).toEqual(['r1'])
  })
})
