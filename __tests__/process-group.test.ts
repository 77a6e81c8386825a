import { readFileSync } from 'node:fs'
import { runProcessGroup } from '../src/lib/process-group.js'
import { StopRequest } from '../src/lib/cancel.js'

/**
 * Whether a process of that id still runs: a zombie (state Z in /proc, dead and waiting for a
 * reaper, which a container's first process may never be) does not.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

describe('runProcessGroup', () => {
  it('passes the exit code and every line of both streams', async () => {
    const lines: string[] = []
    const result = await runProcessGroup({
      command: 'sh',
      args: ['-c', 'echo out; echo err >&2; exit 3'],
      cwd: '.',
      env: { PATH: process.env.PATH ?? '' },
      onLine: line => lines.push(line)
    })
    expect(result).toEqual({ exitCode: 3, exitSignal: null, stopped: false })
    expect(lines.sort()).toEqual(['err', 'out'])
  })

  it('stops the whole group when the signal aborts, and what the program started with it', async () => {
    const controller = new AbortController()
    const lines: string[] = []
    const running = runProcessGroup({
      command: 'sh',
      // The grandchild ignores SIGINT, as a CLI's child may: the later signals still reach it.
      args: ['-c', 'sh -c \'trap "" INT; echo $$; sleep 30\' & wait'],
      cwd: '.',
      env: { PATH: process.env.PATH ?? '' },
      onLine: line => {
        lines.push(line)
        controller.abort(new StopRequest({ kind: 'signal', signal: 'SIGTERM' }))
      },
      signal: controller.signal
    })
    const result = await running
    expect(result.stopped).toBe(true)
    expect(alive(Number(lines[0]))).toBe(false)
  })

  it('leaves nothing of the group running after the program itself exits', async () => {
    const lines: string[] = []
    await runProcessGroup({
      command: 'sh',
      args: ['-c', "sh -c 'echo $$; exec sleep 30' & sleep 0.2"],
      cwd: '.',
      env: { PATH: process.env.PATH ?? '' },
      onLine: line => lines.push(line)
    })
    expect(alive(Number(lines[0]))).toBe(false)
  })

  it('rejects when the program cannot be started', async () => {
    await expect(
      runProcessGroup({
        command: '/nonexistent/cdk',
        args: [],
        cwd: '.',
        env: {},
        onLine: () => undefined
      })
    ).rejects.toThrow('ENOENT')
  })
})
