import { stripAnsi, verdict, parseCdkDiff } from '../src/cdk/diff.js'
import {
  MAX_COMMENT_LENGTH,
  buildDiffComment,
  commentMarker,
  fenceFor,
  type DiffComment
} from '../src/phases/comment/body.js'
import { keepMasksLocal, maskSecret } from '../src/lib/log.js'
import {
  diffWithReplacement,
  diffWithUpdateOnly,
  diffWithoutChanges
} from '../test-support/cdk-diff-samples.js'
import { renderMarkdown } from './helpers/markdown.js'

const STACK = 'FastAPIEC2Stack-Staging'
const RUN = 'https://github.com/octo-org/fastapi-infra/actions/runs/9876543210'

/** A preview as previewStack reports it: the diff without colours. */
function comment(diff: string, extra: Partial<DiffComment> = {}): DiffComment {
  const text = stripAnsi(diff)
  return { stack: STACK, key: '', verdict: verdict(parseCdkDiff(text)), diff: text, ...extra }
}

/** The diff with `lines` added to its Resources section, as a CDK app's constructs would be. */
function withResources(lines: string[]): string {
  const sample = stripAnsi(diffWithUpdateOnly(STACK)).split('\n')
  sample.splice(2, 0, ...lines)
  return sample.join('\n')
}

/** The one fenced code block of a rendered comment: what GitHub shows as the diff. */
function codeBlock(body: string) {
  const blocks = renderMarkdown(body).blocks.filter(block => block.type === 'code_block')
  expect(blocks).toHaveLength(1)
  return blocks[0]
}

describe('the hidden marker', () => {
  it('names the stack and the comment key, each on its own', () => {
    expect(commentMarker(STACK, '')).toBe(
      '<!-- secrets-deploy-action diff stack=FastAPIEC2Stack-Staging -->'
    )
    expect(commentMarker(STACK, 'eu-west-1')).toBe(
      '<!-- secrets-deploy-action diff stack=FastAPIEC2Stack-Staging key=eu-west-1 -->'
    )
    // Found again by the start of a body: no stack's marker starts another's.
    expect(commentMarker('Stack-AB', '').startsWith(commentMarker('Stack-A', ''))).toBe(false)
    expect(commentMarker(STACK, 'a').startsWith(commentMarker(STACK, ''))).toBe(false)
  })

  it('cannot be ended early by the name it holds', () => {
    const marker = commentMarker('Stage/* --> <img src=x>\n# x', '')
    expect(marker.indexOf('-->')).toBe(marker.length - 3)
    expect(marker).not.toContain('\n')
    const [first] = renderMarkdown(`${marker}\n`).blocks
    expect(first).toMatchObject({ type: 'html_block', literal: marker })
  })
})

describe('fenceFor', () => {
  it('is longer than the longest run of backticks, and at least three', () => {
    expect(fenceFor('no backticks')).toBe('```')
    expect(fenceFor('a `b` ``c``')).toBe('```')
    expect(fenceFor('```\n`````````` ten')).toBe('`'.repeat(11))
  })
})

describe('buildDiffComment', () => {
  it('holds the marker, the verdict, a table of what is replaced or destroyed, then the diff, folded', () => {
    const body = buildDiffComment(
      comment(diffWithReplacement(STACK), {
        runUrl: RUN,
        commit: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821'
      })
    )
    const lines = body.split('\n')
    expect(lines[0]).toBe(commentMarker(STACK, ''))
    expect(body).toContain(
      '**5 resources change, 1 is replaced, 1 is destroyed.** Nothing was deployed: this is a preview (`deploy: diff`).'
    )
    expect(body).toContain(
      '<tr><td><code>Instance InstanceC1063A87</code></td><td><code>AWS::EC2::Instance</code></td><td>will be replaced</td></tr>'
    )
    expect(body).toContain(
      '<tr><td><code>OldBucket OldBucket1A2B3C4D</code></td><td><code>AWS::S3::Bucket</code></td><td>will be destroyed</td></tr>'
    )
    // The table comes before the diff.
    expect(body.indexOf('<table>')).toBeLessThan(body.indexOf('<details>'))
    const diffLines = stripAnsi(diffWithReplacement(STACK)).replace(/\n+$/, '').split('\n')
    expect(diffLines).toHaveLength(24)
    expect(body).toContain('<details><summary>The diff: 24 lines</summary>')
    expect(codeBlock(body)).toEqual({
      type: 'code_block',
      info: 'text',
      literal: `${stripAnsi(diffWithReplacement(STACK)).replace(/\n+$/, '')}\n`
    })
    expect(body).not.toContain('The diff is cut here')
    expect(lines.at(-1)).toBe(`<sub>Commit ec26c3e, [run](${RUN}); updated on each push.</sub>`)
    const types = renderMarkdown(body).blocks.map(block => block.type)
    expect(types).toEqual([
      'html_block', // the marker
      'heading',
      'paragraph', // the verdict
      'html_block', // the table
      'html_block', // <details><summary>
      'code_block',
      'html_block', // </details>
      'paragraph' // the footer
    ])
  })

  it('names the comment key beside the stack, in the marker and the heading', () => {
    const body = buildDiffComment(comment(diffWithUpdateOnly(STACK), { key: 'eu-west-1' }))
    expect(body.split('\n').slice(0, 2)).toEqual([
      commentMarker(STACK, 'eu-west-1'),
      `#### cdk diff of stack <code>${STACK}</code> (<code>eu-west-1</code>)`
    ])
  })

  it('says "no changes" and still shows what the CLI printed, without a table', () => {
    const body = buildDiffComment(comment(diffWithoutChanges(STACK)))
    expect(body).toContain('**no changes.**')
    expect(body).not.toContain('<table>')
    expect(codeBlock(body).literal).toContain('There were no differences')
  })

  it('keeps a diff that tries to break out inside its block, and every table cell as text', () => {
    const attack = [
      '</details><img src=x onerror=alert(1)>',
      '```',
      '`````````` ten backticks, then the end of a fence:',
      '``````````',
      '~~~',
      '</code></pre><img src=y>',
      '<!-- secrets-deploy-action diff stack=Other -->',
      '@octo-org/maintainers please approve #1',
      '[-] AWS::S3::Bucket <img src=z> | pipe `tick` Bucket destroy',
      '',
      '# a heading of its own [link](https://evil.example/)'
    ]
    const diff = withResources(attack)
    const body = buildDiffComment(comment(diff))
    const rendered = renderMarkdown(body)
    // All of the diff, as it was, is the literal text of the one code block.
    expect(codeBlock(body).literal).toBe(`${diff.replace(/\n+$/, '')}\n`)
    // No element from the diff: the only tags are those the comment itself writes.
    expect(rendered.html).not.toMatch(/<img/)
    expect(rendered.html.match(/<\/details>/g)).toHaveLength(1)
    expect(rendered.html).not.toMatch(/<h1/)
    expect(rendered.html).not.toContain('href="https://evil.example/')
    // The destroyed bucket's row, escaped inside <code>.
    expect(body).toContain(
      '<td><code>&lt;img src=z&gt; | pipe `tick` Bucket</code></td><td><code>AWS::S3::Bucket</code></td><td>will be destroyed</td>'
    )
    // Outside the code block and the table's cells, no word of the diff.
    const outside = rendered.html
      .replace(/<pre><code[^>]*>[\s\S]*<\/code><\/pre>/, '')
      .replace(/<td><code>[^<]*<\/code><\/td>/g, '')
    for (const word of ['onerror', 'evil', 'approve', 'ten backticks', 'Other', '~~~'])
      expect(outside).not.toContain(word)
  })

  it('shows every masked value as ***', () => {
    keepMasksLocal()
    maskSecret('sk_live_51HqTopSecretValue')
    const body = buildDiffComment(
      comment(withResources(['[~] AWS::SSM::Parameter Key sk_live_51HqTopSecretValue replace']))
    )
    expect(body).not.toContain('sk_live_51HqTopSecretValue')
    expect(codeBlock(body).literal).toContain('[~] AWS::SSM::Parameter Key *** replace')
    expect(body).toContain('<td><code>Key ***</code></td>')
  })

  it('cuts a 200 KB diff at a resource boundary, says how much was left out, and links to the summary', () => {
    const resources = Array.from({ length: 3000 }, (_, i) => [
      `[+] AWS::SSM::Parameter Flag${i} Flag${i}ABCDEF0123456789 `,
      ` └─ [+] Value: "${'v'.repeat(20)}"`
    ]).flat()
    const diff = withResources(resources)
    expect(Buffer.byteLength(diff)).toBeGreaterThan(200 * 1024)
    const body = buildDiffComment(comment(diff, { runUrl: RUN }))
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH)
    // Close to the limit: the cut wastes little room.
    expect(body.length).toBeGreaterThan(MAX_COMMENT_LENGTH - 200)
    const shown = (codeBlock(body).literal ?? '').replace(/\n$/, '').split('\n')
    const all = diff.replace(/\n+$/, '').split('\n')
    // What is shown is the diff's start, up to the end of a resource: the next line starts one.
    expect(all.slice(0, shown.length)).toEqual(shown)
    expect(shown.at(-1)).toMatch(/^ └─ \[\+\] Value/)
    expect(all[shown.length]).toMatch(/^\[\+\] AWS::SSM::Parameter Flag\d+ /)
    const left = all.length - shown.length
    const leftResources = 3001 - parseCdkDiff(shown.join('\n')).resources.length
    expect(body).toContain(
      `<details><summary>The diff: the first ${shown.length.toLocaleString('en-US')} of ${all.length.toLocaleString('en-US')} lines</summary>`
    )
    expect(body).toContain(`**The diff is cut here**: ${left.toLocaleString('en-US')} more lines (`)
    expect(body).toContain(
      `with ${leftResources.toLocaleString('en-US')} of its 3,001 resource changes, did not fit in a comment ` +
        `(GitHub takes 65,536 characters). The whole diff is in [the run's summary](${RUN}).`
    )
  })

  it('fits any limit, whatever the text is made of: long lines, backtick runs, astral characters', () => {
    const pieces = [
      '[+] AWS::X::Y A A ',
      ' └─ detail',
      '`'.repeat(40),
      '🔑密'.repeat(30),
      'x'.repeat(700),
      ''
    ]
    for (const maxLength of [3000, 5000, 20_000]) {
      for (let seed = 1; seed <= 20; seed++) {
        const lines = Array.from(
          { length: 40 * seed },
          (_, i) => pieces[(i * seed) % pieces.length]
        )
        const body = buildDiffComment(comment(withResources(lines)), maxLength)
        expect(body.length).toBeLessThanOrEqual(maxLength)
        // Never more than GitHub's byte limit either (three bytes a unit at most).
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(3 * maxLength)
        // Whatever was cut, the diff is still inside its one block.
        const block = codeBlock(body)
        expect(withResources(lines).startsWith(block.literal?.replace(/\n$/, '') ?? '')).toBe(true)
      }
    }
  })

  it('keeps the table of a thousand replaced resources to its first rows', () => {
    const replaced = Array.from(
      { length: 1000 },
      (_, i) => `[~] AWS::EC2::Instance Web${i} Web${i}C1063A87 replace`
    )
    const body = buildDiffComment(comment(withResources(replaced)))
    expect(body.length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH)
    expect(body.match(/<td>will be replaced<\/td>/g)).toHaveLength(25)
    expect(body).toContain('<tr><td colspan="3">and 975 more: see the diff</td></tr>')
  })

  it('bounds a table of huge, hostile resource ids by its size', () => {
    const replaced = Array.from(
      { length: 20 },
      (_, i) => `[-] AWS::S3::Bucket ${'<"&'.repeat(2000)} B${i} destroy`
    )
    const body = buildDiffComment(comment(withResources(replaced)))
    const table = body.slice(body.indexOf('<table>'), body.indexOf('</table>'))
    expect(table.length).toBeLessThan(9 * 1024)
    expect(table).toMatch(/and \d+ more: see the diff/)
    expect(table).not.toMatch(/<(?!\/?(table|tr|th|td|code)\b)/)
  })

  it('says where the whole diff is when the run has no address', () => {
    const lines = Array.from({ length: 4000 }, (_, i) => `[+] AWS::SSM::Parameter P${i} P${i} `)
    const body = buildDiffComment(comment(withResources(lines)))
    expect(body).toContain("The whole diff is in this run's job summary.")
    expect(body.split('\n').at(-1)).toBe('<sub>Updated on each push.</sub>')
  })
})
