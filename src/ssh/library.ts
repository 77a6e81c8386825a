import type * as Ssh2 from 'ssh2'

type Ssh2Module = typeof Ssh2

let loading: Promise<Ssh2Module> | undefined

/**
 * ssh2, loaded once. The pipeline starts loading it while the deployment secret is read, so that
 * it is ready by the time the address is known.
 */
export function loadSsh2(): Promise<Ssh2Module> {
  // ssh2 is CommonJS: plain Node gives its exports as `default` only, a bundle also by name.
  loading ??= import('ssh2').then(module => (module.default ?? module) as Ssh2Module)
  return loading
}

/** Starts loading ssh2 without waiting; a failure shows up where it is awaited. */
export function preloadSsh2(): void {
  loadSsh2().catch(() => undefined)
}
