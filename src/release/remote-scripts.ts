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
# Every path below is the release's only while no one else may rename what is in it: a user who
# could would point an extraction (as root, over SSM) anywhere.
for d in "$a" "$a/releases"; do
  [ -e "$d" ] || continue
  if [ ! -O "$d" ] || [ -n "$(find "$d" -maxdepth 0 -perm /022)" ]; then
    echo "$d must belong to user $(id -un) and be writable by no one else; nothing was shipped. E.g.: chown $(id -un) $d && chmod go-w $d" >&2
    exit 3
  fi
done
# The connection's own sshd process: a lock whose connection is gone (cut, killed) is stale.
# Read from /proc with the shell's own builtins (a ps per step up costs a process each).
session=; p=$$
while [ -z "$session" ] && [ "$p" -gt 1 ] && read -r stat < "/proc/$p/stat" 2>/dev/null; do
  comm=\${stat#*(}; comm=\${comm%%)*}
  set -- \${stat##*) }
  case "$comm" in sshd*) [ "$p" != $$ ] && session=$p ;; esac
  p=$2
done
# The lock appears whole or not at all: made aside with its holder, then renamed into place (a
# run killed at any moment leaves no lock without a holder, which no later run could tell apart).
new="$lock.$$"
take() {
  rm -rf -- "$new" && mkdir -- "$new" &&
    printf '%s\\n' "$holder" > "$new/holder" && printf '%s\\n' "$session" > "$new/session" &&
    mv -T -- "$new" "$lock" 2>/dev/null && return 0
  rm -rf -- "$new"
  return 1
}
waited=0
until take; do
  if [ ! -d "$lock" ]; then
    take && break
    echo "Could not create $lock." >&2
    exit 3
  fi
  held=$(head -c 512 -- "$lock/holder" 2>/dev/null)
  owner=$(cat -- "$lock/session" 2>/dev/null)
  if [ -n "$owner" ] && [ ! -d "/proc/$owner" ]; then
    # Moved aside first, in one rename: of two runs that judge it stale, one moves it; and a lock
    # taken meanwhile by a live run (not the one judged stale) goes back.
    stale="$lock.stale.$$"
    if mv -T -- "$lock" "$stale" 2>/dev/null; then
      if [ "$(cat -- "$stale/session" 2>/dev/null)" = "$owner" ]; then
        echo "Taking over the lock of a release whose connection is gone: $held"
        rm -rf -- "$stale"
      else
        mv -T -- "$stale" "$lock" 2>/dev/null
      fi
    fi
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
mkdir -p -- "$a/releases" || exit
pointed=$(readlink -- "$a/current" 2>/dev/null)
# For a prune in the same go, which cannot be told the previous release by the runner.
printf '%s\\n' "\${pointed#releases/}" > "$lock/previous"
printf '%s %s\\n' "$marker" "$pointed"`

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
tar -xzf - -C "$t" --no-same-owner --no-same-permissions || exit
printf '%s\\n' "$revision" > "$t/REVISION" || exit
mv -T -- "$t" "$a/releases/$r"`

/**
 * Reads the archive (tar, gzip) from standard input into a temporary directory, writes REVISION,
 * and only then renames it into releases/: a cut connection leaves no release that looks whole.
 */
export function receiveCommand(layout: ReleaseLayout, revision: string): string {
  return run('release-receive', RECEIVE, layout.appDir, layout.releaseId, revision)
}

const DOWNLOAD = `a=$1; r=$2; url=$3; sum=$4; size=$8
# A directory of this run's own (mktemp: mode 0700, in the sticky /var/tmp, on disk): no one else
# can plant a link where curl writes, or swap the file between its check and its extraction.
d=$(mktemp -d /var/tmp/secrets-deploy-release.XXXXXXXX) || exit 5
f="$d/archive.tar.gz"
if ! curl -fsS --retry 3 --max-time "$5" --max-filesize "$size" -o "$f" "$url"; then
  rm -rf -- "$d"
  echo "Downloading release $r from S3 failed: its presigned URL lasts as long as ssm-timeout." >&2
  exit 5
fi
got=$(sha256sum -- "$f" | cut -d ' ' -f 1)
bytes=$(wc -c < "$f")
if [ "$got" != "$sum" ] || [ "$bytes" -ne "$size" ]; then
  rm -rf -- "$d"
  echo "The archive of release $r has sha256 $got ($bytes bytes), not $sum ($size bytes) as uploaded: refused, nothing extracted." >&2
  exit 6
fi
sh -c "$6" release-receive "$a" "$r" "$7" < "$f"; s=$?
rm -rf -- "$d"
exit "$s"`

/**
 * Over SSM: downloads the archive with its presigned URL (curl, on the instance: it needs no S3
 * permission), refuses it unless its sha256 is the one uploaded, then receives it as over SSH.
 */
export function downloadAndReceiveCommand(
  layout: ReleaseLayout,
  revision: string,
  download: { url: string; sha256: string; bytes: number; timeoutSeconds: number }
): string {
  return run(
    'release-download',
    DOWNLOAD,
    layout.appDir,
    layout.releaseId,
    download.url,
    download.sha256,
    download.timeoutSeconds,
    RECEIVE,
    revision,
    download.bytes
  )
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
# Not given: where current pointed when this run took the lock.
[ -n "$previous" ] || previous=$(head -c 200 -- "$a/${LOCK_DIR}/previous" 2>/dev/null)
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
 * Keeps the `keep` newest releases, and always the live and the previous one (undefined: the one
 * current pointed to when the lock was taken). Names under
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
# Only the lock's holder touches anything: a run that never got the lock (it timed out waiting)
# may name the release another job of the same run is shipping.
[ "$(cat -- "$a/${LOCK_DIR}/holder" 2>/dev/null)" = "$holder" ] || exit 0
# A release that was never switched to is removed (not once current has pointed at it).
if [ -n "$r" ] && [ "$(readlink -- "$a/current" 2>/dev/null)" != "releases/$r" ]; then
  rm -rf -- "$a/releases/$r" "$a/releases/.incoming-$r"
fi
rm -rf -- "$a/${LOCK_DIR}"
exit 0`

/**
 * Gives the lock back, when it is still this run's; with `unused`, first removes that release
 * unless current points at it (a release that failed before its switch).
 */
export function unlockCommand(appDir: string, holder: string, unused?: string): string {
  return run('release-unlock', UNLOCK, appDir, unused ?? '', holder)
}
