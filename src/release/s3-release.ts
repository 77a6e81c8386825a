import { createHash } from 'node:crypto'
import { pipeline, Transform, type Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import { describeAwsError, type AwsCallContext } from '../aws/errors.js'
import { stopRequest, StoppedError, throwIfStopped } from '../lib/cancel.js'
import { ActionError } from '../lib/errors.js'
import { quoteUntrusted, type Logger } from '../lib/log.js'

// A release archive's trip through S3 for instances that download it themselves (SSM): uploaded
// as it is made, handed out as a presigned URL, deleted when the release is done. The S3 client's
// helpers are imported when first used, like the client itself (src/aws/clients.ts): a run that
// ships no release through a bucket never loads them.

/**
 * The upload's memory: lib-storage's Upload cuts the stream into parts of PART_BYTES and keeps
 * PARTS_IN_FLIGHT of them in flight while it fills the next (joining its chunks into one buffer),
 * so it holds about (PARTS_IN_FLIGHT + 2) x PART_BYTES = 32 MiB of the archive at a time, whatever
 * its size (10,000 parts of 8 MiB: archives up to 78 GiB). A test holds the peak RSS of a 192 MiB
 * upload within 32 MiB of a 64 MiB one. An archive smaller than one part goes in one PutObject.
 */
export const PART_BYTES = 8 * 1024 * 1024
export const PARTS_IN_FLIGHT = 2

export interface ReleaseUpload {
  s3: S3Client
  bucket: string
  key: string
  /** The archive as it is made (a gzip stream of unknown length); read once, never held whole. */
  body: Readable
  signal?: AbortSignal
  log?: Logger
}

export interface UploadedRelease {
  /** SHA-256 of the bytes uploaded, in hex: what each instance checks its download against. */
  sha256: string
  bytes: number
}

const where = (bucket: string, key: string) => `s3://${bucket}/${key}`

/** What the upload is, for describeAwsError: every multipart call needs s3:PutObject. */
function putCall(bucket: string, key: string): AwsCallContext {
  return {
    action: 's3:PutObject',
    subject: `the release archive ${where(bucket, key)} (input "release-bucket")`,
    resource: `arn:aws:s3:::${bucket}/${key}`
  }
}

/** Passes the bytes on unchanged, hashing and counting them. */
function measuring(): Transform & { digest(): UploadedRelease } {
  const hash = createHash('sha256')
  let bytes = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    }
  })
  return Object.assign(stream, { digest: () => ({ sha256: hash.digest('hex'), bytes }) })
}

/**
 * Streams `body` to s3://bucket/key, in one PutObject when it is small, else as a multipart upload
 * (PART_BYTES, PARTS_IN_FLIGHT), and returns the SHA-256 and size of what was sent. On any failure
 * (S3 refusing, the archive's own stream failing, `signal` stopping the run) lib-storage aborts the
 * multipart upload (leavePartsOnError is false) before this rejects, so no parts are left to pay
 * for. The stop is made by failing the stream, not by Upload.abort(): that rejects at once and
 * sends the AbortMultipartUpload later, in the background, which a run ending then would never send.
 */
export async function uploadRelease(upload: ReleaseUpload): Promise<UploadedRelease> {
  const { s3, bucket, key, body, signal, log } = upload
  throwIfStopped(signal)
  const measured = measuring()
  let sourceError: unknown
  pipeline(body, measured, error => {
    if (error && !signal?.aborted) sourceError ??= error
  })
  const stop = () => measured.destroy(new StoppedError(stopRequest(signal as AbortSignal)))
  signal?.addEventListener('abort', stop, { once: true })
  try {
    const { Upload } = await import('@aws-sdk/lib-storage')
    await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: measured, ContentType: 'application/gzip' },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false
    }).done()
  } catch (error) {
    throw uploadFailure(error, upload, sourceError)
  } finally {
    signal?.removeEventListener('abort', stop)
    // After a failure nothing reads the archive any more: end its producer (git archive) too.
    measured.destroy()
  }
  const result = measured.digest()
  log?.info(
    `Uploaded the release archive to ${where(bucket, key)}: ${result.bytes} bytes, sha256 ${result.sha256}.`
  )
  return result
}

/** Why the upload failed, told once: the stop, the archive's own error, or S3's answer. */
function uploadFailure(error: unknown, upload: ReleaseUpload, sourceError: unknown): ActionError {
  const { bucket, key, signal } = upload
  const left = `nothing of it was left in bucket "${bucket}"`
  if (signal?.aborted)
    return new StoppedError(stopRequest(signal), `the release upload stopped; ${left}`)
  if (sourceError !== undefined) {
    if (sourceError instanceof ActionError) return sourceError
    const message = sourceError instanceof Error ? sourceError.message : String(sourceError)
    return new ActionError(
      `The release archive failed while it was uploaded to ${where(bucket, key)} ` +
        `(${quoteUntrusted(message, 512)}); ${left}.`
    )
  }
  return describeAwsError(error, putCall(bucket, key))
}

/** SigV4's limit: a presigned URL lives at most seven days. */
const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600

/**
 * A URL that downloads s3://bucket/key without credentials until it expires: a bearer token (with
 * temporary credentials it carries their session token too), so mask it and never log it. It
 * also dies with the credentials that signed it, whichever comes first.
 */
export async function presignedDownload(
  s3: S3Client,
  bucket: string,
  key: string,
  expiresInSeconds: number
): Promise<string> {
  if (
    !Number.isInteger(expiresInSeconds) ||
    expiresInSeconds < 1 ||
    expiresInSeconds > MAX_PRESIGNED_SECONDS
  )
    throw new RangeError(
      `A presigned URL lives 1 to ${MAX_PRESIGNED_SECONDS} seconds, not ${expiresInSeconds}.`
    )
  const [{ GetObjectCommand }, { getSignedUrl }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/s3-request-presigner')
  ])
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), {
    expiresIn: expiresInSeconds
  })
}

/**
 * Deletes the release archive once every instance has it. A failure only warns: the release is
 * done, and the object costs little; the warning names it and how to have S3 clean up by itself.
 * Resolves whether it was deleted.
 */
export async function deleteRelease(
  s3: S3Client,
  bucket: string,
  key: string,
  log: Logger
): Promise<boolean> {
  try {
    const { DeleteObjectCommand } = await import('@aws-sdk/client-s3')
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
    return true
  } catch (error) {
    const why = describeAwsError(error, {
      action: 's3:DeleteObject',
      subject: `the release archive ${where(bucket, key)}`,
      resource: `arn:aws:s3:::${bucket}/${key}`
    })
    log.warning(
      `Could not delete the release archive ${where(bucket, key)}: ${why.message} Delete it by ` +
        'hand, or give the bucket a lifecycle rule that expires objects under the release prefix ' +
        'after a day, so that archives a run could not delete go by themselves.'
    )
    return false
  }
}
