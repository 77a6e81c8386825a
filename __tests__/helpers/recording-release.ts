import { PassThrough, type Readable } from 'node:stream'
import type { InstanceRelease, ReleaseRun, ReleaseSteps } from '../../src/restart/release-steps.js'
import type { InstanceTransport } from '../../src/restart/transport.js'

/** How one instance of the recording transport goes through a release. */
export interface ReleaseBehaviour {
  /** Where current pointed before; undefined: a first release. */
  previous?: string
  failReceive?: boolean
  failActivate?: boolean
}

/**
 * A transport that ships releases to nobody: each step an instance takes is recorded as
 * "<instance id> <step>" (receive, activate, activate+finish, rollback to <id>, finish, abandon),
 * and fails where `behaviours` says.
 */
export function recordingReleaseTransport(
  record: (step: string) => void,
  behaviours: Record<string, ReleaseBehaviour>
): InstanceTransport & { releases: ReleaseSteps } {
  const releases: ReleaseSteps = {
    streamsArchive: true,
    async prepare() {
      return async target => {
        const id = target.instanceId as string
        const behaviour = behaviours[id] ?? {}
        const step = async (name: string, fail = false) => {
          record(`${id} ${name}`)
          await new Promise(resolve => setImmediate(resolve))
          if (fail) throw new Error(`${name} failed on ${id}`)
        }
        const instance: InstanceRelease = {
          async receive(archive: Readable | undefined) {
            archive?.resume()
            await step('receive', behaviour.failReceive)
            return { previous: behaviour.previous }
          },
          async activate(_output, finish) {
            await step(finish ? 'activate+finish' : 'activate', behaviour.failActivate)
            return 'active'
          },
          rollback: async previous => {
            await step(`rollback to ${previous}`)
            return 'active'
          },
          finish: () => step('finish'),
          abandon: () => step('abandon'),
          close: () => undefined
        }
        return instance
      }
    }
  }
  return {
    kind: 'instance',
    name: 'ssh',
    via: 'over SSH',
    where: target => `${target.address}:22`,
    stopped: () => 'stopped',
    failure: error => ({ status: 'Failed', exitCode: 1, message: (error as Error).message }),
    prepare: async () => async () => ({ run: async () => '' }),
    releases
  }
}

/** A release of nothing in particular, to /opt/fastapi. */
export const TEST_RELEASE: ReleaseRun = {
  settings: {
    releasePath: '',
    include: [],
    appDir: '/opt/fastapi',
    command: '',
    timeoutSeconds: 600,
    keep: 5,
    rollbackOnFailure: true
  },
  id: '0123456789ab-1-1',
  revision: 'x',
  holder: 'h',
  archive: () => new PassThrough().end(Buffer.from('archive'))
}
