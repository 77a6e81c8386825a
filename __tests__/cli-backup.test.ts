import { execFileSync } from 'node:child_process'
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HOSTILE_VALUES, readablePieces, repoRoot } from './helpers/run-bundle.js'
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
    const restore = await cli(['restore', out, 'app', '--force'])
    expect(restore.code).toBe(0)
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
    expect(aws.callsOf('Decrypt')).toHaveLength(1)
    expectNoValues(printed(restore))

    // Decrypted, the file is as backup wrote it: a secret deleted since then is created unforced.
    aws.secrets.delete(APP)
    const recreated = await cli(['restore', out, 'app'])
    expect(recreated.code).toBe(0)
    expect(recreated.stderr).toContain('the encrypted file decrypted, so it is as backup wrote it')
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
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

  /** Every call that could write a secret, so a test can say that none was made. */
  const writes = () =>
    ['PutSecretValue', 'UpdateSecretVersionStage', 'CreateSecret'].flatMap(a => aws.callsOf(a))

  it('writes nothing when the secrets still hold the backup', async () => {
    const version = aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('app')
    const run = await cli(['restore', out, 'app'])
    expect(run.code).toBe(0)
    expect(run.stderr).toContain("already holds the backup's keys; nothing written")
    expect(run.stdout.trim()).toBe(version)
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
    const run = await cli(['restore', out, '--all'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      'The deployment secret "FastAPIDeploymentSecrets" changed since the backup'
    )
    expect(run.stderr).toContain(
      `keys that differ: "added_key", "db_password". Add --force to replace them with the backup's keys.`
    )
    expect(run.stderr).toMatch(/ Nothing was restored\.\n$/)
    expect(aws.secretValue(DEPLOY).versionId).toBe(deployNow)
    expect(aws.secretValue(APP).versionId).toBe(appNow)
    expect(run.output).not.toContain('rotated-since-the-backup')
    expectNoValues(printed(run))

    const forced = await cli(['restore', out, '--all', '--force'])
    expect(forced.code).toBe(0)
    expect(aws.secretValue(DEPLOY).json).toEqual(EXAMPLE_DEPLOYMENT)
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
  })

  it('writes only the secrets named, after listing them; --dry-run lists them alone', async () => {
    const deployBackedUp = aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    const appBackedUp = aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('deployment', 'app')
    const deployNow = aws.putSecret(DEPLOY, { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.10' })
    const appNow = aws.putSecret(APP, { ...APP_VALUES, db_password: 'rotated-since-the-backup' })

    const dryRun = await cli(['restore', out, '--all', '--force', '--dry-run'])
    expect(dryRun.code).toBe(0)
    expect(dryRun.stdout).toBe('')
    expect(dryRun.stderr.split('\n')).toEqual([
      `Would restore 2 secrets from "${out}":`,
      `  deployment secret "FastAPIDeploymentSecrets": replace version ${deployNow} (keys that differ: ` +
        `"ec2_host"); checked: version ${deployBackedUp} holds the backup's values`,
      `  app secret "FastAPIAppSecrets": replace version ${appNow} (keys that differ: "db_password"); ` +
        `checked: version ${appBackedUp} holds the backup's values`,
      'Dry run: nothing was written.',
      ''
    ])
    expect(writes()).toEqual([])

    const run = await cli(['restore', out, 'app', '--force'])
    expect(run.code).toBe(0)
    const lines = run.stderr.split('\n')
    expect(lines[0]).toBe(`Restoring 1 secret from "${out}":`)
    expect(lines[1]).toMatch(/^ {2}app secret "FastAPIAppSecrets": replace version /)
    expect(lines[2]).toMatch(
      /^Restored the app secret "FastAPIAppSecrets" \("db_password" differed\)/
    )
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)
    expect(aws.secretValue(DEPLOY).versionId).toBe(deployNow)
    expect(run.stdout.trim()).toBe(aws.secretValue(APP).versionId)
  })

  it('refuses, writing nothing, a backup that lies about the versions it names', async () => {
    // The attack as it was first tried: a file backup wrote, edited. The deployment secret's current
    // version id is public (output secret-version-id, the summary, history); two of its keys are
    // dropped and the address replaced. An unrelated secret gets new values under its real current
    // version id, and an entry for a secret that does not exist is added.
    const deployNow = aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    const billingNow = aws.putSecret('BillingApiKeys', { stripe_key: 'sk-live-unrelated-value' })
    const genuine = await backupOf('deployment', 'BillingApiKeys')
    const file = JSON.parse(readFileSync(genuine, 'utf8'))
    file.secrets[0].values = { ec2_host: '198.51.100.66', ec2_user: 'attacker' }
    file.secrets[1].values = { stripe_key: 'sk-attacker-value' }
    file.secrets.push({
      ...file.secrets[1],
      id: 'PlantedSecret',
      name: 'PlantedSecret',
      arn: file.secrets[1].arn.replace('BillingApiKeys', 'PlantedSecret'),
      versionId: billingNow
    })
    const crafted = join(dir, 'crafted.json')
    writeFileSync(crafted, JSON.stringify(file, null, 2))

    const named = await cli(['restore', crafted, 'deployment'])
    expect(named.code).toBe(1)
    expect(named.stderr.trim()).toBe(
      `error: The backup's values for the deployment secret "FastAPIDeploymentSecrets" are not what its version ` +
        `${deployNow} holds (keys that differ: "ec2_host", "ec2_key_name", "ec2_user", "github_repo"): the file was ` +
        'not written by "secrets-deploy backup", or was edited since. It cannot be restored, not even with --force. ' +
        'Nothing was restored.'
    )
    for (const args of [
      ['restore', crafted, '--all'],
      ['restore', crafted, '--all', '--force'],
      ['restore', crafted, 'BillingApiKeys', '--force', '--dry-run']
    ]) {
      const run = await cli(args)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(
        `The backup's values for the secret "BillingApiKeys" are not what its version ${billingNow} holds`
      )
      expect(run.stderr).toMatch(/ Nothing was restored\.\n$/)
      expect(run.stdout).toBe('')
    }
    const all = await cli(['restore', crafted, '--all'])
    expect(all.stderr).toContain(
      'The backup\'s values for the secret "PlantedSecret" cannot be checked: the secret does not exist'
    )
    expect(writes()).toEqual([])
    expect(aws.secretValue(DEPLOY)).toMatchObject({
      versionId: deployNow,
      json: EXAMPLE_DEPLOYMENT
    })
    expect(aws.secretValue('BillingApiKeys').versionId).toBe(billingNow)
    expect(aws.secrets.has('PlantedSecret')).toBe(false)
  })

  it('refuses a backup whose version is gone, or whose secret was deleted, unless --force', async () => {
    const backedUp = aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('app')
    aws.putSecret(APP, { ...APP_VALUES, db_password: 'rotated-since-the-backup' })
    // AWS removes a version once it has no label and the secret has about 100 versions.
    aws.secrets.get(APP)?.versions.delete(backedUp)
    const gone = await cli(['restore', out, 'app'])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(
      `The backup's values for the app secret "FastAPIAppSecrets" cannot be checked: the secret no longer has ` +
        `version ${backedUp}, so nothing shows they are what that version held. Add --force to restore them unchecked.`
    )
    const forced = await cli(['restore', out, 'app', '--force'])
    expect(forced.code).toBe(0)
    expect(forced.stderr).toContain(`not checked (--force): version ${backedUp} is gone`)
    expect(aws.secretValue(APP).json).toEqual(APP_VALUES)

    aws.secrets.delete(APP)
    const deleted = await cli(['restore', out, 'app'])
    expect(deleted.code).toBe(1)
    expect(deleted.stderr).toContain('cannot be checked: the secret does not exist')
    expect(aws.secrets.has(APP)).toBe(false)
    const created = await cli(['restore', out, 'app', '--force'])
    expect(created.code).toBe(0)
    expect(aws.secretValue(APP)).toMatchObject({
      versionId: created.stdout.trim(),
      json: APP_VALUES
    })
  })

  it('needs the secrets named, or --all, and each named one in the backup', async () => {
    aws.putSecret(DEPLOY, EXAMPLE_DEPLOYMENT)
    aws.putSecret(APP, APP_VALUES)
    const out = await backupOf('app')
    const none = await cli(['restore', out])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain(
      'error: name the secrets to restore (e.g. restore FILE deployment app), or give --all'
    )
    const both = await cli(['restore', out, 'app', '--all'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('error: give either secret names or --all, not both')
    const missing = await cli(['restore', out, 'app', 'deployment'])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toBe(
      `error: The backup "${out}" holds no deployment secret "FastAPIDeploymentSecrets" (it holds ` +
        '"FastAPIAppSecrets"); nothing was restored.'
    )
    // One secret named twice, by its role and by its name, is restored once.
    const twiceNamed = await cli(['restore', out, 'app', APP, '--dry-run'])
    expect(twiceNamed.code).toBe(0)
    expect(twiceNamed.stderr).toContain(`Would restore 1 secret from "${out}":`)

    // A backup names each secret once, however the command line named it...
    const arn = String(aws.secrets.get(APP)?.arn)
    const byBoth = await backupOf('app', arn)
    expect(JSON.parse(readFileSync(byBoth, 'utf8')).secrets).toHaveLength(1)
    // ...so a file that holds one twice was not written by it.
    const file = JSON.parse(readFileSync(out, 'utf8'))
    file.secrets.push({ ...file.secrets[0], id: arn })
    const doubled = join(dir, 'doubled.json')
    writeFileSync(doubled, JSON.stringify(file))
    const twice = await cli(['restore', doubled, 'app'])
    expect(twice.code).toBe(1)
    expect(twice.stderr.trim()).toBe(
      `error: The backup "${doubled}" holds the app secret "FastAPIAppSecrets" more than once: ` +
        '"secrets-deploy backup" never writes that. Nothing was restored.'
    )
    expect(writes()).toEqual([])
  })

  it('refuses a file that is not a backup or was tampered with', async () => {
    const notBackup = join(dir, 'other.json')
    writeFileSync(notBackup, '{"hello": "world"}')
    const run = await cli(['restore', notBackup, 'app'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('is not a secrets-deploy backup')
    const badEntry = join(dir, 'bad-entry.json')
    writeFileSync(
      badEntry,
      JSON.stringify({ format: 'secrets-deploy-backup/1', secrets: [{ id: 'app', values: {} }] })
    )
    const bad = await cli(['restore', badEntry, 'app'])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe(
      `error: "${badEntry}" is not a secrets-deploy backup (secrets-deploy-backup/1).`
    )
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
    const altered = await cli(['restore', tampered, 'app', '--force'])
    expect(altered.code).toBe(1)
    expect(altered.stderr).toContain('does not decrypt: it was changed or damaged')
    expect(writes()).toEqual([])
  })

  /** Runs restore with the peak memory of its process recorded (kilobytes). */
  async function restoreMeasured(file: string) {
    const rssFile = join(dir, `rss-${Math.random()}`)
    const run = await runCli(aws, ['restore', file, 'app'], {
      env: {
        NODE_OPTIONS: `--import=${join(repoRoot, 'test-support', 'max-rss.js')}`,
        MAX_RSS_FILE: rssFile
      }
    })
    return { run, maxRssKb: Number(readFileSync(rssFile, 'utf8')) }
  }

  it('refuses a backup that is a device, a named pipe or a folder, reading none of it', async () => {
    aws.putSecret(APP, APP_VALUES)
    // Its stat size is 0, so a size check alone let it grow the process towards 2 GiB.
    const devZero = join(dir, 'backup.json')
    symlinkSync('/dev/zero', devZero)
    const baseline = await restoreMeasured(join(dir, 'no-such-file.json'))
    expect(baseline.run.stderr.trim()).toMatch(
      /^error: Cannot read ".*no-such-file.json" \(ENOENT\)\.$/
    )
    const zero = await restoreMeasured(devZero)
    expect(zero.run.code).toBe(1)
    expect(zero.run.stderr.trim()).toBe(
      `error: "${devZero}" is a character device, not a regular file: not a backup. ` +
        'Give the file that "secrets-deploy backup --out" wrote.'
    )
    // Refused before a byte is read: no more memory than refusing a file that does not exist.
    expect(zero.maxRssKb).toBeLessThan(baseline.maxRssKb + 16 * 1024)

    // Opening a named pipe waits for a writer unless told not to: this would never return.
    const pipe = join(dir, 'pipe.json')
    execFileSync('mkfifo', [pipe])
    const fifo = await cli(['restore', pipe, 'app'])
    expect(fifo.code).toBe(1)
    expect(fifo.stderr).toContain(`"${pipe}" is a named pipe, not a regular file`)
    const folder = await cli(['restore', dir, 'app'])
    expect(folder.code).toBe(1)
    expect(folder.stderr).toContain(`"${dir}" is a folder, not a regular file`)
  })

  it('refuses a file larger than any backup', async () => {
    const large = join(dir, 'large.json')
    writeFileSync(large, '')
    truncateSync(large, 16 * 1024 * 1024 + 1)
    const run = await cli(['restore', large, 'app'])
    expect(run.code).toBe(1)
    expect(run.stderr.trim()).toBe(
      `error: "${large}" is larger than any backup (16777216 bytes): not a backup file.`
    )
  })
})
