// Which builder builds the image (pure; tested table-style): BuildKit whenever the engine has
// it, the classic builder only as the fallback for an engine without it (or when the user
// sets DOCKER_BUILDKIT=0, as with the docker CLI). On the fallback, a Dockerfile that needs
// BuildKit is refused before the build, naming the file, line and instruction.
import type { ParsedDockerfile, DockerfileInstruction } from './dockerfile.js';

export type BuilderKind = 'buildkit' | 'classic';

/** What the engine says about itself: `GET /version` and the `GET /_ping` headers. */
export interface EngineFacts {
  /** Engine API version ("1.41"). */
  apiVersion: string;
  /** "linux" or "windows". */
  os: string;
  /** The `Builder-Version` header of /_ping ("1", "2"), when the engine sends one. */
  builderVersion?: string;
  /** Names of the engine's components (`Podman Engine` marks Podman's Docker-compatible API). */
  components?: string[];
  /** Engine version ("20.10.24"), for messages. */
  version?: string;
}

export interface BuilderChoice {
  builder: BuilderKind;
  /** Why, in one sentence for the log. */
  reason: string;
}

/** BuildKit came to the Engine API with 1.39 (Docker 18.09). */
const BUILDKIT_MIN_API = [1, 39];

function apiAtLeast(v: string, min: number[]): boolean {
  const [a, b] = v.split('.').map((x) => Number(x) || 0);
  return a > min[0] || (a === min[0] && b >= min[1]);
}

/**
 * Decides the builder from the engine's facts and DOCKER_BUILDKIT ("0"/"false": classic;
 * "1"/"true": BuildKit even where the engine looks unable, so that its error is shown).
 */
export function chooseBuilder(engine: EngineFacts, env: { DOCKER_BUILDKIT?: string }): BuilderChoice {
  const forced = env.DOCKER_BUILDKIT?.trim().toLowerCase();
  if (forced === '0' || forced === 'false') return { builder: 'classic', reason: 'DOCKER_BUILDKIT=0 asks for the classic builder' };
  if (forced === '1' || forced === 'true') return { builder: 'buildkit', reason: 'DOCKER_BUILDKIT=1 asks for BuildKit' };
  const name = `Docker Engine ${engine.version ?? ''} (API ${engine.apiVersion}, ${engine.os})`.replace('  ', ' ');
  if ((engine.components ?? []).some((c) => /podman/i.test(c))) return { builder: 'classic', reason: `${name} is Podman's Docker-compatible API, which has no BuildKit` };
  if (engine.os.toLowerCase() !== 'linux') return { builder: 'classic', reason: `${name}: BuildKit through the Engine API needs a Linux engine` };
  if (!apiAtLeast(engine.apiVersion, BUILDKIT_MIN_API)) return { builder: 'classic', reason: `${name} predates BuildKit (Engine API 1.39, Docker 18.09)` };
  return { builder: 'buildkit', reason: `${name} has BuildKit` };
}

export interface BuildkitOnlyUse {
  /** 1-based line. */
  line: number;
  /** The instruction keyword, or "# syntax" for the directive. */
  instruction: string;
  /** What needs BuildKit, e.g. "RUN --mount", "COPY --chmod", "a heredoc". */
  feature: string;
}

const FLAG_FEATURES: Record<string, string[]> = {
  RUN: ['mount', 'network', 'security'],
  COPY: ['chmod', 'link', 'parents', 'exclude'],
  ADD: ['chmod', 'link', 'checksum', 'keep-git-dir', 'exclude'],
};

function instructionUses(i: DockerfileInstruction): string[] {
  const found = i.flags.filter((f) => FLAG_FEATURES[i.keyword]?.includes(f.name)).map((f) => `${i.keyword} --${f.name}`);
  if (i.heredoc) found.push(`a heredoc in ${i.keyword}`);
  return found;
}

/** Every use of a BuildKit-only feature, in file order (pure). */
export function buildkitOnlyUses(df: ParsedDockerfile): BuildkitOnlyUse[] {
  const uses: BuildkitOnlyUse[] = df.directives.filter((d) => d.name === 'syntax').map((d) => ({ line: d.line, instruction: '# syntax', feature: `the frontend directive "# syntax=${d.value}"` }));
  for (const i of [...df.preamble, ...df.stages.flatMap((s) => s.instructions)]) {
    for (const feature of instructionUses(i)) uses.push({ line: i.line, instruction: i.keyword, feature });
  }
  return uses.sort((a, b) => a.line - b.line);
}

/** The message for a Dockerfile the classic builder cannot build, or undefined when it can. */
export function classicBuilderRefusal(file: string, uses: BuildkitOnlyUse[], choice: BuilderChoice): { message: string; hint: string } | undefined {
  if (!uses.length) return undefined;
  const list = uses.map((u) => `${file}:${u.line}: ${u.instruction} uses ${u.feature}`).join('; ');
  return {
    message: `${file} needs BuildKit, but the image would be built with the classic builder (${choice.reason}): ${list}`,
    hint: choice.reason.startsWith('DOCKER_BUILDKIT=0')
      ? 'unset DOCKER_BUILDKIT (or set it to 1) to build with BuildKit'
      : 'build on a Docker Engine with BuildKit (18.09 or later on Linux), or rewrite those lines without BuildKit-only features',
  };
}

/**
 * Heredocs need Dockerfile frontend 1.4, which the engine's built-in frontend has from Docker
 * Engine 23.0 (API 1.42); older engines fail with "unknown instruction" on the heredoc's body.
 * A `# syntax=` line brings a newer frontend from a registry, so it lifts the limit.
 */
export function heredocRefusal(file: string, df: ParsedDockerfile, engine: EngineFacts): { message: string; hint: string } | undefined {
  if (apiAtLeast(engine.apiVersion, [1, 42]) || df.directives.some((d) => d.name === 'syntax')) return undefined;
  const uses = buildkitOnlyUses(df).filter((u) => u.feature.startsWith('a heredoc'));
  if (!uses.length) return undefined;
  return {
    message: `${file}:${uses[0].line}: ${uses[0].instruction} uses a heredoc, which the built-in Dockerfile frontend of Docker Engine ${engine.version ?? engine.apiVersion} does not understand (heredocs need Docker Engine 23.0 or later)`,
    hint: 'write the script as a RUN with && and \\ continuations (or COPY a script file), or build on Docker Engine 23.0+, or add "# syntax=docker/dockerfile:1" where the engine can pull that frontend',
  };
}
