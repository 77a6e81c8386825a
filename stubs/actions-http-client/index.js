// What @actions/core imports from @actions/http-client, for its OIDC helper (core.getIDToken)
// only. This action never asks for an ID token: aws-actions/configure-aws-credentials does, in its
// own step. Calling it here fails with a message instead of loading an HTTP client.
const notBundled = () => {
  throw new Error(
    'secrets-deploy-action does not bundle an HTTP client: core.getIDToken is not available in it.'
  )
}

export class HttpClient {
  constructor() {
    notBundled()
  }
}

export class BearerCredentialHandler {
  constructor() {
    notBundled()
  }
}
