// A CDK app directory for the CDK stand-in (test-support/cdk-stand-in.js): cdk.json plus the
// stand-in's description of what the deployment does. Shared with the stand-ins and the demo.
export { createCdkApp, type CdkApp, type StandInConfig } from '../../test-support/cdk-app.js'
