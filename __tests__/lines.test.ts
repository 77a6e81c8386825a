import { LineSplitter, OutputTail, truncateUtf8 } from '../src/lib/lines.js'

function split(chunks: (string | Buffer)[], max?: number): string[] {
  const lines: string[] = []
  const splitter = new LineSplitter(line => lines.push(line), max)
  for (const chunk of chunks) splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  splitter.end()
  return lines
}

describe('LineSplitter', () => {
  it('ends lines at \\n, \\r\\n and a lone \\r, also across chunks', () => {
    expect(split(['a\nb\r\nc\rd'])).toEqual(['a', 'b', 'c', 'd'])
    expect(split(['a\r', '\nb\r', 'c'])).toEqual(['a', 'b', 'c'])
    expect(split(['one', ' line', '\n'])).toEqual(['one line'])
  })

  it('keeps a character split across chunks whole', () => {
    const bytes = Buffer.from('pässwörd 🔑\n')
    expect(split([bytes.subarray(0, 2), bytes.subarray(2, 13), bytes.subarray(13)])).toEqual([
      'pässwörd 🔑'
    ])
  })

  it('cuts a long line, says how much was cut, and keeps the next line whole', () => {
    const lines = split(['x'.repeat(50), 'y'.repeat(50), '\nnext\n'], 16)
    expect(lines).toEqual([`${'x'.repeat(16)} [... 84 more bytes of this line cut]`, 'next'])
  })

  it('holds no more than the limit for a line of many megabytes', () => {
    const lines: string[] = []
    const splitter = new LineSplitter(line => lines.push(line), 1024)
    const chunk = Buffer.alloc(1024 * 1024, 'a')
    for (let i = 0; i < 16; i++) splitter.write(chunk)
    splitter.end()
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^a{1024} \[\.\.\. 16776192 more bytes of this line cut\]$/)
  })
})

describe('truncateUtf8', () => {
  it('never splits a character', () => {
    expect(truncateUtf8('a🔑b', 3)).toBe('a')
    expect(truncateUtf8('a🔑b', 5)).toBe('a🔑')
    expect(truncateUtf8('short', 10)).toBe('short')
  })
})

describe('OutputTail', () => {
  it('keeps the last lines within its budget and prefers error lines', () => {
    const tail = new OutputTail(40)
    for (let i = 0; i < 100; i++) tail.add(`line ${i}`)
    tail.add('Error: it broke')
    expect(tail.errorLines()).toBe('Error: it broke')
    expect(tail.lastLines(2)).toBe('line 99\nError: it broke')
    expect(tail.lastLines(100).split('\n').length).toBeLessThan(10)
  })
})
