import { ActionError } from './errors.js'
import { quoteUntrusted } from './log.js'

// The bucket and key prefix a release travels through, checked alike for the action's inputs and
// the command line's options: both end up in S3 requests, in presigned URLs handed to instances,
// and in an IAM policy's resource.

/** Where release archives go in the bucket when input "release-prefix" is empty. */
export const DEFAULT_RELEASE_PREFIX = 'secrets-deploy-action/releases/'

const MAX_PREFIX_LENGTH = 512

/** Why `name` breaks S3's rules for general purpose bucket names; undefined when it keeps them. */
function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'a bucket name is 3 to 63 characters long'
  if (!/^[a-z0-9.-]+$/.test(name))
    return 'a bucket name has only lowercase letters, digits, "." and "-"'
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name))
    return 'a bucket name begins and ends with a letter or a digit'
  if (name.includes('..')) return 'a bucket name has no two dots in a row'
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'a bucket name is not an IP address'
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|\.mrap|--x-s3)$/.test(name))
    return 'S3 keeps names that begin with "xn--", "sthree-" or "amzn-s3-demo-", or end with "-s3alias", "--ol-s3", ".mrap" or "--x-s3", for its own use'
  return undefined
}

/**
 * Input "release-bucket" (or the command line's option, named by `source`): an S3 bucket name by
 * S3's naming rules, so that a typo fails here, with the rule it breaks, rather than as a
 * signature or DNS error on the first upload.
 */
export function checkReleaseBucket(name: string, source = 'Input "release-bucket"'): string {
  const problem = bucketNameProblem(name)
  if (problem === undefined) return name
  throw new ActionError(
    `${source} is ${JSON.stringify(quoteUntrusted(name, 100))}, which is not an S3 bucket name: ` +
      `${problem}. Give the name of the bucket (not its ARN or an s3:// URL).`
  )
}

/**
 * Input "release-prefix" (or the command line's option): the start of each release archive's key,
 * DEFAULT_RELEASE_PREFIX when empty. Only the characters S3's object key guidance calls safe:
 * letters, digits and / ! - _ . ' ( ), so that a key means the same in a request, a presigned URL
 * and a shell, less "*", which in the IAM policy's resource (arn:aws:s3:::<bucket>/<prefix>*)
 * would be a wildcard and widen it. No leading "/" and no "." or ".." segment: a URL parser
 * (fetch, curl) would fold those away and ask for another key than the one signed.
 */
export function checkReleasePrefix(prefix: string, source = 'Input "release-prefix"'): string {
  if (prefix === '') return DEFAULT_RELEASE_PREFIX
  const segments = prefix.split('/')
  const problem =
    prefix.length > MAX_PREFIX_LENGTH
      ? `it is longer than ${MAX_PREFIX_LENGTH} characters`
      : !/^[A-Za-z0-9/!_.'()-]+$/.test(prefix)
        ? "it may hold only letters, digits and / ! - _ . ' ( )"
        : prefix.startsWith('/')
          ? 'it must not begin with "/" (S3 keys have no leading slash)'
          : segments.some(segment => segment === '.' || segment === '..')
            ? 'it must not have a "." or ".." segment'
            : undefined
  if (problem === undefined) return prefix
  throw new ActionError(
    `${source} is ${JSON.stringify(quoteUntrusted(prefix, 100))}, which is not a key prefix this ` +
      `action uses: ${problem}. Leave it empty for ${DEFAULT_RELEASE_PREFIX}, or give one like it.`
  )
}
