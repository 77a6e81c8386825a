import { archiveStream, planArchive } from '../release/archive.js'
import { releaseId, type ReleaseSettings } from '../release/settings.js'
import type { ReleaseRun } from '../restart/release-steps.js'
import { ActionError } from '../lib/errors.js'

/**
 * The release this run ships, worked out before anything changes: what the archive holds (the
 * checked-out commit, release-include's files), its id, its REVISION text and the lock's holder.
 */
export async function planRelease(
  settings: ReleaseSettings,
  env: NodeJS.ProcessEnv,
  now: Date = new Date()
): Promise<ReleaseRun> {
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const githubSha = /^[0-9a-f]{40}$/.test(env.GITHUB_SHA ?? '') ? env.GITHUB_SHA : undefined
  const archive = await planArchive(settings, workspace, githubSha)
  const sha = archive.sha
  if (sha === undefined) {
    throw new ActionError(
      `${workspace} is not a git checkout and GITHUB_SHA is not a commit sha: a release is named after its commit.`
    )
  }
  const id = releaseId(sha, env.GITHUB_RUN_ID ?? '', env.GITHUB_RUN_ATTEMPT ?? '')
  const runUrl = workflowRunUrl(env)
  return {
    settings,
    id,
    revision: `${sha}\n${runUrl}`,
    holder: `release ${id} of ${runUrl}, since ${now.toISOString()}`,
    archive: () => archiveStream(archive)
  }
}

/** The workflow run's page, as the runner's variables give it. */
function workflowRunUrl(env: NodeJS.ProcessEnv): string {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT } = env
  if (!GITHUB_SERVER_URL || !GITHUB_REPOSITORY || !GITHUB_RUN_ID)
    return 'a run outside GitHub Actions'
  const attempt = GITHUB_RUN_ATTEMPT ? `/attempts/${GITHUB_RUN_ATTEMPT}` : ''
  return `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}${attempt}`
}
