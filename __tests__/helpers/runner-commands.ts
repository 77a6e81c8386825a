// The runner's reading of log lines, for tests that capture the action's log themselves: the one
// parser in test-support/runner.js (ported from the runner's ActionCommand.cs and
// ActionCommandManager.cs), which the bundle runs use too.
import { createLogMasker } from '../../test-support/runner.js'

export interface RunnerView {
  /** The commands the runner obeys, by name ("set-output", "error", "stop-commands", ...). */
  commands: { name: string; line: string }[]
  /** The lines it shows as text. */
  text: string[]
}

/** Reads log lines one by one as the runner does, `::stop-commands::<token>` included. */
export function runnerView(lines: string[]): RunnerView {
  const runner = createLogMasker()
  const text: string[] = []
  for (const line of lines.flatMap(line => line.split(/\r\n|\r|\n/))) {
    const obeyedBefore = runner.commands.length
    const shown = runner.line(line)
    if (runner.commands.length === obeyedBefore && shown !== undefined) text.push(shown)
  }
  return { commands: runner.commands.map(({ name, line }) => ({ name, line })), text }
}

/** The commands obeyed, other than the pauses themselves. */
export function obeyedCommands(lines: string[]): string[] {
  return runnerView(lines)
    .commands.map(command => command.name)
    .filter(name => name !== 'stop-commands')
}
