// The runner's reading of a log line, ported from its command handling (ActionCommand.cs,
// ActionCommandManager.cs): what a line of the action's output makes the runner do.

/** The characters .NET's String.TrimStart() removes (Char.IsWhiteSpace), more than JS's \s. */
const DOTNET_LEADING_WHITESPACE =
  // eslint-disable-next-line no-control-regex
  /^[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*/

export interface RunnerView {
  /** The commands the runner obeys, by name ("set-output", "error", "stop-commands", ...). */
  commands: { name: string; line: string }[]
  /** The lines it shows as text. */
  text: string[]
}

function parse(line: string): string | undefined {
  const trimmed = line.replace(DOTNET_LEADING_WHITESPACE, '')
  if (trimmed.startsWith('::')) {
    const end = trimmed.indexOf('::', 2)
    if (end < 0) return undefined
    return trimmed.slice(2, end).split(' ')[0]
  }
  // The legacy form is read anywhere in a line.
  const legacy = line.indexOf('##[')
  if (legacy >= 0) {
    const end = line.indexOf(']', legacy)
    if (end < 0) return undefined
    return line.slice(legacy + 3, end).split(' ')[0]
  }
  return undefined
}

/** Reads log lines one by one as the runner does, `::stop-commands::<token>` included. */
export function runnerView(lines: string[]): RunnerView {
  const view: RunnerView = { commands: [], text: [] }
  let stopToken: string | undefined
  for (const line of lines.flatMap(line => line.split(/\r\n|\r|\n/))) {
    const name = parse(line)
    if (stopToken !== undefined) {
      if (name !== undefined && name.toLowerCase() === stopToken.toLowerCase()) {
        stopToken = undefined
        view.commands.push({ name: 'resume-commands', line })
      } else {
        view.text.push(line)
      }
      continue
    }
    if (name === undefined) {
      view.text.push(line)
      continue
    }
    view.commands.push({ name, line })
    if (name === 'stop-commands') stopToken = line.slice(line.lastIndexOf('::') + 2)
  }
  return view
}

/** The commands obeyed, other than the pauses themselves. */
export function obeyedCommands(lines: string[]): string[] {
  return runnerView(lines)
    .commands.map(command => command.name)
    .filter(name => name !== 'stop-commands' && name !== 'resume-commands')
}
