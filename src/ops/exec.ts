// Pure: `pallet exec`. A one-off container of the role's running tag with its env files and
// the app's volumes (the same docker run as the release tasks), the arguments passed as an
// argument vector. Interactive runs get a terminal; the others stop with their ssh session.
import { randomBytes } from 'node:crypto';
import { auditRecord, taskArgv } from '../deploy/commands.js';
import { shellQuote } from '../ssh/quote.js';
import { untilHangupArgv } from './hangup.js';

export interface ExecSpec {
  app: string;
  image: string;
  role: string;
  /** The tag the role's live container runs on this host. */
  tag: string;
  envFile?: string;
  /** The running release's deploy.env file, where the host has one (before envFile, which wins). */
  releaseEnvFile?: string;
  args: string[];
  interactive: boolean;
  /** Suffix of the container name (random by default). */
  id?: string;
}

/** `APP-exec-ROLE-xxxxxx`: recognisable in `docker ps`, unique per exec. */
export function execContainerName(app: string, role: string, id = randomBytes(3).toString('hex')): string {
  return `${app}-exec-${role}-${id}`.slice(0, 120);
}

/** The remote argv of one exec. */
export function execArgv(s: ExecSpec): string[] {
  const run = taskArgv({
    app: s.app, image: s.image, tag: s.tag, envFile: s.envFile, releaseEnvFile: s.releaseEnvFile, command: s.args,
    name: execContainerName(s.app, s.role, s.id), kind: 'exec', tty: s.interactive,
  });
  // With a terminal sshd hangs the session up itself (SIGHUP reaches docker run).
  return s.interactive ? run : untilHangupArgv(run);
}

/** Overall exit code of an exec on several hosts: 0 if all were 0, else the first non-zero in host order. */
export function combinedExitCode(codes: number[]): number {
  return codes.find((c) => c !== 0) ?? 0;
}

/**
 * Pure: a hint when an exec failed because its arguments start with `manage.py` although the
 * contract's entrypoint adds it (`*) exec python3 manage.py "$@"`): Django then answers only
 * "Unknown command: 'manage.py'". undefined otherwise.
 */
export function managePyHint(args: string[], exitCode: number | undefined): string | undefined {
  const first = args[0] ?? '';
  if (!exitCode || !/^(\.\/)?manage\.py$/.test(first)) return undefined;
  return `the image's entrypoint already runs manage.py: drop it, e.g. pallet exec -- ${args.length > 1 ? shellQuote(args.slice(1)) : 'check'}`;
}

/**
 * The audit line of one exec: `ROLE@TAG $ ARGS` and `exit=N`. Arguments are shell-quoted so the
 * line reads like the command, and pass through `mask` (the reporter's secret masking) first.
 */
export function execAuditLine(e: { time: Date; actor: string; app: string; role: string; tag: string; args: string[]; exitCode: number | string; runId: string; interactive: boolean }, mask: (s: string) => string = (s) => s): string {
  const cmd = mask(shellQuote(e.args));
  const what = `${e.role}@${e.tag}${e.interactive ? ' -i' : ''} $ ${cmd.length > 300 ? `${cmd.slice(0, 300)}...` : cmd}`;
  return auditRecord({ time: e.time, actor: e.actor, app: e.app, command: 'exec', what, result: `exit=${e.exitCode}`, runId: e.runId });
}
