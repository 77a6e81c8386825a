// The local endpoint's S3 (test-support/aws-endpoint.js hands it every request whose path is not
// "/"): path-style REST requests, /<bucket>/<key>, which is how the AWS SDK addresses an endpoint
// whose host is an IP address. It speaks S3's wire format: PutObject, the multipart upload
// (CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload), GetObject
// (signed or through a presigned URL, whose expiry it checks), DeleteObject; ETags as S3 makes them
// (the MD5 of the bytes; for a multipart object the MD5 of the parts' MD5s and "-<parts>"); the
// checksums the SDK sends (x-amz-content-sha256, x-amz-checksum-crc32) checked against the bytes;
// errors as S3's XML documents. Signatures are required but not verified.
import { createHash, randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/'
/** S3's smallest part, but for the last one (EntityTooSmall). */
const MIN_PART_BYTES = 5 * 1024 * 1024
/** SigV4's longest presigned URL: seven days. */
const MAX_PRESIGNED_SECONDS = 604800
const PRESIGNED_PARAMETERS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature'
]

/**
 * @typedef {{ body: Buffer, etag: string, contentType: string, lastModified: Date }} StoredObject
 * @typedef {{ body: Buffer, etag: string, crc32?: string }} StoredPart
 * @typedef {{ uploadId: string, bucket: string, key: string,
 *   state: 'open' | 'completed' | 'aborted', parts: Map<number, StoredPart> }} MultipartUpload
 * @typedef {{ action: string, method: string, bucket: string, key: string, bytes: number,
 *   presigned: boolean, status?: number, uploadId?: string, partNumber?: number }} S3Request
 * @typedef {{ status: number, code: string, message: string }} S3Fault
 */

export class S3Error extends Error {
  /**
   * @param {number} status @param {string} code @param {string} message
   * @param {Record<string, string>} [details] elements S3 adds to this error (BucketName, Key, ...)
   */
  constructor(status, code, message, details = {}) {
    super(message)
    this.status = status
    this.code = code
    this.details = details
  }
}

/** S3's "Access Denied" (HTTP 403), its answer to a request its policies do not allow. */
const accessDenied = () => new S3Error(403, 'AccessDenied', 'Access Denied')

export class LocalS3 {
  /** @param {{ region: string }} aws */
  constructor(aws) {
    this.aws = aws
    /** @type {Map<string, Map<string, StoredObject>>} */
    this.buckets = new Map()
    /** @type {Set<string>} buckets whose every request is answered AccessDenied */
    this.deniedBuckets = new Set()
    /** @type {Map<string, MultipartUpload>} */
    this.uploads = new Map()
    /** @type {S3Request[]} every request, in the order they came */
    this.requests = []
    /** @type {Map<string, S3Fault[]>} */
    this.faults = new Map()
    /** Seconds added to the clock that presigned URLs expire by (advanceClock). */
    this.clockOffsetSeconds = 0
  }

  // ---- seeding and inspection -------------------------------------------------------------

  /** @param {string} name */
  addBucket(name) {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map())
  }

  /** @param {string} name a bucket whose policy denies the caller everything */
  denyBucket(name) {
    this.deniedBuckets.add(name)
  }

  /** @param {string} action e.g. 'UploadPart' @param {S3Fault & { times?: number }} fault */
  failNext(action, fault) {
    const list = this.faults.get(action) ?? []
    for (let i = 0; i < (fault.times ?? 1); i++) list.push(fault)
    this.faults.set(action, list)
  }

  /** @param {number} seconds moves the clock presigned URLs are checked against */
  advanceClock(seconds) {
    this.clockOffsetSeconds += seconds
  }

  /** @param {string} bucket @param {string} key @returns {StoredObject | undefined} */
  object(bucket, key) {
    return this.buckets.get(bucket)?.get(key)
  }

  /** @param {string} bucket @returns {string[]} the bucket's keys, sorted as S3 lists them */
  keys(bucket) {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort()
  }

  /** @returns {MultipartUpload[]} the multipart uploads neither completed nor aborted */
  openUploads() {
    return [...this.uploads.values()].filter(upload => upload.state === 'open')
  }

  /** @param {string} action */
  requestsOf(action) {
    return this.requests.filter(request => request.action === action)
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /** @param {import('node:http').IncomingMessage} req whether this request is S3's (a path-style one) */
  owns(req) {
    return new URL(req.url ?? '/', 'http://s3.local').pathname !== '/'
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://s3.local')
    const [bucket = '', ...rest] = url.pathname.slice(1).split('/')
    const key = decodeURIComponent(rest.join('/'))
    const method = req.method ?? 'GET'
    const action = actionOf(method, url.searchParams)
    const chunks = []
    for await (const chunk of req) chunks.push(chunk)
    const body = Buffer.concat(chunks)
    /** @type {S3Request} */
    const request = {
      action,
      method,
      bucket: decodeURIComponent(bucket),
      key,
      bytes: body.length,
      presigned: url.searchParams.has('X-Amz-Algorithm'),
      ...(url.searchParams.has('uploadId')
        ? { uploadId: String(url.searchParams.get('uploadId')) }
        : {}),
      ...(url.searchParams.has('partNumber')
        ? { partNumber: Number(url.searchParams.get('partNumber')) }
        : {})
    }
    this.requests.push(request)
    const requestId = randomBytes(8).toString('hex').toUpperCase()
    try {
      this.authorize(req, url, request)
      const fault = this.faults.get(action)?.shift()
      if (fault) throw new S3Error(fault.status, fault.code, fault.message)
      checkPayload(req, body)
      const answer = this.actions[action].call(this, request, body, url.searchParams)
      request.status = answer.status ?? 200
      res.writeHead(request.status, { 'x-amz-request-id': requestId, ...answer.headers })
      res.end(method === 'HEAD' ? undefined : answer.body)
    } catch (error) {
      const e = error instanceof S3Error ? error : new S3Error(500, 'InternalError', String(error))
      request.status = e.status
      res.writeHead(e.status, { 'content-type': 'application/xml', 'x-amz-request-id': requestId })
      res.end(method === 'HEAD' ? undefined : errorXml(e, requestId))
    }
  }

  /**
   * A request must be signed (an Authorization header) or presigned (the query's X-Amz-*
   * parameters, not yet expired); a denied bucket refuses both, and a missing one is NoSuchBucket.
   * @param {import('node:http').IncomingMessage} req @param {URL} url @param {S3Request} request
   */
  authorize(req, url, request) {
    const query = url.searchParams
    if (request.presigned || PRESIGNED_PARAMETERS.some(name => query.has(name))) {
      this.checkPresigned(query)
    } else if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      throw accessDenied()
    }
    if (this.deniedBuckets.has(request.bucket)) throw accessDenied()
    if (!this.buckets.has(request.bucket)) {
      throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', {
        BucketName: request.bucket
      })
    }
  }

  /** @param {URLSearchParams} query */
  checkPresigned(query) {
    const missing = PRESIGNED_PARAMETERS.filter(name => !query.get(name))
    if (missing.length > 0 || query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, ' +
          'X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.'
      )
    }
    const expiresIn = Number(query.get('X-Amz-Expires'))
    if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGNED_SECONDS) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'X-Amz-Expires must be less than a week (in seconds) that is 604800'
      )
    }
    const signed = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(
      String(query.get('X-Amz-Date'))
    )
    if (!signed) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
      )
    }
    const [, y, mo, d, h, mi, s] = signed.map(Number)
    const expires = new Date(Date.UTC(y, mo - 1, d, h, mi, s) + expiresIn * 1000)
    const now = new Date(Date.now() + this.clockOffsetSeconds * 1000)
    if (now > expires) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': String(expiresIn),
        Expires: isoSeconds(expires),
        ServerTime: isoSeconds(now)
      })
    }
  }

  /** @param {MultipartUpload['uploadId'] | undefined} uploadId @param {S3Request} request */
  openUpload(uploadId, request) {
    const upload = this.uploads.get(String(uploadId))
    if (
      !upload ||
      upload.state !== 'open' ||
      upload.bucket !== request.bucket ||
      upload.key !== request.key
    ) {
      throw new S3Error(
        404,
        'NoSuchUpload',
        'The specified upload does not exist. The upload ID may be invalid, or the upload may ' +
          'have been aborted or completed.',
        { UploadId: String(uploadId) }
      )
    }
    return upload
  }

  /**
   * @typedef {{ status?: number, headers?: Record<string, string>, body?: string | Buffer }} Answer
   * @type {Record<string, (this: LocalS3, request: S3Request, body: Buffer, query: URLSearchParams) => Answer>}
   */
  actions = {
    PutObject(request, body) {
      const etag = md5Etag(body)
      this.store(request, {
        body,
        etag,
        contentType: 'binary/octet-stream',
        lastModified: new Date()
      })
      return { headers: { etag, ...crc32Header(body) } }
    },

    CreateMultipartUpload(request) {
      const uploadId = randomBytes(24).toString('base64url')
      this.uploads.set(uploadId, {
        uploadId,
        bucket: request.bucket,
        key: request.key,
        state: 'open',
        parts: new Map()
      })
      return xmlAnswer(
        'InitiateMultipartUploadResult',
        `<Bucket>${xml(request.bucket)}</Bucket><Key>${xml(request.key)}</Key>` +
          `<UploadId>${uploadId}</UploadId>`
      )
    },

    UploadPart(request, body) {
      const upload = this.openUpload(request.uploadId, request)
      const partNumber = Number(request.partNumber)
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
        throw new S3Error(
          400,
          'InvalidArgument',
          'Part number must be an integer between 1 and 10000, inclusive'
        )
      }
      const etag = md5Etag(body)
      const checksum = crc32Header(body)['x-amz-checksum-crc32']
      upload.parts.set(partNumber, { body, etag, crc32: checksum })
      return { headers: { etag, ...crc32Header(body) } }
    },

    CompleteMultipartUpload(request, body) {
      const upload = this.openUpload(request.uploadId, request)
      const listed = [...body.toString('utf8').matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(
        ([, part]) => ({
          partNumber: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(part)?.[1]),
          etag: unxml(/<ETag>([\s\S]*?)<\/ETag>/.exec(part)?.[1] ?? ''),
          crc32: /<ChecksumCRC32>([\s\S]*?)<\/ChecksumCRC32>/.exec(part)?.[1]
        })
      )
      if (listed.length === 0) {
        throw new S3Error(
          400,
          'MalformedXML',
          'The XML you provided was not well-formed or did not validate against our published schema'
        )
      }
      const parts = listed.map((entry, i) => {
        const part = upload.parts.get(entry.partNumber)
        if (i > 0 && entry.partNumber <= listed[i - 1].partNumber) {
          throw new S3Error(
            400,
            'InvalidPartOrder',
            'The list of parts was not in ascending order. Parts must be ordered by part number.'
          )
        }
        if (!part || part.etag !== entry.etag || (entry.crc32 && entry.crc32 !== part.crc32)) {
          throw new S3Error(
            400,
            'InvalidPart',
            'One or more of the specified parts could not be found.  The part may not have been ' +
              "uploaded, or the specified entity tag may not match the part's entity tag."
          )
        }
        if (i < listed.length - 1 && part.body.length < MIN_PART_BYTES) {
          throw new S3Error(
            400,
            'EntityTooSmall',
            'Your proposed upload is smaller than the minimum allowed size'
          )
        }
        return part
      })
      const digests = Buffer.concat(parts.map(part => Buffer.from(part.etag.slice(1, -1), 'hex')))
      const etag = `"${createHash('md5').update(digests).digest('hex')}-${parts.length}"`
      const whole = Buffer.concat(parts.map(part => part.body))
      this.store(request, {
        body: whole,
        etag,
        contentType: 'binary/octet-stream',
        lastModified: new Date()
      })
      upload.state = 'completed'
      return xmlAnswer(
        'CompleteMultipartUploadResult',
        `<Location>http://s3.local/${xml(request.bucket)}/${xml(request.key)}</Location>` +
          `<Bucket>${xml(request.bucket)}</Bucket><Key>${xml(request.key)}</Key>` +
          `<ETag>${xml(etag)}</ETag>`
      )
    },

    AbortMultipartUpload(request) {
      const upload = this.openUpload(request.uploadId, request)
      upload.state = 'aborted'
      upload.parts.clear()
      return { status: 204 }
    },

    GetObject(request) {
      const stored = this.object(request.bucket, request.key)
      if (!stored) {
        throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', {
          Key: request.key
        })
      }
      return {
        headers: {
          etag: stored.etag,
          'content-type': stored.contentType,
          'content-length': String(stored.body.length),
          'last-modified': stored.lastModified.toUTCString(),
          'accept-ranges': 'bytes'
        },
        body: stored.body
      }
    },

    // S3 answers 204 whether or not the key existed.
    DeleteObject(request) {
      this.buckets.get(request.bucket)?.delete(request.key)
      return { status: 204 }
    },

    NotImplemented() {
      throw new S3Error(
        501,
        'NotImplemented',
        'A header you provided implies functionality that is not implemented'
      )
    }
  }

  /** @param {S3Request} request @param {StoredObject} stored */
  store(request, stored) {
    this.buckets.get(request.bucket)?.set(request.key, stored)
  }
}

/** The S3 operation a REST request is, by method and query (the SDK also adds `x-id`). */
/** @param {string} method @param {URLSearchParams} query */
function actionOf(method, query) {
  if (method === 'PUT') return query.has('uploadId') ? 'UploadPart' : 'PutObject'
  if (method === 'POST' && query.has('uploads')) return 'CreateMultipartUpload'
  if (method === 'POST' && query.has('uploadId')) return 'CompleteMultipartUpload'
  if (method === 'DELETE') return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject'
  if (method === 'GET' || method === 'HEAD') return 'GetObject'
  return 'NotImplemented'
}

/**
 * What the SDK says the payload is must be what arrived: its SHA-256 (x-amz-content-sha256, signed)
 * and its CRC32 (x-amz-checksum-crc32), as S3 checks them. A streamed, aws-chunked body is not
 * spoken here: the upload sends each part as one buffer, and a request like that fails loudly.
 * @param {import('node:http').IncomingMessage} req @param {Buffer} body
 */
function checkPayload(req, body) {
  if (String(req.headers['content-encoding'] ?? '').includes('aws-chunked')) {
    throw new S3Error(501, 'NotImplemented', 'aws-chunked bodies are not served by this stand-in')
  }
  const sha256 = String(req.headers['x-amz-content-sha256'] ?? '')
  if (/^[0-9a-f]{64}$/.test(sha256) && sha256 !== createHash('sha256').update(body).digest('hex')) {
    throw new S3Error(
      400,
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed."
    )
  }
  const crc = req.headers['x-amz-checksum-crc32']
  if (crc !== undefined && crc !== crc32Header(body)['x-amz-checksum-crc32']) {
    throw new S3Error(
      400,
      'BadDigest',
      'The CRC32 you specified did not match the calculated checksum.'
    )
  }
}

/** @param {Buffer} body */
function md5Etag(body) {
  return `"${createHash('md5').update(body).digest('hex')}"`
}

/** @param {Buffer} body the CRC32 header S3 answers with: big-endian, in base64 */
function crc32Header(body) {
  const value = Buffer.alloc(4)
  value.writeUInt32BE(crc32(body))
  return { 'x-amz-checksum-crc32': value.toString('base64') }
}

/** @param {string} root @param {string} inner @returns {{ headers: Record<string, string>, body: string }} */
function xmlAnswer(root, inner) {
  return {
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${NS}">${inner}</${root}>`
  }
}

/**
 * S3's REST error document. AWS's example (S3 API Reference, "Error responses"):
 *   <?xml version="1.0" encoding="UTF-8"?> <Error> <Code>NoSuchKey</Code> <Message>The resource
 *   you requested does not exist</Message> <Resource>/mybucket/myfoto.jpg</Resource>
 *   <RequestId>4442587FB7D0A2F9</RequestId> </Error>
 * with, for some codes, elements of their own (BucketName, Key, UploadId; an expired presigned
 * URL's X-Amz-Expires, Expires and ServerTime) before RequestId and HostId.
 * @param {S3Error} error @param {string} requestId
 */
function errorXml(error, requestId) {
  const details = Object.entries(error.details)
    .map(([name, value]) => `<${name}>${xml(value)}</${name}>`)
    .join('')
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code>` +
    `<Message>${xml(error.message)}</Message>${details}<RequestId>${requestId}</RequestId>` +
    `<HostId>${randomBytes(48).toString('base64')}</HostId></Error>`
  )
}

/** @param {Date} date as S3 writes times in its errors: 2018-03-29T11:17:34Z */
function isoSeconds(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** @param {string} text */
function xml(text) {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}

/** @param {string} text XML character data: the entities the SDK's serializer writes */
function unxml(text) {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
    .replace(/&amp;/g, '&')
}
