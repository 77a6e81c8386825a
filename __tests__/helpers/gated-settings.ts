import { parseRate } from '../../src/restart/rate.js'
import { checkServiceName, restartScript } from '../../src/restart/script.js'
import type { RestartSettings } from '../../src/restart/transport.js'
import { ec2For, elbv2For, type LocalAws } from './local-aws.js'

/** A restart of "fastapi" behind `group`, the real ELBv2 and EC2 clients on the local endpoint. */
export function gatedSettings(
  aws: LocalAws,
  group: string,
  rates: { maxConcurrency: string; maxErrors: string; minHealthy: number }
): RestartSettings {
  const elb = elbv2For(aws)
  const ec2 = ec2For(aws)
  return {
    script: restartScript(checkServiceName('fastapi'), ''),
    maxConcurrency: parseRate(rates.maxConcurrency),
    maxErrors: parseRate(rates.maxErrors),
    traffic: {
      groupArns: [group],
      healthyTimeoutSeconds: 5,
      minHealthy: rates.minHealthy,
      elbv2: async () => elb,
      ec2: async () => ec2,
      state: { save: () => undefined }
    }
  }
}
