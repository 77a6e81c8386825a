/**
 * An error whose message is written for the person reading the workflow log: it names the input,
 * the secret or the AWS call, says what is wrong and what to do, and never contains a secret value.
 */
export class ActionError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ActionError'
  }
}

/** The message for core.setFailed: ActionErrors as written, anything else marked as unexpected. */
export function failureMessage(error: unknown): string {
  if (error instanceof ActionError) return error.message
  const message = error instanceof Error ? error.message : String(error)
  return `Unexpected error: ${message}. This is a bug in secrets-deploy-action; please report it.`
}
