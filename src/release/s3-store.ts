import type { S3Client } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'
import type { Logger } from '../lib/log.js'
import type { ReleaseBucket } from './settings.js'
import { deleteRelease, presignedDownload, uploadRelease } from './s3-release.js'

// Where a release over SSM waits for its instances: one object in release-bucket, uploaded once,
// fetched by each instance with a presigned URL, deleted when the run ends.

/** The archive, stored: its sha256 (hex), checked on every instance, and the URL to fetch it. */
export interface StoredArchive {
  sha256: string
  /** Its size: no instance downloads more than this. */
  bytes: number
  url: string
}

/** Where the archive goes, and how the instances fetch it. */
export interface ReleaseStore {
  /** `s3://bucket/key`, as the log names it. */
  readonly name: string
  /** Uploads the archive once; the URL expires after `expiresInSeconds`. */
  put(archive: Readable, expiresInSeconds: number, signal?: AbortSignal): Promise<StoredArchive>
  /** Deletes the archive, if it was put; warns on failure, never rejects. */
  remove(): Promise<void>
}

/** The release's object: `<release-prefix><release-id>.tar.gz` in release-bucket. */
export function s3ReleaseStore(
  s3: S3Client,
  { bucket, prefix }: ReleaseBucket,
  releaseId: string,
  log: Logger
): ReleaseStore {
  const key = `${prefix}${releaseId}.tar.gz`
  let put = false
  return {
    name: `s3://${bucket}/${key}`,
    async put(archive, expiresInSeconds, signal) {
      put = true
      const { sha256, bytes } = await uploadRelease({ s3, bucket, key, body: archive, signal, log })
      return { sha256, bytes, url: await presignedDownload(s3, bucket, key, expiresInSeconds) }
    },
    async remove() {
      if (put) await deleteRelease(s3, bucket, key, log)
    }
  }
}
