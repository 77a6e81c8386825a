import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HOSTILE_VALUES, readablePieces } from './helpers/run-bundle.js'
import { runCli, type CliRun } from './helpers/run-cli.js'
import {
  EXAMPLE_APP,
  EXAMPLE_DEPLOYMENT,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'

let aws: LocalAws
let dir: string
beforeEach(async () => {
  aws = await startLocalAws()
  dir = mkdtempSync(join(tmpdir(), 'sd-backup-'))
})
afterEach(async () => {
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

const DEPLOY = 'FastAPIDeploymentSecrets'
const APP = 'FastAPIAppSecrets'
const APP_VALUES = { ...EXAMPLE_APP, ...HOSTILE_VALUES }
const cli = (args: string[]) => runCli(aws, args)

function expectNoValues(text: string) {
  for (const value of [...Object.values(APP_VALUES), ...Object.values(EXAMPLE_DEPLOYMENT)])
    for (const piece of readablePieces(value)) expect(text).not.toContain(piece)
}
const printed = (run: CliRun) => run.output

describe('backup', () => {
  it('writes both secrets with their version ids to a new file only its owner can read', async () => {
    const deployVersion = aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    const appVersion = aws.putSecret(APP, APP_VALUES)
    const out = join(dir, 'backup.json')
    const run = await cli(['backup', 'deployment', 'app', '--out', out])
    expect(run.code).toBe(0)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const file = JSON.parse(readFileSync(out, 'utf8'))
    expect(file.secrets).toEqual([
      expect.objectContaining({
        id: DEPLOY,
        name: DEPLOY,
        versionId: deployVersion,
        values: EXAMPLE_DEPLOYMENT
      }),
      expect.objectContaining({ id: APP, name: APP, versionId: appVersion, values: APP_VALUES })
    ])
    expect(run.stderr).toContain('It holds the values in plain text')
    expectNoValues(printed(run))
  })

  it('never overwrites an existing file, and creates none when a secret cannot be read', async () => {
    aws.putSecret(APP, APP_VALUES)
    const out = join(dir, 'existing.json')
    writeFileSync(out, 'an earlier backup')
    const run = await cli(['backup', 'app', '--out', out])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'already exists; a backup never overwrites a file. Choose another --out.'
    )
    expect(readFileSync(out, 'utf8')).toBe('an earlier backup')
    const missing = await cli(['backup', 'app', 'NoSuchSecret', '--out', join(dir, 'new.json')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('Secret "NoSuchSecret" was not found')
    expect(() => statSync(join(dir, 'new.json'))).toThrow()
  })

  it('encrypts with a KMS data key (AES-256-GCM) and restores through KMS Decrypt', async () => {
    const keyArn = aws.createKmsKey('backup-key')
    aws.putSecret(APP, APP_VALUES)
    const out = join(dir, 'encrypted.json')
    const run = await cli(['backup', 'app', '--out', out, '--kms-key-id', 'backup-key'])
    expect(run.code).toBe(0)
    const text = readFileSync(out, 'utf8')
    expectNoValues(text)
    expect(JSON.parse(text).encrypted).toMatchObject({ algorithm: 'AES-256-GCM', kmsKeyId: keyArn })
    expect(aws.callsOf('GenerateDataKey')[0].params).toMatchObject({ KeySpec: 'AES_256' })

    aws.putSecret(APP, { db_password: 'changed-afterwards' })
    const restore = await cli(['restore', out, '--force'])
    expect(restore.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
    expect(aws.callsOf('Decrypt')).toHaveLength(1)
    expectNoValues(printed(restore))
  })

  it('fails, writing no file, when the KMS key does not exist or is denied', async () => {
    aws.putSecret(APP, APP_VALUES)
    const out = join(dir, 'never.json')
    const run = await cli(['backup', 'app', '--out', out, '--kms-key-id', 'no-such-key'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'KMS key "no-such-key" was not found (kms:GenerateDataKey). Check --kms-key-id (a key id, key ARN or alias/NAME) and the region.'
    )
    expect(() => statSync(out)).toThrow()
    aws.createKmsKey('k')
    aws.deny('GenerateDataKey')
    const denied = await cli(['backup', 'app', '--out', out, '--kms-key-id', 'k'])
    expect(denied.stderr).toContain('Access denied: kms:GenerateDataKey on KMS key "k"')
  })
})

describe('restore', () => {
  async function backupOf(...names: string[]) {
    const out = join(dir, `backup-${names.join('-')}.json`)
    const run = await cli(['backup', ...names, '--out', out])
    expect(run.code).toBe(0)
    return out
  }

  it('writes nothing when the secrets still hold the backup', async () => {
    const version = aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('app')
    const run = await cli(['restore', out])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain("already holds the backup's keys; nothing written")
    expect(aws.secretValue(APP).versionId).toBe(version)
  })

  it('refuses a secret that changed since the backup, naming the keys that differ, unless --force', async () => {
    aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('deployment', 'app')
    const deployNow = aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.10' })
    const changed = {
      ...APP_VALUES,
      db_password: 'rotated-since-the-backup',
      added_key: 'added-value'
    }
    const appNow = aws.putSecret(APP, changed)
    const run = await cli(['restore', out])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'The deployment secret "FastAPIDeploymentSecrets" changed since the backup'
    )
    expect(run.stderr).toContain('keys that differ: "added_key", "db_password".')
    expect(run.stderr).toContain(
      "Nothing was restored; add --force to replace them with the backup's keys."
    )
    expect(aws.secretValue(DEPLOY).versionId).toBe(deployNow)
    expect(aws.secretValue(APP).versionId).toBe(appNow)
    expect(run.output).not.toContain('rotated-since-the-backup')
    expectNoValues(printed(run))

    const forced = await cli(['restore', out, '--force'])
    expect(forced.code).toBe(0)
    expect(aws.secretValue(DEPLOY).json).toEqual(EXAMPLE_DEPLOYMENT)
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
  })

  it('creates a secret that was deleted since the backup', async () => {
    aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('app')
    aws.secrets.delete(APP)
    const run = await cli(['restore', out])
    expect(run.code).toBe(0)
    expect(aws.secretValue(APP)).toMatchObject({ versionId: run.stdout.trim(), json: APP_VALUES })
  })

  it('refuses a file that is not a backup or was tampered with', async () => {
    const notBackup = join(dir, 'other.json')
    writeFileSync(notBackup, '{"hello": "world"}')
    const run = await cli(['restore', notBackup])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('is not a secrets-deploy backup')
    aws.createKmsKey('k')
    aws.putSecret(APP, APP_VALUES)
    const out = join(dir, 'enc.json')
    await cli(['backup', 'app', '--out', out, '--kms-key-id', 'k'])
    const file = JSON.parse(readFileSync(out, 'utf8'))
    const bytes = Buffer.from(file.encrypted.ciphertext, 'base64')
    bytes[0] ^= 1
    file.encrypted.ciphertext = bytes.toString('base64')
    const tampered = join(dir, 'tampered.json')
    writeFileSync(tampered, JSON.stringify(file))
    const bad = await cli(['restore', tampered, '--force'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('does not decrypt: it was changed or damaged')
  })
})
