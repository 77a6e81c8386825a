// What a release ships, from a real git repository made here: the commit's files under
// release-path (never what git ignores), plus release-include's working-tree files, read back
// with the system's GNU tar as the instance reads them.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { archiveStream, broadcast, planArchive } from '../src/release/archive.js'
import type { ReleaseSettings } from '../src/release/settings.js'

let repo: string

const settings = (releasePath: string, include: string[] = []): ReleaseSettings => ({
  releasePath,
  include,
  appDir: '/opt/fastapi',
  command: '',
  timeoutSeconds: 600,
  keep: 5,
  rollbackOnFailure: true
})

function write(file: string, text: string): void {
  mkdirSync(join(repo, file, '..'), { recursive: true })
  writeFileSync(join(repo, file), text)
}

const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: repo,
    encoding: 'utf8'
  })

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'sda-archive-'))
  git('init', '-q')
  write('.gitignore', 'node_modules/\n.env\napp/dist/\n')
  write('README.md', '# top\n')
  write('app/main.py', 'print("hi")\n')
  write('app/api/routes.py', 'ROUTES = []\n')
  git('add', '.')
  git('commit', '-q', '-m', 'first')
  write('app/node_modules/x/index.js', 'ignored\n')
  write('app/.env', 'SECRET=1\n')
  write('app/dist/bundle.js', 'built\n')
  write('app/main.py', 'print("uncommitted edit")\n')
})
afterEach(() => rmSync(repo, { recursive: true, force: true }))

/** The archive's files, as GNU tar lists them, and one file's content. */
async function listing(plan: Awaited<ReturnType<typeof planArchive>>) {
  const gz = await buffer(archiveStream(plan))
  const names = spawnSync('tar', ['-tzf', '-'], { input: gz, encoding: 'utf8' })
    .stdout.split('\n')
    .filter(name => name !== '' && !name.endsWith('/'))
    .map(name => name.replace(/^\.\//, ''))
    .sort()
  const file = (name: string) =>
    spawnSync('tar', ['-xzOf', '-', name], { input: gz, encoding: 'utf8' }).stdout
  return { names, file }
}

describe('the release archive', () => {
  it('ships the committed tree of release-path at its root, not the working tree or what git ignores', async () => {
    const plan = await planArchive(settings('app'), repo, undefined)
    expect(plan.sha).toBe(git('rev-parse', 'HEAD').trim())
    const { names, file } = await listing(plan)
    expect(names).toEqual(['api/routes.py', 'main.py'])
    expect(file('main.py')).toBe('print("hi")\n')
  })

  it('adds the working-tree files release-include names, in one archive', async () => {
    const plan = await planArchive(settings('app', ['dist/**']), repo, undefined)
    const { names, file } = await listing(plan)
    expect(names).toEqual(['api/routes.py', 'dist/bundle.js', 'main.py'])
    expect(file('dist/bundle.js')).toBe('built\n')
  })

  it('refuses a link in release-include that leads outside release-path', async () => {
    symlinkSync('../../README.md', join(repo, 'app', 'dist', 'readme'))
    await expect(planArchive(settings('app', ['dist/*']), repo, undefined)).rejects.toThrow(
      'Input "release-include" matches "dist/readme", a link to outside input "release-path"'
    )
  })

  it('refuses a release-path that is not a directory of the commit', async () => {
    await expect(planArchive(settings('app/dist'), repo, undefined)).rejects.toThrow(
      'Input "release-path" is "app/dist", which is not a directory of the checked-out commit'
    )
  })

  it('refuses a release with nothing to ship', async () => {
    rmSync(join(repo, '.git'), { recursive: true, force: true })
    await expect(planArchive(settings('app', ['build/**']), repo, 'c'.repeat(40))).rejects.toThrow(
      'Input "release-path" is "app", which holds no committed file, and input "release-include" matched no file: there is nothing to ship.'
    )
  })

  it('fails the stream, never hangs, when git archive fails', async () => {
    const plan = await planArchive(settings('app', ['dist/**']), repo, undefined)
    rmSync(join(repo, '.git'), { recursive: true, force: true })
    await expect(buffer(archiveStream(plan))).rejects.toThrow('git archive failed')
    await expect(buffer(archiveStream({ ...plan, includeFiles: [] }))).rejects.toThrow(
      'git archive failed'
    )
  })

  it('refuses a directory outside a git checkout unless release-include names what ships', async () => {
    rmSync(join(repo, '.git'), { recursive: true, force: true })
    await expect(planArchive(settings('app'), repo, undefined)).rejects.toThrow(
      'is not a git checkout with a commit'
    )
    const sha = 'b'.repeat(40)
    const plan = await planArchive(settings('app', ['dist/**']), repo, sha)
    expect(plan.sha).toBe(sha)
    expect((await listing(plan)).names).toEqual(['dist/bundle.js'])
  })
})

describe('one archive for several receivers', () => {
  it('gives each the same bytes, made once, and goes on when one receiver stops', async () => {
    const data = randomBytes(4 * 1024 * 1024)
    let reads = 0
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += 65536) {
          reads++
          yield data.subarray(at, at + 65536)
        }
      })()
    )
    const [first, stopped, third] = broadcast(source, 3)
    stopped.destroy()
    const [a, c] = await Promise.all([buffer(first), buffer(third)])
    expect(a.equals(data)).toBe(true)
    expect(c.equals(data)).toBe(true)
    expect(reads).toBe(64)
  })

  it('stops the archive once every receiver has stopped', async () => {
    const source = new Readable({ read() {} })
    const receivers = broadcast(source, 2)
    for (const receiver of receivers) receiver.destroy()
    await new Promise(resolve => setImmediate(resolve))
    expect(source.destroyed).toBe(true)
  })
})
