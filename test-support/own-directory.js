// A directory of its own for one stand-in instance: separate machines have separate disks, but the
// stand-ins of a fleet share this one, so each sees its own files at the same path through a
// private bind mount, in a mount namespace of its own (needs root). Test support only.

/**
 * The command line that runs `program` with `files` mounted at `path`. unshare(1) execs its
 * program in the new namespace, so the process started is still the program's own.
 * @param {string} files the directory that holds this instance's files
 * @param {string} path where the instance sees them
 * @param {string[]} program
 * @returns {string[]}
 */
export function withOwnDirectory(files, path, program) {
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '/bin/sh',
    '-c',
    'mount --bind "$1" "$2" && shift 2 && exec "$@"',
    'own-directory',
    files,
    path,
    ...program
  ]
}
