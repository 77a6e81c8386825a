// Typed access to the local AWS endpoint (test-support/aws-endpoint.js) for the tests.
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { EC2Client } from '@aws-sdk/client-ec2'
import { SSMClient } from '@aws-sdk/client-ssm'
import { S3Client } from '@aws-sdk/client-s3'
import { LocalAws } from '../../test-support/aws-endpoint.js'

export { LocalAws }

export async function startLocalAws(): Promise<LocalAws> {
  const aws = new LocalAws()
  await aws.start()
  return aws
}

const credentials = {
  accessKeyId: 'AKIDLOCALENDPOINT',
  secretAccessKey: 'local-endpoint-secret-key'
}

export function secretsManagerFor(aws: LocalAws): SecretsManagerClient {
  return new SecretsManagerClient({
    region: aws.region,
    endpoint: aws.url,
    credentials,
    maxAttempts: 5
  })
}

export function ec2For(aws: LocalAws): EC2Client {
  return new EC2Client({ region: aws.region, endpoint: aws.url, credentials, maxAttempts: 5 })
}

export function ssmFor(aws: LocalAws): SSMClient {
  return new SSMClient({ region: aws.region, endpoint: aws.url, credentials, maxAttempts: 5 })
}

/** S3 in path style (/<bucket>/<key>), as the SDK addresses any endpoint whose host is an IP. */
export function s3For(aws: LocalAws, maxAttempts = 5): S3Client {
  return new S3Client({ region: aws.region, endpoint: aws.url, credentials, maxAttempts })
}

export function elbv2For(aws: LocalAws): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client({
    region: aws.region,
    endpoint: aws.url,
    credentials,
    maxAttempts: 5
  })
}

export { EXAMPLE_APP, EXAMPLE_DEPLOYMENT } from '../../test-support/example-secrets.js'
