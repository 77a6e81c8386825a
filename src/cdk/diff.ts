/**
 * What `cdk diff` says will change, read from the text it prints (its only output format): the
 * resource lines of its "Resources" section, `[+]`/`[~]`/`[-]`, the resource type, the construct
 * path and logical id, and the impact the CLI appends ("replace", "may be replaced", "destroy",
 * "orphan"). The text comes from the CDK app's synthesis: it is data, never markup or commands.
 */

export type ResourceAction = 'add' | 'update' | 'remove'
export type ResourceImpact = 'replace' | 'may be replaced' | 'destroy' | 'orphan' | ''

export interface ResourceChange {
  action: ResourceAction
  type: string
  /** The construct path and logical id, as the CLI prints them. */
  id: string
  impact: ResourceImpact
}

export interface CdkDiff {
  /** Whether anything in the stack (resources, outputs, parameters, IAM, ...) would change. */
  changes: boolean
  resources: ResourceChange[]
  /** The diff text without colour codes. */
  text: string
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g
const ACTIONS: Record<string, ResourceAction> = { '[+]': 'add', '[~]': 'update', '[-]': 'remove' }
const RESOURCE_LINE =
  /^(\[[+~-]\]) (AWS::\S+|Custom::\S+|[A-Za-z0-9]+::\S+) (.+?)(?: (replace|may be replaced|destroy|orphan))?$/
const SECTION =
  /^(IAM Statement Changes|IAM Policy Changes|Security Group Changes|Parameters|Metadata|Mappings|Conditions|Resources|Outputs|Other Changes|Template)$/

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '')
}

export function parseCdkDiff(output: string): CdkDiff {
  const text = stripAnsi(output)
  const resources: ResourceChange[] = []
  let section = ''
  let sections = 0
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd()
    if (SECTION.test(line)) {
      section = line
      sections++
      continue
    }
    if (section !== 'Resources') continue
    const match = RESOURCE_LINE.exec(line)
    if (!match) continue
    resources.push({
      action: ACTIONS[match[1]],
      type: match[2],
      id: match[3],
      impact: (match[4] ?? '') as ResourceImpact
    })
  }
  // An unchanged stack prints "There were no differences" and no section at all.
  return { changes: sections > 0, resources, text }
}

/** The resources a reviewer must look at: replaced (a new instance means a new address) or gone. */
export function riskyChanges(diff: CdkDiff): ResourceChange[] {
  return diff.resources.filter(
    resource =>
      resource.impact === 'replace' ||
      resource.impact === 'may be replaced' ||
      resource.impact === 'destroy' ||
      (resource.action === 'remove' && resource.impact !== 'orphan')
  )
}

/** One line: "3 resources change, 1 is replaced, 1 is destroyed", or "no changes". */
export function verdict(diff: CdkDiff): string {
  if (!diff.changes) return 'no changes'
  const count = diff.resources.length
  const replaced = diff.resources.filter(r => r.impact === 'replace').length
  const mayBe = diff.resources.filter(r => r.impact === 'may be replaced').length
  const destroyed = diff.resources.filter(
    r => r.impact === 'destroy' || (r.action === 'remove' && r.impact === '')
  ).length
  const parts = [
    count === 0
      ? 'no resource changes (outputs or other settings do)'
      : `${count} resource${count === 1 ? '' : 's'} change${count === 1 ? 's' : ''}`
  ]
  if (replaced) parts.push(`${replaced} ${replaced === 1 ? 'is' : 'are'} replaced`)
  if (mayBe) parts.push(`${mayBe} may be replaced`)
  if (destroyed) parts.push(`${destroyed} ${destroyed === 1 ? 'is' : 'are'} destroyed`)
  return parts.join(', ')
}

/** What happens to a risky change's resource, in words. */
export function riskOf(resource: ResourceChange): string {
  return resource.impact === 'may be replaced'
    ? 'may be replaced'
    : resource.impact === 'replace'
      ? 'will be replaced'
      : 'will be destroyed'
}

/** How a risky change reads in a warning. */
export function describeRisk(resource: ResourceChange): string {
  const what = riskOf(resource)
  const hint =
    resource.type === 'AWS::EC2::Instance' && what !== 'will be destroyed'
      ? ' (a new instance has a new address; the write-back records it)'
      : ''
  return `${resource.type} ${resource.id} ${what}${hint}`
}
