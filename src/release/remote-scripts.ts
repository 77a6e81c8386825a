import { quote } from 'shell-quote'

// The release's commands on an instance, each a constant POSIX sh script run as
// `sh -c <script> <name> <argument>...`: every value (app-dir, release id, the workflow's
// release-command) reaches it as a positional parameter, quoted as one word by shell-quote, so no
// value is ever parsed as shell syntax. The layout is Capistrano's and Kamal's: releases/<id>/
// beside a symlink `current` → releases/<id>, switched by renaming a new symlink over it
// (`mv -T`, GNU coreutils' --no-target-directory: one rename(2), atomic).

/** The values each script is built from; all checked before (release/settings.ts). */
export interface ReleaseLayout {
  /** Absolute, checked (checkAppDir). */
  appDir: string
  /** Checked (releaseId). */
  releaseId: string
}

/** The lock's directory under app-dir: mkdir is atomic, and its holder file names the run. */
export const LOCK_DIR = '.release-lock'

const run = (name: string, script: string, ...args: (string | number)[]): string =>
  quote(['sh', '-c', script, name, ...args.map(String)])

const LOCK = `a=$1; holder=$2; wait=$3; marker=$4; lock="$a/${LOCK_DIR}"
if [ ! -d "$a" ] || [ ! -w "$a" ]; then
  echo "$a is not a directory that user $(id -un) can write; nothing was shipped. Create it for that user, e.g. in the instance's user data: install -d -o $(id -un) $a" >&2
  exit 3
fi
# The connection's own sshd process: a lock whose connection is gone (cut, killed) is stale.
# Read from /proc with the shell's own builtins (a ps per step up costs a process each).
session=; p=$$
while [ -z "$session" ] && [ "$p" -gt 1 ] && read -r stat < "/proc/$p/stat" 2>/dev/null; do
  comm=\${stat#*(}; comm=\${comm%%)*}
  set -- \${stat##*) }
  case "$comm" in sshd*) [ "$p" != $$ ] && session=$p ;; esac
  p=$2
done
waited=0
until mkdir -- "$lock" 2>/dev/null; do
  [ -d "$lock" ] || { mkdir -- "$lock"; exit 3; }
  held=$(head -c 512 -- "$lock/holder" 2>/dev/null)
  owner=$(cat -- "$lock/session" 2>/dev/null)
  if [ -n "$owner" ] && [ ! -d "/proc/$owner" ]; then
    echo "Taking over the lock of a release whose connection is gone: $held"
    rm -rf -- "$lock"
    continue
  fi
  if [ "$waited" -ge "$wait" ]; then
    echo "Another release held $lock for $wait s: $held. If no run is under way there, remove that directory." >&2
    exit 75
  fi
  [ "$waited" -eq 0 ] && echo "Waiting for the release under way in $a: $held"
  sleep 1
  waited=$((waited + 1))
done
printf '%s\\n' "$holder" > "$lock/holder"
printf '%s\\n' "$session" > "$lock/session"
mkdir -p -- "$a/releases" || exit
printf '%s %s\\n' "$marker" "$(readlink -- "$a/current" 2>/dev/null)"`

/**
 * Takes the lock (waiting up to `waitSeconds`, then failing with the holder's name), after checking
 * that the login user may write app-dir, and prints `<marker> <where current points>`.
 */
export function lockCommand(
  layout: ReleaseLayout,
  holder: string,
  waitSeconds: number,
  marker: string
): string {
  return run('release-lock', LOCK, layout.appDir, holder, waitSeconds, marker)
}

const RECEIVE = `a=$1; r=$2; revision=$3
if [ -e "$a/releases/$r" ]; then echo "Release $r is already in $a/releases." >&2; exit 4; fi
# Left by a cut connection: never renamed, so never taken for a release. The lock is ours.
rm -rf -- "$a/releases/.incoming-"*
t="$a/releases/.incoming-$r"
mkdir -- "$t" || exit
tar -xzf - -C "$t" --no-same-owner || exit
printf '%s\\n' "$revision" > "$t/REVISION" || exit
mv -T -- "$t" "$a/releases/$r"`

/**
 * Reads the archive (tar, gzip) from standard input into a temporary directory, writes REVISION,
 * and only then renames it into releases/: a cut connection leaves no release that looks whole.
 */
export function receiveCommand(layout: ReleaseLayout, revision: string): string {
  return run('release-receive', RECEIVE, layout.appDir, layout.releaseId, revision)
}

const RELEASE_COMMAND = `cd -- "$1" && exec sh -c "$2"`

/** The workflow's release-command, in the new release's directory (where it will run from). */
export function releaseCommand(layout: ReleaseLayout, command: string): string {
  return run(
    'release-command',
    RELEASE_COMMAND,
    `${layout.appDir}/releases/${layout.releaseId}`,
    command
  )
}

const SWITCH = `a=$1; r=$2
[ -d "$a/releases/$r" ] || { echo "Release $r is not in $a/releases." >&2; exit 4; }
rm -f -- "$a/.current-$r"
ln -s -- "releases/$r" "$a/.current-$r" && mv -T -- "$a/.current-$r" "$a/current"`

/** Points current at `releaseId` in one rename: a new symlink, moved over the old one. */
export function switchCommand(appDir: string, releaseId: string): string {
  return run('release-switch', SWITCH, appDir, releaseId)
}

const PRUNE = `set -f; a=$1; keep=$2; live=$3; previous=$4
cd -- "$a/releases" || exit
n=0
for d in $(ls -1t); do
  [ -d "$d" ] || continue
  n=$((n + 1))
  if [ "$n" -gt "$keep" ] && [ "$d" != "$live" ] && [ "$d" != "$previous" ]; then
    rm -rf -- "$d" && echo "Removed release $d"
  fi
done`

/**
 * Keeps the `keep` newest releases, and always the live and the previous one. Names under
 * releases/ are the release ids this action writes (no white space), so the word split is safe.
 */
export function pruneCommand(
  appDir: string,
  keep: number,
  live: string,
  previous: string | undefined
): string {
  return run('release-prune', PRUNE, appDir, keep, live, previous ?? '')
}

const UNLOCK = `a=$1; r=$2; holder=$3
# A release that was never switched to is removed (not once current has pointed at it).
if [ -n "$r" ] && [ "$(readlink -- "$a/current" 2>/dev/null)" != "releases/$r" ]; then
  rm -rf -- "$a/releases/$r" "$a/releases/.incoming-$r"
fi
[ "$(cat -- "$a/${LOCK_DIR}/holder" 2>/dev/null)" = "$holder" ] && rm -rf -- "$a/${LOCK_DIR}"
exit 0`

/**
 * Gives the lock back, when it is still this run's; with `unused`, first removes that release
 * unless current points at it (a release that failed before its switch).
 */
export function unlockCommand(appDir: string, holder: string, unused?: string): string {
  return run('release-unlock', UNLOCK, appDir, unused ?? '', holder)
}
