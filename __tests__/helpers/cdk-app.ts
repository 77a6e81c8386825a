// A CDK app directory for the CDK stand-in (test-support/cdk-stand-in.js): cdk.json plus the
// stand-in's description of what the deployment does.
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from './run-bundle.js'

export interface StandInConfig {
  stacks?: Record<string, { outputs?: Record<string, string> }>
  fail?: { exitCode?: number; message: string }
  concurrentEdit?: { secretId: string; key: string; value: string }
  recordEnv?: string[]
}

export interface CdkApp {
  dir: string
  /** The value for input cdk-command. */
  command: string
  /** What each run of the stand-in was given: its argv and the variables named in recordEnv. */
  invocations(): { argv: string[]; env: Record<string, string | null> }[]
}

export function createCdkApp(config: StandInConfig): CdkApp {
  const dir = mkdtempSync(join(tmpdir(), 'sda-cdk-app-'))
  const record = join(dir, 'invocations.jsonl')
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.js' }))
  writeFileSync(join(dir, 'cdk-stand-in.json'), JSON.stringify({ ...config, record }))
  return {
    dir,
    command: `node ${join(repoRoot, 'test-support/cdk-stand-in.js')}`,
    invocations: () =>
      existsSync(record)
        ? readFileSync(record, 'utf8')
            .trim()
            .split('\n')
            .map(line => JSON.parse(line))
        : []
  }
}
