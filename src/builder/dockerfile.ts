// What pallet needs to know about a Dockerfile (pure; parsed with dockerfile-ast, the parser
// behind VS Code's Docker extension): its stages and their instructions with line numbers,
// which stages a target needs, and the text BuildKit shows for each instruction, so that a
// build step can be traced back to its line.
import { DockerfileParser, type Instruction, type From } from 'dockerfile-ast';

export interface DockerfileInstruction {
  /** Upper-case keyword as written ("RUN", "COPY", or an unknown word such as "FOOBAR"). */
  keyword: string;
  /** 1-based first and last line (a continued or heredoc instruction spans several). */
  line: number;
  endLine: number;
  /** Flag names without dashes, e.g. ["mount"] for RUN --mount=..., ["from", "chmod"] for COPY. */
  flags: { name: string; value: string | null }[];
  /** The instruction carries a heredoc (RUN <<EOF ...). */
  heredoc: boolean;
  /** The instruction as BuildKit names its step: continuations joined, whitespace collapsed. */
  text: string;
}

export interface DockerfileStage {
  /** 0-based position among the FROMs. */
  index: number;
  /** `AS name`, lower-cased as BuildKit matches it; undefined for an unnamed stage. */
  name?: string;
  /** The FROM argument as written (an image, or an earlier stage's name or index). */
  base: string;
  /** FROM and every instruction up to the next FROM. */
  instructions: DockerfileInstruction[];
}

export interface ParsedDockerfile {
  /** Parser directives at the top (`# syntax=...`, `# escape=...`), with their 1-based line. */
  directives: { name: string; value: string; line: number }[];
  /** Instructions before the first FROM (global ARGs). */
  preamble: DockerfileInstruction[];
  stages: DockerfileStage[];
}

/** Collapses an instruction's source the way BuildKit prints it in a step name. */
export function normalizeInstructionText(source: string): string {
  return source.replace(/\\\r?\n/g, ' ').replace(/\s+/g, ' ').trim();
}

function toInstruction(i: Instruction, lines: string[]): DockerfileInstruction {
  const r = i.getRange();
  const withFlags = i as Instruction & { getFlags?: () => { getName(): string; getValue(): string | null }[]; getHeredocs?: () => unknown[] };
  return {
    keyword: i.getKeyword().toUpperCase(),
    line: r.start.line + 1,
    endLine: r.end.line + 1,
    flags: (withFlags.getFlags?.() ?? []).map((f) => ({ name: f.getName(), value: f.getValue() })),
    heredoc: (withFlags.getHeredocs?.() ?? []).length > 0,
    text: normalizeInstructionText(lines.slice(r.start.line, r.end.line + 1).join('\n')),
  };
}

/** Parses Dockerfile text. Never throws: unknown instructions are kept as they are written. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const df = DockerfileParser.parse(text);
  const lines = text.split('\n');
  const directives = df.getDirectives().map((d) => ({ name: d.getName().toLowerCase(), value: d.getValue(), line: d.getRange().start.line + 1 }));
  const preamble: DockerfileInstruction[] = [];
  const stages: DockerfileStage[] = [];
  for (const i of df.getInstructions()) {
    const ins = toInstruction(i, lines);
    if (ins.keyword === 'FROM') {
      const from = i as From;
      stages.push({ index: stages.length, name: from.getBuildStage()?.toLowerCase() || undefined, base: from.getImageName() ?? '', instructions: [ins] });
    } else if (stages.length) {
      stages.at(-1)!.instructions.push(ins);
    } else {
      preamble.push(ins);
    }
  }
  return { directives, preamble, stages };
}

/** The stage a FROM / --from= / mount from= reference names, if it names one (by name or index). */
export function stageByRef(df: ParsedDockerfile, ref: string, before: number): DockerfileStage | undefined {
  const r = ref.toLowerCase();
  if (/^\d+$/.test(r)) return Number(r) < before ? df.stages[Number(r)] : undefined;
  return df.stages.slice(0, before).find((s) => s.name === r);
}

/** The target stage: by name, or the last stage when target is empty. Throws on an unknown name. */
export function targetStage(df: ParsedDockerfile, target?: string): DockerfileStage {
  if (!df.stages.length) throw new Error('the Dockerfile has no FROM instruction');
  if (!target) return df.stages.at(-1)!;
  const s = df.stages.find((x) => x.name === target.toLowerCase());
  if (!s) throw new Error(`build.target "${target}" is not a stage of the Dockerfile (stages: ${df.stages.map((x) => x.name ?? x.index).join(', ')})`);
  return s;
}

/**
 * The stages `target` needs, dependencies first and the target last: its FROM chain plus every
 * stage named by `COPY --from=` or `RUN --mount=...,from=`. Stages nothing refers to are left
 * out, as BuildKit leaves them out of the build.
 */
export function stagesFor(df: ParsedDockerfile, target?: string): DockerfileStage[] {
  const out: DockerfileStage[] = [];
  const seen = new Set<number>();
  const visit = (s: DockerfileStage) => {
    if (seen.has(s.index)) return;
    seen.add(s.index);
    const refs = [s.base];
    for (const ins of s.instructions) {
      for (const f of ins.flags) {
        if (f.name === 'from' && f.value) refs.push(f.value);
        if (f.name === 'mount' && f.value) {
          const from = f.value.split(',').map((kv) => kv.split('=')).find(([k]) => k === 'from');
          if (from?.[1]) refs.push(from[1]);
        }
      }
    }
    for (const r of refs) {
      const dep = stageByRef(df, r, s.index);
      if (dep) visit(dep);
    }
    out.push(s);
  };
  visit(targetStage(df, target));
  return out;
}

/** Finds the instruction a BuildKit step name points at: `[stage i/n] TEXT` -> stage and instruction. */
export function instructionForStep(df: ParsedDockerfile, stageLabel: string | undefined, text: string): { stage: DockerfileStage; instruction: DockerfileInstruction } | undefined {
  const want = normalizeInstructionText(text);
  const label = stageLabel?.toLowerCase();
  const stageOf = (s: DockerfileStage) => s.name ?? `stage-${s.index}`;
  const candidates = label ? df.stages.filter((s) => stageOf(s) === label) : df.stages;
  const pool = candidates.length ? candidates : df.stages;
  for (const stage of pool) {
    const exact = stage.instructions.find((i) => i.text === want);
    if (exact) return { stage, instruction: exact };
  }
  // FROM is printed with the image name resolved (docker.io/library/...): match the keyword in the stage.
  if (/^FROM\s/i.test(want) && pool.length === 1) return { stage: pool[0], instruction: pool[0].instructions[0] };
  return undefined;
}
