import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { promisify } from 'node:util'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  UploadPartCommand
} from '@aws-sdk/client-s3'
import * as esbuild from 'esbuild'
import { ActionError } from '../src/lib/errors.js'
import { StoppedError, StopRequest } from '../src/lib/cancel.js'
import {
  DEFAULT_RELEASE_PREFIX,
  checkReleaseBucket,
  checkReleasePrefix
} from '../src/lib/s3-names.js'
import {
  PART_BYTES,
  deleteRelease,
  presignedDownload,
  uploadRelease
} from '../src/release/s3-release.js'
import { recordingLogger } from './helpers/recording-logger.js'
import { repoRoot } from './helpers/run-bundle.js'
import { s3For, startLocalAws, type LocalAws } from './helpers/local-aws.js'

const execFileAsync = promisify(execFile)
const BUCKET = 'deploy-releases'
const KEY = `${DEFAULT_RELEASE_PREFIX}0123abcd.tar.gz`

/** `bytes` as a stream of 64 KiB chunks, the way a gzip stream hands out its output. */
function chunked(bytes: Buffer): Readable {
  const chunks = []
  for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536))
  return Readable.from(chunks)
}

/** A stream that gives `good` bytes, then fails as a broken archive would. */
function failingAfter(good: Buffer, message: string): Readable {
  async function* chunks() {
    yield* chunked(good)
    throw new Error(message)
  }
  return Readable.from(chunks())
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

let aws: LocalAws
beforeEach(async () => {
  aws = await startLocalAws()
  aws.s3.addBucket(BUCKET)
})
afterEach(async () => {
  await aws.stop()
})

describe('uploadRelease', () => {
  it('sends a small archive in one PutObject, with its SHA-256 and size', async () => {
    const archive = randomBytes(300 * 1024)
    const s3 = s3For(aws)
    const log = recordingLogger()
    const result = await uploadRelease({
      s3,
      bucket: BUCKET,
      key: KEY,
      body: chunked(archive),
      log
    })
    expect(result).toEqual({ sha256: sha256(archive), bytes: archive.length })
    expect(aws.s3.object(BUCKET, KEY)?.body.equals(archive)).toBe(true)
    // The ETag S3 gives a single upload: the MD5 of the bytes, quoted.
    const md5 = createHash('md5').update(archive).digest('hex')
    expect(aws.s3.object(BUCKET, KEY)?.etag).toBe(`"${md5}"`)
    expect(aws.s3.requests.map(r => r.action)).toEqual(['PutObject'])
    expect(log.said).toEqual([
      [
        'info',
        `Uploaded the release archive to s3://${BUCKET}/${KEY}: ${archive.length} bytes, sha256 ${sha256(archive)}.`
      ]
    ])
    s3.destroy()
  })

  it('sends a large archive as a multipart upload of 8 MiB parts, completed', async () => {
    const archive = randomBytes(2 * PART_BYTES + 1234567)
    const s3 = s3For(aws)
    const result = await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(archive) })
    expect(result).toEqual({ sha256: sha256(archive), bytes: archive.length })
    const stored = aws.s3.object(BUCKET, KEY)
    expect(stored?.body.equals(archive)).toBe(true)
    expect(stored?.etag).toMatch(/^"[0-9a-f]{32}-3"$/)
    expect(aws.s3.requests.map(r => r.action).sort()).toEqual([
      'CompleteMultipartUpload',
      'CreateMultipartUpload',
      'UploadPart',
      'UploadPart',
      'UploadPart'
    ])
    expect(aws.s3.requestsOf('UploadPart').map(r => r.bytes)).toEqual(
      expect.arrayContaining([PART_BYTES, PART_BYTES, 1234567])
    )
    expect(aws.s3.openUploads()).toEqual([])
    s3.destroy()
  })

  it('names the call, the object and the input when the bucket refuses, leaving nothing', async () => {
    aws.s3.denyBucket(BUCKET)
    const s3 = s3For(aws)
    const body = chunked(randomBytes(2 * PART_BYTES + 10))
    const failure = uploadRelease({ s3, bucket: BUCKET, key: KEY, body })
    await expect(failure).rejects.toThrow(ActionError)
    await expect(failure).rejects.toThrow(
      `Access denied: s3:PutObject on the release archive s3://${BUCKET}/${KEY} (input "release-bucket"). ` +
        `Allow "s3:PutObject" on "arn:aws:s3:::${BUCKET}/${KEY}"`
    )
    expect(aws.s3.keys(BUCKET)).toEqual([])
    expect(aws.s3.openUploads()).toEqual([])
    // The producer of the archive is told to stop: nothing reads it any more.
    expect(body.destroyed).toBe(true)
    s3.destroy()
  })

  it('names a bucket that does not exist', async () => {
    const s3 = s3For(aws)
    const failure = uploadRelease({
      s3,
      bucket: 'no-such-bucket',
      key: KEY,
      body: chunked(randomBytes(10))
    })
    await expect(failure).rejects.toThrow(
      `s3:PutObject on the release archive s3://no-such-bucket/${KEY} (input "release-bucket") ` +
        'failed (NoSuchBucket, HTTP 404): The specified bucket does not exist'
    )
    s3.destroy()
  })

  it('aborts the multipart upload when the archive fails midway, and says so', async () => {
    const s3 = s3For(aws)
    const body = failingAfter(randomBytes(PART_BYTES + 65536), 'gzip: invalid\n::error::x')
    const failure = uploadRelease({ s3, bucket: BUCKET, key: KEY, body })
    await expect(failure).rejects.toThrow(
      `The release archive failed while it was uploaded to s3://${BUCKET}/${KEY} ` +
        `(gzip: invalid ::error::x); nothing of it was left in bucket "${BUCKET}".`
    )
    expect(aws.s3.requestsOf('CreateMultipartUpload')).toHaveLength(1)
    expect(aws.s3.requestsOf('AbortMultipartUpload')).toHaveLength(1)
    expect(aws.s3.requestsOf('CompleteMultipartUpload')).toHaveLength(0)
    expect(aws.s3.openUploads()).toEqual([])
    expect(aws.s3.keys(BUCKET)).toEqual([])
  })

  it('aborts the multipart upload when S3 fails a part for good', async () => {
    const s3 = s3For(aws, 1)
    aws.s3.failNext('UploadPart', {
      status: 500,
      code: 'InternalError',
      message: 'We encountered an internal error. Please try again.'
    })
    const failure = uploadRelease({
      s3,
      bucket: BUCKET,
      key: KEY,
      body: chunked(randomBytes(2 * PART_BYTES + 1))
    })
    await expect(failure).rejects.toThrow(
      `AWS failed s3:PutObject on the release archive s3://${BUCKET}/${KEY} (input "release-bucket") (InternalError, HTTP 500)`
    )
    expect(aws.s3.requestsOf('AbortMultipartUpload')).toHaveLength(1)
    expect(aws.s3.openUploads()).toEqual([])
    expect(aws.s3.keys(BUCKET)).toEqual([])
  })

  it('stops when the run is cancelled, aborting the multipart upload before it returns', async () => {
    const s3 = s3For(aws)
    const controller = new AbortController()
    // An archive still being made: a first part, then nothing until the run is cancelled.
    async function* slowArchive() {
      yield* chunked(randomBytes(PART_BYTES + 65536))
      controller.abort(new StopRequest({ kind: 'signal', signal: 'SIGINT' }))
      await new Promise(resolve => setTimeout(resolve, 60000).unref())
    }
    const body = Readable.from(slowArchive())
    const failure = uploadRelease({ s3, bucket: BUCKET, key: KEY, body, signal: controller.signal })
    await expect(failure).rejects.toThrow(StoppedError)
    await expect(failure).rejects.toThrow(
      `The run was cancelled (SIGINT): the release upload stopped; nothing of it was left in bucket "${BUCKET}".`
    )
    expect(aws.s3.requestsOf('AbortMultipartUpload')).toHaveLength(1)
    expect(aws.s3.openUploads()).toEqual([])
    expect(aws.s3.keys(BUCKET)).toEqual([])
    expect(body.destroyed).toBe(true)
  })

  it('does not start when the run is already stopped', async () => {
    const controller = new AbortController()
    controller.abort()
    const s3 = s3For(aws)
    await expect(
      uploadRelease({
        s3,
        bucket: BUCKET,
        key: KEY,
        body: chunked(randomBytes(10)),
        signal: controller.signal
      })
    ).rejects.toThrow(StoppedError)
    expect(aws.s3.requests).toEqual([])
  })
})

describe('presignedDownload', () => {
  it('gives a URL that Node fetch downloads without credentials', async () => {
    const archive = randomBytes(100000)
    const s3 = s3For(aws)
    await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(archive) })
    const url = await presignedDownload(s3, BUCKET, KEY, 900)
    for (const name of ['X-Amz-Algorithm', 'X-Amz-Expires', 'X-Amz-Date', 'X-Amz-Signature'])
      expect(new URL(url).searchParams.has(name)).toBe(true)
    const answer = await fetch(url)
    expect(answer.status).toBe(200)
    expect(Buffer.from(await answer.arrayBuffer()).equals(archive)).toBe(true)
    expect(aws.s3.requestsOf('GetObject')).toEqual([
      expect.objectContaining({ presigned: true, status: 200, key: KEY })
    ])
  })

  it('gives a URL that S3 refuses once it has expired, with S3’s own answer', async () => {
    const s3 = s3For(aws)
    await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(randomBytes(10)) })
    const url = await presignedDownload(s3, BUCKET, KEY, 60)
    aws.s3.advanceClock(61)
    const answer = await fetch(url)
    expect(answer.status).toBe(403)
    // An expired presigned URL as S3 answers it (quoted in lukejacksonn/react-slack-clone#27):
    //   <Error><Code>AccessDenied</Code><Message>Request has expired</Message>
    //   <X-Amz-Expires>60</X-Amz-Expires><Expires>2018-03-29T11:17:34Z</Expires>
    //   <ServerTime>2018-03-29T11:27:42Z</ServerTime><RequestId>FED2CBD7BC00CFFC</RequestId>
    //   <HostId>0fKFeZ57...</HostId></Error>
    expect(await answer.text()).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>60<\/X-Amz-Expires><Expires>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/Expires><ServerTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/ServerTime><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/
    )
  })

  it('is refused without its signature, and refuses a lifetime SigV4 cannot sign', async () => {
    const s3 = s3For(aws)
    await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(randomBytes(10)) })
    const url = new URL(await presignedDownload(s3, BUCKET, KEY, 60))
    url.searchParams.delete('X-Amz-Signature')
    const unsigned = await fetch(url)
    expect(unsigned.status).toBe(400)
    expect(await unsigned.text()).toContain('<Code>AuthorizationQueryParametersError</Code>')
    const bare = await fetch(`${aws.url}/${BUCKET}/${KEY}`)
    expect(bare.status).toBe(403)
    expect(await bare.text()).toContain('<Code>AccessDenied</Code><Message>Access Denied</Message>')
    await expect(presignedDownload(s3, BUCKET, KEY, 7 * 24 * 3600 + 1)).rejects.toThrow(
      'A presigned URL lives 1 to 604800 seconds, not 604801.'
    )
    await expect(presignedDownload(s3, BUCKET, KEY, 0)).rejects.toThrow(RangeError)
  })
})

describe('deleteRelease', () => {
  it('deletes the archive', async () => {
    const s3 = s3For(aws)
    await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(randomBytes(10)) })
    const log = recordingLogger()
    await expect(deleteRelease(s3, BUCKET, KEY, log)).resolves.toBe(true)
    expect(aws.s3.keys(BUCKET)).toEqual([])
    expect(log.said).toEqual([])
  })

  it('only warns when it cannot, naming the object and a lifecycle rule', async () => {
    const s3 = s3For(aws)
    await uploadRelease({ s3, bucket: BUCKET, key: KEY, body: chunked(randomBytes(10)) })
    aws.s3.denyBucket(BUCKET)
    const log = recordingLogger()
    await expect(deleteRelease(s3, BUCKET, KEY, log)).resolves.toBe(false)
    expect(aws.s3.keys(BUCKET)).toEqual([KEY])
    expect(log.said).toEqual([
      [
        'warning',
        `Could not delete the release archive s3://${BUCKET}/${KEY}: Access denied: s3:DeleteObject on ` +
          `the release archive s3://${BUCKET}/${KEY}. Allow "s3:DeleteObject" on "arn:aws:s3:::${BUCKET}/${KEY}" ` +
          'in the policy of the role or user the workflow runs as (see docs/iam-policy.md of ' +
          'secrets-deploy-action). Delete it by hand, or give the bucket a lifecycle rule that ' +
          'expires objects under the release prefix after a day, so that archives a run could not ' +
          'delete go by themselves.'
      ]
    ])
  })
})

describe('the release bucket and prefix inputs', () => {
  it('takes bucket names that keep S3’s rules', () => {
    for (const name of ['abc', 'my.release-bucket-1', 'a'.repeat(63), '1bucket'])
      expect(checkReleaseBucket(name)).toBe(name)
  })

  it.each([
    ['ab', 'a bucket name is 3 to 63 characters long'],
    ['a'.repeat(64), 'a bucket name is 3 to 63 characters long'],
    ['My-Bucket', 'a bucket name has only lowercase letters, digits, "." and "-"'],
    ['s3://bucket', 'a bucket name has only lowercase letters, digits, "." and "-"'],
    ['arn:aws:s3:::bucket', 'a bucket name has only lowercase letters, digits, "." and "-"'],
    ['bucket_name', 'a bucket name has only lowercase letters, digits, "." and "-"'],
    ['-bucket', 'a bucket name begins and ends with a letter or a digit'],
    ['bucket.', 'a bucket name begins and ends with a letter or a digit'],
    ['my..bucket', 'a bucket name has no two dots in a row'],
    ['192.168.5.4', 'a bucket name is not an IP address'],
    ['xn--bucket', 'S3 keeps names that begin with']
  ])('refuses the bucket %j: %s', (name, problem) => {
    expect(() => checkReleaseBucket(name)).toThrow(ActionError)
    expect(() => checkReleaseBucket(name)).toThrow(
      `Input "release-bucket" is ${JSON.stringify(name)}, which is not an S3 bucket name: ${problem}`
    )
  })

  it('shows a name built to drive the runner as dead text, on one line', () => {
    let message = ''
    try {
      checkReleaseBucket('x\n::error::owned')
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('"x ::error::owned"')
    expect(message).not.toMatch(/\n/)
  })

  it('takes the default prefix when empty, and prefixes of safe characters', () => {
    expect(checkReleasePrefix('')).toBe('secrets-deploy-action/releases/')
    for (const prefix of ['releases/', "team-a/(prod)!/it's_v1.2/", 'r'])
      expect(checkReleasePrefix(prefix)).toBe(prefix)
    expect(checkReleasePrefix('a'.repeat(512))).toBe('a'.repeat(512))
  })

  it.each([
    ['/releases/', 'it must not begin with "/"'],
    ['releases/../secrets/', 'it must not have a "." or ".." segment'],
    ['a/./b/', 'it must not have a "." or ".." segment'],
    ['..', 'it must not have a "." or ".." segment'],
    ['releases/*', "it may hold only letters, digits and / ! - _ . ' ( )"],
    ['rel eases/', "it may hold only letters, digits and / ! - _ . ' ( )"],
    ['$(reboot)/', "it may hold only letters, digits and / ! - _ . ' ( )"],
    ['a\nb', "it may hold only letters, digits and / ! - _ . ' ( )"],
    ['a'.repeat(513), 'it is longer than 512 characters']
  ])('refuses the prefix %j: %s', (prefix, problem) => {
    expect(() => checkReleasePrefix(prefix)).toThrow(ActionError)
    expect(() => checkReleasePrefix(prefix)).toThrow(`Input "release-prefix" is `)
    expect(() => checkReleasePrefix(prefix)).toThrow(
      `which is not a key prefix this action uses: ${problem}`
    )
  })
})

describe("the upload's memory", () => {
  /**
   * Runs the bundled program that uploads `mib` MiB (made as it is sent, never held) with
   * uploadRelease, in a process of its own, and answers its peak RSS in KiB: the VmHWM of
   * /proc/self/status, which counts this program alone (ru_maxrss would also count the pages of
   * the test's process it was forked from, which holds the objects uploaded).
   */
  async function peakRssUploading(program: string, mib: number): Promise<number> {
    const { stdout } = await execFileAsync(process.execPath, [program, String(mib)], {
      env: { ...process.env, ...aws.environment(), NODE_OPTIONS: '' }
    })
    const { result, peakKib } = JSON.parse(stdout)
    expect(result.bytes).toBe(mib * 1024 * 1024)
    expect(aws.s3.object(BUCKET, `${mib}.tar.gz`)?.body.length).toBe(mib * 1024 * 1024)
    await deleteRelease(s3For(aws), BUCKET, `${mib}.tar.gz`, recordingLogger())
    return peakKib
  }

  it('stays bounded by the parts in flight, whatever the archive’s size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 's3-memory-'))
    try {
      const entry = join(dir, 'upload.ts')
      writeFileSync(
        entry,
        `import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { S3Client } from '@aws-sdk/client-s3'
import { uploadRelease } from ${JSON.stringify(join(repoRoot, 'src/release/s3-release.ts'))}
const mib = Number(process.argv[2])
const block = randomBytes(65536)
async function* archive() { for (let i = 0; i < mib * 16; i++) yield Buffer.from(block) }
const s3 = new S3Client({ region: process.env.AWS_REGION })
const result = await uploadRelease({ s3, bucket: ${JSON.stringify(BUCKET)}, key: mib + '.tar.gz', body: Readable.from(archive()) })
s3.destroy()
const peakKib = Number(/^VmHWM:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1])
process.stdout.write(JSON.stringify({ result, peakKib }))
`
      )
      const program = join(dir, 'upload.mjs')
      await esbuild.build({
        entryPoints: [entry],
        outfile: program,
        bundle: true,
        platform: 'node',
        format: 'esm',
        mainFields: ['module', 'main'],
        nodePaths: [join(repoRoot, 'node_modules')],
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
        },
        logLevel: 'error'
      })
      // Eight parts against twenty-four: held whole, the larger would need 128 MiB more.
      const small = await peakRssUploading(program, 64)
      const large = await peakRssUploading(program, 192)
      expect(large - small).toBeLessThan(32 * 1024)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the local S3 (test-support/s3-objects.js)', () => {
  it('answers as S3 does for an upload that is gone, a part too small, a key not there', async () => {
    const s3 = s3For(aws, 1)
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: KEY })
    )
    const part = (PartNumber: number, Body: Buffer) =>
      s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: KEY, UploadId, PartNumber, Body }))
    const first = await part(1, randomBytes(1024))
    const second = await part(2, randomBytes(1024))
    const complete = s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: KEY,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.ETag },
            { PartNumber: 2, ETag: second.ETag }
          ]
        }
      })
    )
    await expect(complete).rejects.toMatchObject({ name: 'EntityTooSmall' })
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: KEY, UploadId }))
    // An upload aborted, as S3 answers (quoted in versity/versitygw#2035):
    //   <?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The
    //   specified upload does not exist. The upload ID may be invalid, or the upload may have been
    //   aborted or completed.</Message><UploadId>GdQjuAREC3dX...</UploadId><RequestId>JMJRSF9SRH477DQN
    //   </RequestId><HostId>nY1Bc/xJeAYx...</HostId></Error>
    await expect(part(3, randomBytes(10))).rejects.toMatchObject({
      name: 'NoSuchUpload',
      message:
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      $metadata: { httpStatusCode: 404 }
    })
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).rejects.toMatchObject(
      {
        name: 'NoSuchKey',
        $metadata: { httpStatusCode: 404 }
      }
    )
    expect(aws.s3.openUploads()).toEqual([])
    s3.destroy()
  })

  it('makes a multipart ETag from the parts’ MD5s, and refuses bytes that do not match their checksum', async () => {
    const archive = randomBytes(PART_BYTES + 100)
    await uploadRelease({ s3: s3For(aws), bucket: BUCKET, key: KEY, body: chunked(archive) })
    const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest()
    const parts = Buffer.concat([
      md5(archive.subarray(0, PART_BYTES)),
      md5(archive.subarray(PART_BYTES))
    ])
    expect(aws.s3.object(BUCKET, KEY)?.etag).toBe(
      `"${createHash('md5').update(parts).digest('hex')}-2"`
    )
    // A body changed on the way: S3 recomputes the CRC32 the SDK sent and refuses it.
    const tampered = await fetch(`${aws.url}/${BUCKET}/other`, {
      method: 'PUT',
      headers: {
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDLOCALENDPOINT/20260101/us-east-1/s3/aws4_request',
        'x-amz-checksum-crc32': 'AAAAAA=='
      },
      body: 'changed'
    })
    expect(tampered.status).toBe(400)
    expect(await tampered.text()).toContain('<Code>BadDigest</Code>')
    expect(aws.s3.keys(BUCKET)).toEqual([KEY])
  })
})
