// A CDK app directory for the CDK stand-in (test-support/cdk-stand-in.js): cdk.json plus the
// stand-in's description of what the deployment does. Shared with the stand-ins and the demo.
import { afterEach } from '@jest/globals'
import {
  createCdkApp as createApp,
  type CdkApp,
  type StandInConfig
} from '../../test-support/cdk-app.js'

export type { CdkApp, StandInConfig }

const created: CdkApp[] = []

// Every test that makes an app gets it removed after it, so that no run leaves folders in /tmp.
afterEach(() => {
  for (const app of created.splice(0)) app.remove()
})

export function createCdkApp(config: StandInConfig): CdkApp {
  const app = createApp(config)
  created.push(app)
  return app
}
