import type * as Ssh2 from 'ssh2'

type Ssh2Module = typeof Ssh2

let loading: Promise<Ssh2Module> | undefined

/**
 * ssh2, loaded once, by the first phase that needs it (the login check, before deploying): the
 * runs that never restart over SSH never load it.
 */
export function loadSsh2(): Promise<Ssh2Module> {
  // ssh2 is CommonJS: plain Node gives its exports as `default` only, a bundle also by name.
  loading ??= import('ssh2').then(module => (module.default ?? module) as Ssh2Module)
  return loading
}
