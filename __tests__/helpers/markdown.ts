// How GitHub turns a comment body into a page, near enough to test what markup a body can hold:
// commonmark.js is the CommonMark reference parser (GitHub's cmark-gfm is the same spec's C
// implementation, plus tables and autolinks). Raw HTML is passed through, as GitHub passes it to
// its sanitizer.
import { HtmlRenderer, Parser, type Node } from 'commonmark'

export interface RenderedBlock {
  type: string
  /** The text of a code block or an HTML block. */
  literal: string | null
  /** A fenced code block's info string. */
  info: string | null
}

export interface Rendered {
  /** The document's top-level blocks, in order. */
  blocks: RenderedBlock[]
  html: string
}

export function renderMarkdown(markdown: string): Rendered {
  const doc = new Parser().parse(markdown)
  const blocks: RenderedBlock[] = []
  for (let node: Node | null = doc.firstChild; node; node = node.next)
    blocks.push({ type: node.type, literal: node.literal, info: node.info })
  return { blocks, html: new HtmlRenderer().render(doc) }
}
