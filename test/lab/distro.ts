// Where the lab's root filesystems come from, decided from the machine it runs on (pure; no I/O).
//
// - On Debian, debootstrap uses the archive apt already uses (the first `URIs:` of debian.sources,
//   else the first `deb` line of sources.list): our machines reach only that one.
// - Elsewhere (an Ubuntu GitHub runner), there is no Debian source on the machine: debootstrap uses
//   Debian's public archive with the Debian archive keyring, which Ubuntu packages as
//   `debian-archive-keyring`.
// - PALLET_LAB_DEBIAN_MIRROR overrides the archive on any machine.
// - PALLET_LAB_IMAGES=hub builds the same package sets from the official `debian:bookworm-slim` image
//   instead of debootstrap, for machines that can pull official images (GitHub-hosted runners can; our
//   machines cannot, so debootstrap stays the default).
import { parseMirror } from './recipes.js';

/** The fields of os-release(5) the lab uses. */
export interface OsRelease {
  /** `ID`, lower case: `debian`, `ubuntu`, ... ('' when absent). */
  id: string;
  /** `ID_LIKE`, split on spaces. */
  idLike: string[];
  /** `PRETTY_NAME`, for messages. */
  prettyName: string;
}

/**
 * Parses `/etc/os-release` text (os-release(5): `KEY=value` lines, values optionally quoted).
 * @param text the file's content; undefined when the file is missing
 */
export function parseOsRelease(text: string | undefined): OsRelease {
  const fields = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (!m) continue;
    fields.set(m[1], m[2].trim().replace(/^(["'])(.*)\1$/, '$2'));
  }
  return {
    id: (fields.get('ID') ?? '').toLowerCase(),
    idLike: (fields.get('ID_LIKE') ?? '').toLowerCase().split(/\s+/).filter(Boolean),
    prettyName: fields.get('PRETTY_NAME') ?? fields.get('ID') ?? 'unknown system',
  };
}

/** Debian's public archive: used only where the machine has no Debian source of its own. */
export const DEBIAN_PUBLIC_ARCHIVE = 'http://deb.debian.org/debian';
/** Where `debian-archive-keyring` (Debian and Ubuntu alike) installs Debian's archive keys. */
export const DEBIAN_ARCHIVE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** The official image the `hub` mode starts from. */
export const HUB_BASE_IMAGE = 'debian:bookworm-slim';

/** How the lab's root filesystems are made on this machine. */
export type RootfsSource =
  | {
      mode: 'debootstrap';
      /** Archive URL passed to debootstrap. */
      mirror: string;
      /** `--keyring` for debootstrap; absent on Debian, whose debootstrap finds its own keyring. */
      keyring?: string;
      /** Why this archive: the override variable, the machine's apt sources, or the public archive. */
      origin: 'override' | 'apt' | 'public';
    }
  | { mode: 'hub'; baseImage: string };

/** What {@link rootfsSource} reads: file contents (undefined when missing) and the environment. */
export interface MachineFacts {
  osRelease: string | undefined;
  debianSources: string | undefined;
  sourcesList: string | undefined;
  env: Record<string, string | undefined>;
}

/**
 * Decides how to make the lab's root filesystems.
 * @throws Error when PALLET_LAB_IMAGES has a value other than `debootstrap` or `hub`, or the
 *   override is not an http(s) URL
 */
export function rootfsSource(facts: MachineFacts): RootfsSource {
  const images = (facts.env.PALLET_LAB_IMAGES ?? '').trim() || 'debootstrap';
  if (images === 'hub') return { mode: 'hub', baseImage: HUB_BASE_IMAGE };
  if (images !== 'debootstrap') {
    throw new Error(`PALLET_LAB_IMAGES=${images}: use "debootstrap" (the default, from Debian packages) or "hub" (from the official ${HUB_BASE_IMAGE} image)`);
  }
  const os = parseOsRelease(facts.osRelease);
  const debian = os.id === 'debian';
  const keyring = debian ? undefined : DEBIAN_ARCHIVE_KEYRING;
  const override = (facts.env.PALLET_LAB_DEBIAN_MIRROR ?? '').trim();
  if (override) {
    if (!/^https?:\/\/\S+$/.test(override)) {
      throw new Error(`PALLET_LAB_DEBIAN_MIRROR=${override}: expected the URL of a Debian archive, e.g. ${DEBIAN_PUBLIC_ARCHIVE}`);
    }
    return { mode: 'debootstrap', mirror: override, keyring, origin: 'override' };
  }
  // Only a Debian machine's own sources point at a Debian archive (an Ubuntu sources.list names
  // Ubuntu's archive, which has no bookworm).
  const own = debian ? parseMirror(facts.debianSources, facts.sourcesList) : undefined;
  if (own) return { mode: 'debootstrap', mirror: own, origin: 'apt' };
  return { mode: 'debootstrap', mirror: DEBIAN_PUBLIC_ARCHIVE, keyring, origin: 'public' };
}

/** One line for the lab log saying where the root filesystems come from. */
export function describeRootfsSource(s: RootfsSource): string {
  if (s.mode === 'hub') return `from the official ${s.baseImage} image (PALLET_LAB_IMAGES=hub)`;
  const why = { override: 'PALLET_LAB_DEBIAN_MIRROR', apt: "this machine's apt sources", public: 'no Debian source on this machine' }[s.origin];
  return `with debootstrap from ${s.mirror} (${why}${s.keyring ? `; keyring ${s.keyring}` : ''})`;
}

/**
 * The Dockerfile that makes a recipe's root filesystem from the official Debian image: the same
 * package set as debootstrap would install, apt lists removed, the recipe's `docker import --change`
 * instructions (they are Dockerfile instructions) appended.
 */
export function hubRootfsDockerfile(baseImage: string, packages: string[], changes: string[]): string {
  return [
    `FROM ${baseImage}`,
    'ARG DEBIAN_FRONTEND=noninteractive',
    `RUN apt-get update && apt-get install -y --no-install-recommends ${[...packages].sort().join(' ')} \\`,
    ' && rm -rf /var/lib/apt/lists/*',
    ...changes,
  ].join('\n');
}
