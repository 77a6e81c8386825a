import { parse } from 'shell-quote'
import { ActionError } from '../lib/errors.js'

/**
 * Splits an input into arguments the way a shell would (quotes, escapes), without a shell: no
 * variables are expanded and no operator runs. An operator is an error rather than a surprise.
 */
export function splitArguments(text: string, inputName: string): string[] {
  // Keep $NAME as written: nothing here is a shell, and expanding to '' would hide the mistake.
  const tokens = parse(text, name => `$${name}`)
  return tokens.map(token => {
    if (typeof token === 'string') return token
    if ('pattern' in token) return token.pattern
    if ('comment' in token) {
      throw new ActionError(
        `Input "${inputName}" has a "#" comment; quote the "#" if it belongs to an argument.`
      )
    }
    throw new ActionError(
      `Input "${inputName}" has the shell operator "${token.op}", but it is not run through a shell: ` +
        'give only the command and its arguments (quote an argument that contains the character).'
    )
  })
}
