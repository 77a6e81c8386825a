// Writes the README's input and output tables from action.yml, so that the two cannot disagree.
//   node scripts/readme-tables.js          rewrite README.md
//   node scripts/readme-tables.js --check  exit 1 when README.md is out of date
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('..', import.meta.url))

/** @param {string} text */
const cell = text => text.replace(/\|/g, '\\|').replace(/\n/g, ' ').trim()

/** @param {string} actionYml @returns {{ inputs: string, outputs: string }} */
export function tables(actionYml) {
  const action = parse(actionYml)
  const inputs = Object.entries(action.inputs ?? {}).map(
    ([name, spec]) =>
      `| \`${name}\` | ${spec.default === undefined || spec.default === '' ? '' : `\`${cell(String(spec.default))}\``} | ${cell(spec.description)} |`
  )
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`
  )
  return {
    inputs: ['| input | default | description |', '| --- | --- | --- |', ...inputs].join('\n'),
    outputs: ['| output | description |', '| --- | --- |', ...outputs].join('\n')
  }
}

/** @param {string} readme @param {string} actionYml */
export function withTables(readme, actionYml) {
  const generated = tables(actionYml)
  let result = readme
  for (const kind of /** @type {const} */ (['inputs', 'outputs'])) {
    const start = `<!-- ${kind}:start -->`
    const end = `<!-- ${kind}:end -->`
    const from = result.indexOf(start)
    const to = result.indexOf(end)
    if (from < 0 || to < from) throw new Error(`README.md has no ${start} ... ${end} block`)
    result = `${result.slice(0, from + start.length)}\n${generated[kind]}\n${result.slice(to)}`
  }
  return result
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readmePath = `${root}README.md`
  const readme = readFileSync(readmePath, 'utf8')
  const updated = withTables(readme, readFileSync(`${root}action.yml`, 'utf8'))
  if (process.argv.includes('--check')) {
    if (updated !== readme) {
      console.error(
        'README.md tables differ from action.yml: run "npm run docs" and commit README.md.'
      )
      process.exit(1)
    }
  } else {
    writeFileSync(readmePath, updated)
  }
}
