import { ActionError } from '../../lib/errors.js'
import { capitalize } from '../../lib/text.js'
import { loadSsh2 } from './library.js'

/** A login whose parts were checked: the only kind the SSH layer connects with. */
export interface SshCredentials {
  readonly username: string
  readonly privateKey: string
  /** Undefined when the key is not encrypted (an empty input means no passphrase). */
  readonly passphrase: string | undefined
}

// useradd's default NAME_REGEX (with upper case refused) and its length limit.
const USER_NAME = /^[a-z_][a-z0-9_-]*\$?$/
const USER_NAME_MAX = 32

/**
 * Throws unless `user` is a Linux user name. The message does not repeat the value: it may come
 * from the deployment secret.
 */
export function checkUserName(user: string, source: string): void {
  if (user.length <= USER_NAME_MAX && USER_NAME.test(user)) return
  const problem = user === '' ? 'is empty' : 'is not a valid Linux user name'
  throw new ActionError(
    `${capitalize(source)} ${problem}: give the instance's login user, such as "ec2-user" or ` +
      `"ubuntu" (lower-case letters, digits, "_" and "-", starting with a letter or "_", at most ` +
      `${USER_NAME_MAX} characters).`
  )
}

/** The login inputs as given: user, private key, passphrase ('' for none). */
export interface SshLogin {
  username: string
  privateKey: string
  passphrase: string
}

/**
 * The checks of the login that want no SSH library: the user name, and a key at all. Run before
 * checkSshKey (the unit name is the restart script's: checkServiceName).
 */
export function checkSshNames(login: SshLogin, userSource: string): void {
  checkUserName(login.username, userSource)
  if (login.privateKey.trim() === '') {
    throw new ActionError(
      'Input "ssh-private-key" is empty: give the private key of the instance\'s key pair, e.g. ' +
        '${{ secrets.EC2_SSH_KEY }}, or set restart: none.'
    )
  }
}

/**
 * Parses the private key (ssh2, as it will to connect) and returns the login the SSH layer takes.
 * The pipeline runs checkSshNames and this once, before deploying, so that a mistake fails the run
 * before anything changes.
 */
export async function checkSshKey(
  login: SshLogin,
  keyInput = 'ssh-private-key'
): Promise<SshCredentials> {
  const passphrase = login.passphrase === '' ? undefined : login.passphrase
  const { utils } = await loadSsh2()
  const parsed = utils.parseKey(login.privateKey, passphrase)
  if (parsed instanceof Error) {
    throw privateKeyError(parsed.message, passphrase !== undefined, keyInput)
  }
  if (!(Array.isArray(parsed) ? parsed : [parsed]).every(key => key.isPrivateKey())) {
    throw privateKeyError(
      'does not contain a (valid) private key',
      passphrase !== undefined,
      keyInput
    )
  }
  return { username: login.username, privateKey: login.privateKey, passphrase }
}

/** ssh2's parser messages are mapped to advice: some of them quote bytes of the key. */
function privateKeyError(
  parserMessage: string,
  passphraseGiven: boolean,
  keyInput: string
): ActionError {
  const start = `Input "${keyInput}" could not be used as an SSH private key`
  if (/no passphrase given/i.test(parserMessage)) {
    return new ActionError(
      `${start}: the key is encrypted. Give its passphrase in input "ssh-passphrase".`
    )
  }
  if (
    /bad passphrase/i.test(parserMessage) ||
    (passphraseGiven && /decrypt/i.test(parserMessage))
  ) {
    return new ActionError(`${start}: it could not be decrypted. Check input "ssh-passphrase".`)
  }
  if (/does not contain a \(valid\) private key/.test(parserMessage)) {
    return new ActionError(`${start}: it holds a public key. Give the private key instead.`)
  }
  return new ActionError(
    `${start}: it is not in a format ssh2 reads (OpenSSH, PEM or PuTTY). Paste the whole key file, ` +
      'including its BEGIN and END lines; if the key is encrypted, also set input "ssh-passphrase".'
  )
}
