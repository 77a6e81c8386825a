import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A git checkout for a release test: the workspace the action ships from. */
export interface GitCheckout {
  /** Runs git in the checkout, with an author of its own; resolves to its trimmed stdout. */
  git(...args: string[]): string
  /** Writes the files (relative paths) and commits them; returns the commit's sha. */
  commit(files: Record<string, string>): string
}

/** The checkout in the directory `dir()` names (made a repository by `git("init")`). */
export function gitCheckout(dir: () => string): GitCheckout {
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: dir(),
      encoding: 'utf8'
    }).trim()
  return {
    git,
    commit(files) {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir(), name), text)
      git('add', '.')
      git('commit', '-q', '-m', 'change')
      return git('rev-parse', 'HEAD')
    }
  }
}
