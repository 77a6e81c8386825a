// Rebuilds dist/ from the sources (`npm run package`: the action's bundle and the command line's,
// dist/cli/) and fails, showing the difference, when the result is not what is committed: the
// runner executes dist/index.js and users dist/cli/index.js, never src/, so a stale bundle ships
// stale code.
//   node scripts/check-dist.js
// The bundle comes out the same on every machine: native add-ons, built or not, stay out of it
// (scripts/build.js).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const MAX_DIFF_LINES = 200
// The bundle is minified: one changed line can be a whole chunk.
const MAX_LINE_CHARS = 300

/** @param {string} command @param {string[]} args */
const run = (command, args) =>
  execFileSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 30 })

run('npm', ['run', '--silent', 'package'])
// --porcelain also lists files the build added or removed, which `git diff` alone would not.
const changed = run('git', ['status', '--porcelain', '--', 'dist'])
if (changed.trim() === '') {
  console.log('dist/ is the bundle of the sources.')
} else {
  const diff = run('git', ['--no-pager', 'diff', '--', 'dist']).split('\n')
  console.log(`Files that differ:\n${changed}`)
  const shown = diff
    .slice(0, MAX_DIFF_LINES)
    .map(line =>
      line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)} [... cut]` : line
    )
  console.log(shown.join('\n'))
  if (diff.length > MAX_DIFF_LINES) {
    console.log(`... ${diff.length - MAX_DIFF_LINES} more lines of difference`)
  }
  console.error(
    'dist/ is not the bundle of the sources: run "npm run package" and commit dist/. ' +
      `(The difference is above.)`
  )
  process.exit(1)
}
