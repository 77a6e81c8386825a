// The example secrets of the reference document (shared/reference/secrets-manager-integration.md),
// with made-up values: what the tests, the stand-ins and the local demo seed the AWS endpoint with.

/** The deployment secret, with the address not yet known. */
export const EXAMPLE_DEPLOYMENT = Object.freeze({
  ec2_key_name: 'my-key-pair',
  ec2_host: '',
  ec2_user: 'ec2-user',
  github_repo: 'https://github.com/yourusername/yourrepo.git'
})

/** The app secret: read by the service at run time; the action only checks it. */
export const EXAMPLE_APP = Object.freeze({
  db_password: 'local-db-password',
  jwt_secret: 'local-jwt-secret',
  api_keys: 'local-api-keys',
  generated_password: 'auto-generated-value'
})
