import { jest } from '@jest/globals'
import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { readJsonSecret } from '../src/secrets/read.js'
import {
  PENDING_STAGE,
  writeEdit,
  writeKeyBack,
  type EditContext
} from '../src/secrets/compare-and-swap.js'
import {
  EXAMPLE_DEPLOYMENT,
  secretsManagerFor,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { recordingLogger } from './helpers/recording-logger.js'

let aws: LocalAws
let client: SecretsManagerClient

beforeEach(async () => {
  aws = await startLocalAws()
  client = secretsManagerFor(aws)
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
})
afterEach(async () => {
  jest.restoreAllMocks()
  client.destroy()
  await aws.stop()
})

const read = () => readJsonSecret(client, 'Deploy', 'deployment')

describe('writeKeyBack', () => {
  it('sets the key, keeps every other key, and makes the new version current', async () => {
    const first = aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const result = await writeKeyBack(
      client,
      await read(),
      'ec2_host',
      '203.0.113.10',
      [],
      recordingLogger()
    )
    expect(result.changed).toBe(true)
    expect(aws.secretValue('Deploy')).toEqual({
      versionId: result.versionId,
      secretString: expect.any(String),
      json: { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.10' }
    })
    // AWSPREVIOUS keeps the version it replaced; the pending label is gone again.
    expect(aws.versionStages('Deploy')).toEqual({
      [first]: ['AWSPREVIOUS'],
      [result.versionId]: ['AWSCURRENT']
    })
  })

  it('writes nothing when the key already holds the value', async () => {
    const first = aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, ec2_host: '203.0.113.10' })
    const result = await writeKeyBack(
      client,
      await read(),
      'ec2_host',
      '203.0.113.10',
      [],
      recordingLogger()
    )
    expect(result).toMatchObject({ changed: false, versionId: first })
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
  })

  it('keeps a change another writer made after this run read the secret', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const stale = await read()
    // Someone edits the secret in the console (a plain PutSecretValue) after the run read it.
    aws.putSecret('Deploy', {
      ...EXAMPLE_DEPLOYMENT,
      github_repo: 'https://example.test/new.git',
      added_later: 'new-key'
    })
    const result = await writeKeyBack(
      client,
      stale,
      'ec2_host',
      '203.0.113.10',
      [],
      recordingLogger()
    )
    expect(aws.secretValue('Deploy').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      github_repo: 'https://example.test/new.git',
      added_later: 'new-key',
      ec2_host: '203.0.113.10'
    })
    expect(result.versionId).toBe(aws.secretValue('Deploy').versionId)
    expect(
      aws.callsOf('UpdateSecretVersionStage').filter(c => c.params.VersionStage === 'AWSCURRENT')
    ).toHaveLength(2)
  })

  it('keeps a change made between its put and its swap', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    let raced = false
    aws.before('UpdateSecretVersionStage', () => {
      if (raced) return
      raced = true
      aws.putSecret('Deploy', { ...aws.secretValue('Deploy').json, ec2_user: 'ubuntu' })
    })
    await writeKeyBack(client, await read(), 'ec2_host', '203.0.113.10', [], recordingLogger())
    expect(aws.secretValue('Deploy').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      ec2_user: 'ubuntu',
      ec2_host: '203.0.113.10'
    })
  })

  it('lets two writers race from the same read without losing either write', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const [a, b] = [await read(), await read()]
    const other = secretsManagerFor(aws)
    await Promise.all([
      writeKeyBack(client, a, 'ec2_host', '203.0.113.10', [], recordingLogger()),
      writeKeyBack(other, b, 'standby_host', '203.0.113.20', [], recordingLogger())
    ])
    other.destroy()
    expect(aws.secretValue('Deploy').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      ec2_host: '203.0.113.10',
      standby_host: '203.0.113.20'
    })
    const stages = Object.values(aws.versionStages('Deploy')).flat()
    expect(stages.filter(stage => stage === 'AWSCURRENT')).toHaveLength(1)
    expect(stages).not.toContain(PENDING_STAGE)
  })

  it('knows its swap went through when the answer to it was lost', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.failNext('UpdateSecretVersionStage', {
      status: 400,
      code: 'InvalidParameterException',
      after: true
    })
    const result = await writeKeyBack(
      client,
      await read(),
      'ec2_host',
      '203.0.113.10',
      [],
      recordingLogger()
    )
    expect(result).toMatchObject({ changed: true, versionId: aws.secretValue('Deploy').versionId })
    expect(aws.secretValue('Deploy').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      ec2_host: '203.0.113.10'
    })
    expect(Object.values(aws.versionStages('Deploy')).flat()).not.toContain(PENDING_STAGE)
    expect(aws.callsOf('PutSecretValue')).toHaveLength(1)
  })

  it('fails at once, changing nothing, when the swap is refused for another reason', async () => {
    const first = aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.failNext('UpdateSecretVersionStage', {
      status: 400,
      code: 'InvalidParameterException',
      message: 'You provided an invalid value for a parameter.'
    })
    await expect(
      writeKeyBack(client, await read(), 'ec2_host', '203.0.113.10', [], recordingLogger())
    ).rejects.toThrow(
      /UpdateSecretVersionStage on deployment secret "Deploy" \(version [0-9a-f-]+ was stored but not made current: the secret is unchanged\) failed \(InvalidParameterException, HTTP 400\)/
    )
    expect(aws.callsOf('PutSecretValue')).toHaveLength(1)
    expect(aws.secretValue('Deploy')).toMatchObject({ versionId: first, json: EXAMPLE_DEPLOYMENT })
  })

  it('gives up, overwriting nothing, when the secret keeps changing', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    let edits = 0
    aws.before('UpdateSecretVersionStage', params => {
      if (params.VersionStage === 'AWSCURRENT')
        aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, edit: String(++edits) })
    })
    await expect(
      writeKeyBack(client, await read(), 'ec2_host', '203.0.113.10', [], recordingLogger())
    ).rejects.toThrow(
      'The deployment secret "Deploy" kept changing while this run tried to set "ec2_host" (5 tries); nothing was overwritten.'
    )
    expect(aws.secretValue('Deploy').json).toEqual({ ...EXAMPLE_DEPLOYMENT, edit: '5' })
  })

  it('leaves the secret as it was when the put or the swap is denied', async () => {
    const first = aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    aws.deny('PutSecretValue')
    await expect(
      writeKeyBack(client, await read(), 'ec2_host', '203.0.113.10', [], recordingLogger())
    ).rejects.toThrow(
      'Access denied: secretsmanager:PutSecretValue on deployment secret "Deploy". Allow "secretsmanager:PutSecretValue"'
    )
    aws.denied.clear()
    aws.deny('UpdateSecretVersionStage')
    await expect(
      writeKeyBack(client, await read(), 'ec2_host', '203.0.113.10', [], recordingLogger())
    ).rejects.toThrow(
      /Access denied: secretsmanager:UpdateSecretVersionStage on deployment secret "Deploy" \(version [0-9a-f-]+ was stored but not made current: the secret is unchanged\)/
    )
    expect(aws.secretValue('Deploy')).toMatchObject({ versionId: first, json: EXAMPLE_DEPLOYMENT })
  })
})

describe('writeEdit', () => {
  const context = (notes: string[] = []): EditContext => ({
    role: 'other',
    what: 'edit',
    merged: 'the edit',
    who: 'this test',
    during: 'ran',
    again: 'Run it again',
    note: message => notes.push(message),
    reread: () => readJsonSecret(client, 'Deploy', 'other')
  })

  it('applies set and unset together, and nothing when nothing changes', async () => {
    const first = aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const base = await readJsonSecret(client, 'Deploy', 'other')
    const same = await writeEdit(client, base, { set: { ec2_user: 'ec2-user' } }, context())
    expect(same).toEqual({ changed: false, versionId: first })
    const result = await writeEdit(
      client,
      base,
      { set: { added: 'a-value' }, unset: ['github_repo'] },
      context()
    )
    expect(result.changed).toBe(true)
    const rest: Record<string, string> = { ...EXAMPLE_DEPLOYMENT }
    delete rest.github_repo
    expect(aws.secretValue('Deploy').json).toEqual({ ...rest, added: 'a-value' })
  })

  it('applies an unset to the version a concurrent writer made', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const stale = await readJsonSecret(client, 'Deploy', 'other')
    aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, added_later: 'new-key' })
    const notes: string[] = []
    await writeEdit(client, stale, { unset: ['ec2_host'] }, context(notes))
    const rest: Record<string, string> = { ...EXAMPLE_DEPLOYMENT }
    delete rest.ec2_host
    expect(aws.secretValue('Deploy').json).toEqual({ ...rest, added_later: 'new-key' })
    expect(notes).toEqual([
      'The secret "Deploy" changed while this test ran; merging the edit into the new version.'
    ])
  })

  it('adds only keys the current version lacks, also after merging into a concurrent version', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const stale = await readJsonSecret(client, 'Deploy', 'other')
    // Between the read and the swap, another writer gives "api_key" a value of its own.
    aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, api_key: 'their-api-key-value' })
    const notes: string[] = []
    const edit = { add: { api_key: 'imported', ec2_user: 'imported', jwt_secret: 'imported' } }
    await writeEdit(client, stale, edit, context(notes))
    expect(aws.secretValue('Deploy').json).toEqual({
      ...EXAMPLE_DEPLOYMENT,
      api_key: 'their-api-key-value',
      jwt_secret: 'imported'
    })
    expect(notes).toHaveLength(1)
    const current = await readJsonSecret(client, 'Deploy', 'other')
    expect(await writeEdit(client, current, { add: { api_key: 'other' } }, context())).toEqual({
      changed: false,
      versionId: current.versionId
    })
  })

  it('refuses to replace a version it did not read, keeping the concurrent change', async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const stale = await readJsonSecret(client, 'Deploy', 'other')
    const theirs = aws.putSecret('Deploy', { ...EXAMPLE_DEPLOYMENT, ec2_user: 'ubuntu' })
    await expect(
      writeEdit(client, stale, { replace: { only: 'this-key' } }, context())
    ).rejects.toThrow(
      `The secret "Deploy" changed (now version ${theirs}) after this test read version ${stale.versionId}; nothing was written`
    )
    expect(aws.secretValue('Deploy')).toMatchObject({
      versionId: theirs,
      json: { ...EXAMPLE_DEPLOYMENT, ec2_user: 'ubuntu' }
    })
  })

  it("names a concurrent writer's version id as inert text, whatever id they chose", async () => {
    aws.putSecret('Deploy', EXAMPLE_DEPLOYMENT)
    const stale = await readJsonSecret(client, 'Deploy', 'other')
    const theirs = 'theirs\n::warning::planted\n::stop-commands::pause'
    await client.send(
      new PutSecretValueCommand({
        SecretId: 'Deploy',
        SecretString: JSON.stringify({ ...EXAMPLE_DEPLOYMENT, ec2_user: 'ubuntu' }),
        ClientRequestToken: theirs
      })
    )
    await expect(
      writeEdit(client, stale, { replace: { only: 'this-key' } }, context())
    ).rejects.toThrow(
      'The secret "Deploy" changed (now version "theirs ::warning::planted ::stop-commands::pause") after this test ' +
        `read version ${stale.versionId}; nothing was written`
    )
  })
})
