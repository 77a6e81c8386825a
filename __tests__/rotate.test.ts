// Input "rotate" in-process: the undo edit, the checks before anything changes, the rotation and
// its undo against the local endpoint (the real SDK over HTTP), and the phase that ties them to
// the restart engine, with a scripted instance transport. The bundle's runs are in e2e-rotate.
import { jest } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newReport, type RunReport } from '../src/action/summary.js'
import { StoppedError, StopRequest } from '../src/lib/cancel.js'
import { ActionError } from '../src/lib/errors.js'
import { redact } from '../src/lib/log.js'
import { rotateAndRestart, type RotationPhase } from '../src/phases/rotate.js'
import { parseRate } from '../src/restart/rate.js'
import { checkServiceName, restartScript } from '../src/restart/script.js'
import type { InstanceTransport, RestartSettings, RestartTarget } from '../src/restart/transport.js'
import { applyEdit } from '../src/secrets/compare-and-swap.js'
import { readJsonSecret } from '../src/secrets/read.js'
import {
  checkRotation,
  rotateKeys,
  undoRotation,
  type RotateRequest
} from '../src/secrets/rotate.js'
import { parseFileCommand } from '../test-support/runner.js'
import {
  EXAMPLE_APP,
  secretsManagerFor,
  startLocalAws,
  type LocalAws
} from './helpers/local-aws.js'
import { recordingLogger, recordingOutputs } from './helpers/recording-logger.js'
import { actionLogger, actionOutputs } from '../src/lib/log.js'

// The action's own logger and outputs: the tests read what the runner would.
const actionIo = { log: actionLogger, outputs: actionOutputs }

const APP = 'FastAPIAppSecrets'
const NEW_JWT = 'new-jwt-"<&>%25::x'
const NEW_PASSWORD = 'new-password-\\u0041'

let aws: LocalAws
let dir: string
let stdout: string
const saved = process.env.GITHUB_OUTPUT

beforeEach(async () => {
  aws = await startLocalAws()
  aws.putSecret(APP, EXAMPLE_APP)
  dir = mkdtempSync(join(tmpdir(), 'sda-rotate-'))
  // The engine still writes its outputs and log lines through @actions/core.
  process.env.GITHUB_OUTPUT = join(dir, 'output')
  writeFileSync(process.env.GITHUB_OUTPUT, '')
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
})
afterEach(async () => {
  jest.restoreAllMocks()
  if (saved === undefined) delete process.env.GITHUB_OUTPUT
  else process.env.GITHUB_OUTPUT = saved
  await aws.stop()
  rmSync(dir, { recursive: true, force: true })
})

const request = (keys: string[], create = false): RotateRequest => ({
  keys,
  rules: { length: 32 },
  create
})
const readApp = () => readJsonSecret(secretsManagerFor(aws), APP, 'app')
const coreOutputs = () => parseFileCommand(readFileSync(join(dir, 'output'), 'utf8'))

describe('the undo edit (revert)', () => {
  const written = { from: 'written-by-this-run', to: 'old' }

  it('puts a key back only where it still holds what this run wrote', () => {
    expect(
      applyEdit(
        { a: 'written-by-this-run', b: 'edited-by-someone', c: 'x' },
        {
          revert: { a: written, b: written }
        }
      )
    ).toEqual({ a: 'old', b: 'edited-by-someone', c: 'x' })
  })

  it('removes a key this run created, and changes nothing when every key was edited since', () => {
    expect(
      applyEdit({ a: 'new', b: 'x' }, { revert: { a: { from: 'new', to: undefined } } })
    ).toEqual({ b: 'x' })
    expect(applyEdit({ a: 'other' }, { revert: { a: written } })).toBeUndefined()
  })

  it('defines a key named __proto__ as a key, not the prototype', () => {
    const values = JSON.parse('{"__proto__":"written-by-this-run"}') as Record<string, string>
    const next = applyEdit(values, { revert: { ['__proto__']: written } })
    expect(next && Object.getPrototypeOf(next)).toBe(Object.prototype)
    expect(JSON.stringify(next)).toBe('{"__proto__":"old"}')
  })
})

describe('checkRotation', () => {
  it('refuses keys the app secret lacks, naming them, unless rotate-create', async () => {
    const app = await readApp()
    await expect(
      checkRotation(secretsManagerFor(aws), app, request(['jwt_secret', 'jwt_secert']))
    ).rejects.toThrow(
      /names "jwt_secert", which the app secret "FastAPIAppSecrets" \(version .*\) does not have/
    )
    await expect(
      checkRotation(secretsManagerFor(aws), app, request(['jwt_secert'], true))
    ).resolves.toBeUndefined()
  })

  it("refuses a secret under Secrets Manager's own rotation, as DescribeSecret says", async () => {
    aws.enableRotation(APP, 'arn:aws:lambda:us-east-1:123456789012:function:Rotate')
    await expect(
      checkRotation(secretsManagerFor(aws), await readApp(), request(['jwt_secret']))
    ).rejects.toThrow("has Secrets Manager's own rotation turned on")
  })

  it('names the permission when DescribeSecret is denied', async () => {
    aws.deny('DescribeSecret')
    await expect(
      checkRotation(secretsManagerFor(aws), await readApp(), request(['jwt_secret']))
    ).rejects.toThrow('secretsmanager:DescribeSecret')
  })
})

describe('rotateKeys and undoRotation', () => {
  it('masks each new value before writing them as one version that keeps every other key', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    const client = secretsManagerFor(aws)
    const rotation = await rotateKeys(
      client,
      await readApp(),
      request(['jwt_secret', 'generated_password']),
      recordingLogger()
    )
    expect(redact(`a ${NEW_JWT} b ${NEW_PASSWORD}`)).toBe('a *** b ***')
    expect(aws.callsOf('PutSecretValue')).toHaveLength(1)
    expect(aws.secretValue(APP)).toEqual(
      expect.objectContaining({
        versionId: rotation.versionId,
        json: { ...EXAMPLE_APP, jwt_secret: NEW_JWT, generated_password: NEW_PASSWORD }
      })
    )
    expect(aws.secretValue(APP, 'AWSPREVIOUS').json).toEqual(EXAMPLE_APP)
  })

  it('refuses a value the log could not hide, before writing anything', async () => {
    aws.randomPasswords(['20261204'])
    await expect(
      rotateKeys(
        secretsManagerFor(aws),
        await readApp(),
        request(['jwt_secret']),
        recordingLogger()
      )
    ).rejects.toThrow('that the log could not hide (a plain number); nothing was changed')
    expect(aws.callsOf('PutSecretValue')).toHaveLength(0)
  })

  it('undoes only what this run wrote: a concurrent edit of a rotated key or another stays', async () => {
    aws.randomPasswords([NEW_JWT, NEW_PASSWORD])
    const client = secretsManagerFor(aws)
    const rotation = await rotateKeys(
      client,
      await readApp(),
      request(['jwt_secret', 'generated_password']),
      recordingLogger()
    )
    const edited = {
      ...aws.secretValue(APP).json,
      generated_password: 'set-by-hand',
      api_keys: 'k2'
    }
    aws.putSecret(APP, edited)
    const undone = await undoRotation(client, rotation, recordingLogger())
    expect(undone.kept).toEqual(['generated_password'])
    expect(aws.secretValue(APP)).toEqual(
      expect.objectContaining({
        versionId: undone.versionId,
        json: { ...edited, jwt_secret: EXAMPLE_APP.jwt_secret }
      })
    )
  })

  it('removes a key that rotate-create added', async () => {
    const client = secretsManagerFor(aws)
    const rotation = await rotateKeys(
      client,
      await readApp(),
      request(['session_key'], true),
      recordingLogger()
    )
    await undoRotation(client, rotation, recordingLogger())
    expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
  })
})

describe('rotateAndRestart', () => {
  type Behaviour = 'success' | 'fail' | 'hang'

  /** Instances that do what `behaviours` says, each call by address, in order. */
  function scripted(behaviours: Record<string, Behaviour[]>) {
    const ran: string[] = []
    const transport: InstanceTransport = {
      kind: 'instance',
      name: 'ssh',
      via: 'over SSH',
      stopped: () => 'left unknown',
      where: target => `${target.address}:22`,
      failure: error => ({ status: 'Failed', exitCode: 1, message: (error as Error).message }),
      async prepare(_targets, _settings, deps) {
        return async target => ({
          async run() {
            ran.push(target.address)
            const behaviour = behaviours[target.address]?.shift() ?? 'success'
            if (behaviour === 'hang') {
              await new Promise(resolve => deps.signal?.addEventListener('abort', resolve))
              throw new StoppedError(new StopRequest({ kind: 'signal', signal: 'SIGINT' }))
            }
            if (behaviour === 'fail') throw new ActionError(`not active on ${target.address}`)
            return 'active'
          }
        })
      }
    }
    return { transport, ran }
  }

  const settings = (maxErrors: string): RestartSettings => ({
    script: restartScript(checkServiceName('fastapi'), ''),
    maxConcurrency: parseRate('1'),
    maxErrors: parseRate(maxErrors)
  })
  const targets: RestartTarget[] = ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map(
    (address, i) => ({ instanceId: `i-0rotate00000000${i}`, address })
  )

  async function phase(): Promise<
    RotationPhase & { outputs: ReturnType<typeof recordingOutputs> }
  > {
    aws.randomPasswords([NEW_JWT])
    return {
      request: request(['jwt_secret']),
      app: await readApp(),
      client: secretsManagerFor(aws),
      log: recordingLogger(),
      outputs: recordingOutputs()
    }
  }

  it('sets rotated and app-secret-version-id when every instance comes back', async () => {
    const p = await phase()
    const report: RunReport = newReport()
    const { transport, ran } = scripted({})
    await rotateAndRestart(
      p,
      { settings: settings('0'), transport },
      targets,
      { ...actionIo, sleep: async () => {} },
      report
    )
    expect(ran).toEqual(targets.map(t => t.address))
    expect(Object.fromEntries(p.outputs.values)).toEqual({
      'app-secret-version-id': aws.secretValue(APP).versionId,
      rotated: '["jwt_secret"]'
    })
    expect(report.rotation?.undone).toBeUndefined()
  })

  it('undoes on one failure within max-errors 100%, and restarts again only the instances reached', async () => {
    const p = await phase()
    const report: RunReport = newReport()
    const { transport, ran } = scripted({ '198.51.100.2': ['fail'] })
    const failed = rotateAndRestart(
      p,
      { settings: settings('100%'), transport },
      targets,
      { ...actionIo, sleep: async () => {} },
      report
    )
    await expect(failed).rejects.toThrow(
      /failed \(with input "rotate", one failed instance is enough\), so it was undone: the old values are back in version .*; the 2 instances already restarted were restarted again on the old values\.\n.*not active on 198\.51\.100\.2/s
    )
    // The third never started; the first two are restarted again, on the old value.
    expect(ran).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.1', '198.51.100.2'])
    expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
    expect(p.outputs.values.get('app-secret-version-id')).toBe(aws.secretValue(APP).versionId)
    expect(p.outputs.values.has('rotated')).toBe(false)
    expect(p.outputs.values.get('restarted')).toBe('false')
    // The summary keeps the failed restart's table, not the second restart's.
    expect(report.fleet?.results.map(r => r.status)).toEqual(['Success', 'Failed', 'NotStarted'])
    expect(report.rotation?.undone?.restartedAgain).toBe(
      'the 2 instances already restarted were restarted again on the old values'
    )
  })

  it('says so when restarting again fails too', async () => {
    const p = await phase()
    const { transport } = scripted({ '198.51.100.1': ['fail', 'fail'] })
    await expect(
      rotateAndRestart(
        p,
        { settings: settings('0'), transport },
        targets.slice(0, 1),
        { ...actionIo, sleep: async () => {} },
        newReport()
      )
    ).rejects.toThrow(
      'restarting the 1 instance already restarted again on the old values failed too'
    )
    expect(aws.secretValue(APP).json).toEqual(EXAMPLE_APP)
  })

  it('leaves the rotation in place on a stop, and says so', async () => {
    const p = await phase()
    const controller = new AbortController()
    const { transport } = scripted({ '198.51.100.1': ['hang'] })
    const stopped = rotateAndRestart(
      p,
      { settings: settings('0'), transport },
      targets.slice(0, 1),
      { ...actionIo, sleep: async () => {}, signal: controller.signal },
      newReport()
    )
    setTimeout(() => controller.abort(), 50)
    await expect(stopped).rejects.toThrow(
      /the rotated "jwt_secret" keep their new values \(version .*\): restart again to load them everywhere/
    )
    expect(aws.callsOf('PutSecretValue')).toHaveLength(1)
    expect(aws.secretValue(APP).json.jwt_secret).toBe(NEW_JWT)
    expect(coreOutputs().restarted).toBeUndefined()
    expect(stdout).not.toContain(NEW_JWT)
  })
})
