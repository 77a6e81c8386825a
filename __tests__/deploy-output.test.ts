// Reading the CDK CLI's own output: the no-op line, and npm's words for a CLI that is not installed.
import { missingCliHint, saysNoChanges } from '../src/deploy.js'
import { OutputTail } from '../src/lines.js'

describe('saysNoChanges', () => {
  it("reads the CLI's line for the stack it left as it was", () => {
    expect(saysNoChanges(' ✅  App (no changes)', 'App')).toBe(true)
    // In colour, as the CLI prints it on a runner.
    expect(
      saysNoChanges('\u001b[32m ✅  \u001b[1mApp\u001b[22m (no changes)\u001b[39m', 'App')
    ).toBe(true)
    // A stack inside a stage shows as "<path> (<name>)"; the input may give either.
    expect(saysNoChanges(' ✅  Staging/App (Staging-App) (no changes)', 'Staging/App')).toBe(true)
    expect(saysNoChanges(' ✅  Staging/App (Staging-App) (no changes)', 'Staging-App')).toBe(true)
  })

  it('is false for a deployed stack, another stack, or text that only looks like it', () => {
    expect(saysNoChanges(' ✅  App', 'App')).toBe(false)
    // A dependency deployed first, unchanged, says nothing about the stack asked for.
    expect(saysNoChanges(' ✅  AppNetwork (no changes)', 'App')).toBe(false)
    expect(saysNoChanges('App: the app printed (no changes)', 'App')).toBe(false)
  })
})

describe('missingCliHint', () => {
  const tailOf = (...lines: string[]) => {
    const tail = new OutputTail()
    for (const line of lines) tail.add(line)
    return tail
  }
  const plan = { tool: 'npx', cwd: '/repo/infra' }

  it('names the fix when npx found no CDK CLI', () => {
    const canceled = tailOf(
      'npm error npx canceled due to missing packages and no YES option: ["cdk@1.0.0"]'
    )
    expect(missingCliHint(plan, canceled)).toContain('npm i -D aws-cdk')
    expect(missingCliHint(plan, tailOf('npm error code ENOTCACHED'))).toContain(
      'input "cdk-command"'
    )
  })

  it('says nothing for another tool or another failure', () => {
    const canceled = tailOf('npm error npx canceled due to missing packages')
    expect(missingCliHint({ ...plan, tool: 'cdk' }, canceled)).toBe('')
    expect(missingCliHint(plan, tailOf('❌ Deployment failed: Error: denied'))).toBe('')
  })
})
