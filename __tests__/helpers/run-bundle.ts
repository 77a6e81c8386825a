// Runs the committed bundle the way the GitHub runner does: `node dist/index.js` in a child
// process, inputs as INPUT_* variables (action.yml defaults filled in, as the runner does), and
// the file commands GITHUB_OUTPUT, GITHUB_ENV and GITHUB_STEP_SUMMARY. The runner stand-in itself is in
// test-support/runner.js, which the local demo (scripts/demo.js) shares.
import {
  actionMetadata,
  applyMasks,
  inputEnvironment,
  parseFileCommand,
  repoRoot,
  runAction,
  RUNNER_CANCEL,
  type BundleRun,
  type RunOptions
} from '../../test-support/runner.js'

export { actionMetadata, applyMasks, inputEnvironment, parseFileCommand, repoRoot, RUNNER_CANCEL }
export type { BundleRun }

export function runBundle(
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  options: Pick<
    RunOptions,
    'cwd' | 'entry' | 'onLogLine' | 'cancelWhen' | 'onStart' | 'githubToken'
  > = {}
): Promise<BundleRun> {
  return runAction(inputs, env, options)
}

/** The pieces of a secret value someone could read in a log: the value and each non-blank line. */
export function readablePieces(value: string): string[] {
  return [value, ...value.split(/\r?\n|\r/).map(line => line.trim())].filter(
    piece => piece.length >= 3
  )
}

/** Values built to slip past naive masking. */
export const HOSTILE_VALUES: Record<string, string> = {
  multi_line: 'first-line-secret\n  second line, indented  \nthird-line-secret',
  padded: '  padded-secret-value  ',
  json_inside: '{"nested":"json-inner-secret","list":[1,2]}',
  percent_colons: '100%25 sure %0A ::error::not-a-command ::add-mask:: %%',
  non_ascii: 'pässwörd-密码-🔑-secret',
  quotes_dollar: `it's "quoted" $HOME \${{ secrets.X }} \`uname\` secret`
}
