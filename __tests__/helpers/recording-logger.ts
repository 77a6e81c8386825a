import type { Logger, StepOutputs } from '../../src/lib/log.js'

/** What a phase said, in order: the kind of message (info, warning, ...) and its text. */
export type Said = [kind: keyof Logger, text: string][]

/** A logger that keeps every message, for tests that check what a phase said and how. */
export function recordingLogger(said: Said = []): Logger & { said: Said } {
  const keep =
    (kind: keyof Logger) =>
    (text = ''): void => {
      said.push([kind, text])
    }
  return {
    said,
    info: keep('info'),
    warning: keep('warning'),
    error: keep('error'),
    notice: keep('notice'),
    debug: keep('debug'),
    startGroup: keep('startGroup'),
    endGroup: keep('endGroup')
  }
}

/** Step outputs kept in a map, as the runner would read them (the last value of a name wins). */
export function recordingOutputs(): StepOutputs & { values: Map<string, string> } {
  const values = new Map<string, string>()
  return { values, set: (name, value) => void values.set(name, value) }
}
