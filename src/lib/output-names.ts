/** The outputs the action sets itself (action.yml lists each); one name for each, used everywhere. */
export const OUTPUTS = {
  instanceId: 'instance-id',
  instanceIp: 'instance-ip',
  instanceIds: 'instance-ids',
  instanceIps: 'instance-ips',
  commandId: 'command-id',
  secretVersionId: 'secret-version-id',
  stackOutputs: 'stack-outputs',
  stackChanged: 'stack-changed',
  restarted: 'restarted',
  releaseId: 'release-id',
  previousReleaseId: 'previous-release-id',
  rolledBack: 'rolled-back',
  rolledBackInstances: 'rolled-back-instances',
  appSecretVersionId: 'app-secret-version-id',
  rotated: 'rotated',
  outOfService: 'out-of-service',
  changes: 'changes',
  diff: 'diff'
} as const

/** A secret key of one of these names would be overwritten by the action. */
export const ACTION_OUTPUTS: readonly string[] = Object.values(OUTPUTS)
