// Pure: the host commands of deploy.proxy.static, as argument vectors (scripts run as
// `sh -c SCRIPT pallet-NAME ARG...`, data only as positional arguments).
//
// Layout on a web host, beside the proxy's own directories, mounted read-only into the proxy
// container at STATIC_MOUNT (the proxy sees these files and nothing else of the host's state: the
// apps' state directories hold env files with secrets):
//
//   /var/lib/pallet/proxy-static/APP/releases/TAG/   the files of STATIC_ROOT in the image APP:TAG
//   /var/lib/pallet/proxy-static/APP/union.N/        hard links to every kept release's files,
//                                                    the live release's copied last (it wins a name
//                                                    two releases share)
//   /var/lib/pallet/proxy-static/APP/live            -> union.N (relative symlink, swapped atomically)
//
// The proxy serves APP's URL prefix from `live`, so a page of any kept release finds its hashed
// assets on every host, during a rolling deploy (the new release is in the union before any host
// switches) and after a rollback.
import { remoteScript } from '../../host/script.js';

/** Host directory of every app's static files (mounted into the proxy container). */
export const STATIC_DIR = '/var/lib/pallet/proxy-static';
/** Where the proxy container sees STATIC_DIR (read-only). */
export const STATIC_MOUNT = '/srv/pallet-static';

/** The app's static directory on the host. */
export function staticAppDir(app: string): string {
  return `${STATIC_DIR}/${app}`;
}

/** The directory the proxy serves the app's static files from, as the proxy container sees it. */
export function staticLiveRoot(app: string): string {
  return `${STATIC_MOUNT}/${app}/live`;
}

// Rebuilds the union with $1 (the live tag; '' = none) last, then points `live` at it. Hard links
// (cp -l) cost no space; the union of the previous deploy goes once `live` no longer names it
// (a request that has it open still finishes: the files stay until closed).
const UNION_FN = `union() {
  live="$1"; u="union.$$"
  rm -rf "\${d:?}/$u" && mkdir -p "$d/releases" "$d/$u" || return 1
  for r in $(ls -tr "$d/releases"); do
    [ "$r" = "$live" ] || cp -alf "$d/releases/$r/." "$d/$u/" || return 1
  done
  if [ -n "$live" ] && [ -d "$d/releases/$live" ]; then cp -alf "$d/releases/$live/." "$d/$u/" || return 1; fi
  ln -sfn "$u" "$d/live.new" && mv -T "$d/live.new" "$d/live" || return 1
  for o in "$d"/union.*; do [ "$o" = "$d/$u" ] || rm -rf "$o"; done
  echo "releases=$(ls "$d/releases" | tr '\\n' ' ')"
}`;

// Copies STATIC_ROOT ($3) out of the image $2 (a container is created, never started, and
// removed) into releases/$4, then rebuilds the union with $4 last. Prints existed=0|1 (whether
// the release had files here before), files=N, kib=N, releases=TAGS. Exit 4: the image has no $3.
const PLACE = `d="$1"; ref="$2"; root="$3"; tag="$4"
${UNION_FN}
mkdir -p "$d/releases" || exit 3
new="$d/releases/.$tag.new"; rm -rf "$new"
cid=$(docker create --label pallet.static-copy=1 "$ref" pallet-static-copy 2>&1) || { echo "could not create a container of $ref: $cid"; exit 3; }
trap 'docker rm -f "$cid" >/dev/null 2>&1; rm -rf "$new"' EXIT
if ! out=$(docker cp "$cid:$root/." "$new" 2>&1); then
  case "$out" in *"Could not find"*|*"No such"*|*"not a directory"*) echo "$ref has no directory $root"; exit 4 ;; esac
  echo "could not copy $root out of $ref: $out"; exit 3
fi
existed=0; [ -d "$d/releases/$tag" ] && existed=1
rm -rf "$d/releases/$tag" && mv "$new" "$d/releases/$tag" || exit 3
echo "existed=$existed"
echo "files=$(find "$d/releases/$tag" -type f | wc -l)"
echo "kib=$(du -sk --apparent-size "$d/releases/$tag" | cut -f1)"
union "$tag" || { echo "could not assemble the files of the kept releases"; exit 3; }`;

/** placeStaticArgv's exit code when the image has no such directory. */
export const PLACE_NO_ROOT = 4;

/**
 * Puts the static files of `imageRef` (the directory `root` in the image) on the host as the
 * release `tag` and makes them part of what the proxy serves for `app`, winning over the other
 * releases'. Output: see parsePlaced. Exit PLACE_NO_ROOT: the image has no `root`.
 */
export function placeStaticArgv(app: string, imageRef: string, root: string, tag: string): string[] {
  return remoteScript('place-static', PLACE, staticAppDir(app), imageRef, root, tag);
}

/** What placeStaticArgv reports: whether the release was there before, its size, and the releases now served. */
export interface PlacedStatic {
  existed: boolean;
  files: number;
  /** Size of the files in KiB (du --apparent-size -k: what they hold, not the disk blocks). */
  kib: number;
  releases: string[];
}

/** Pure: placeStaticArgv's key=value lines. */
export function parsePlaced(stdout: string): PlacedStatic {
  const v = (k: string) => (new RegExp(`^${k}=(.*)$`, 'm').exec(stdout)?.[1] ?? '').trim();
  return { existed: v('existed') === '1', files: Number(v('files')) || 0, kib: Number(v('kib')) || 0, releases: v('releases').split(/\s+/).filter(Boolean) };
}

// Removes the files of the releases $3... and rebuilds the union with $2 (the live tag) last.
const DROP = `d="$1"; live="$2"; shift 2
${UNION_FN}
[ -d "$d" ] || exit 0
for t; do case "$t" in ""|.|..|*/*) continue ;; esac; rm -rf "\${d:?}/releases/$t"; done
union "$live" || { echo "could not assemble the files of the kept releases"; exit 3; }`;

/**
 * Removes the static files of `tags` from the host (pruned releases, or the release of a failed
 * deploy) and serves the rest with `live`'s files first. Prints releases=TAGS (what remains).
 */
export function dropStaticArgv(app: string, live: string, tags: string[]): string[] {
  return remoteScript('drop-static', DROP, staticAppDir(app), live, ...tags);
}

/** `pallet remove`: every static file of `app` on the host. */
export function removeStaticArgv(app: string): string[] {
  return remoteScript('remove-static', 'd="$1"; [ -d "$d" ] || { echo removed=0; exit 0; }; rm -rf "$d" && echo removed=1', staticAppDir(app));
}
