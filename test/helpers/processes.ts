/**
 * Local process lookups for e2e tests that watch what pallet runs (ssh masters, remote commands)
 * or that check nothing is left behind. Reads Linux `/proc/PID/cmdline` (NUL-separated argv).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** One local process: its pid and argv as the kernel reports it. */
export interface LocalProcess { pid: number; argv: string[] }

/** Every process this user can read, with its argv; processes that exit while being read are skipped. */
export function listProcesses(): LocalProcess[] {
  const out: LocalProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.at(-1) === '') argv.pop();
      if (argv.length) out.push({ pid: Number(entry), argv });
    } catch { /* gone */ }
  }
  return out;
}

/** True when `argv` holds `seq` as consecutive, whole arguments (e.g. `['-p', '2201']`). */
export function hasArgs(argv: readonly string[], seq: readonly string[]): boolean {
  for (let i = 0; i + seq.length <= argv.length; i++) {
    if (seq.every((s, j) => argv[i + j] === s)) return true;
  }
  return false;
}

/**
 * Pids of local processes running `program` (argv[0]'s base name) that carry each of `args` as whole
 * consecutive arguments and whose command line contains each of `contains` as a substring (paths,
 * words of a remote command). Whole-argument matching matters: a flag such as `-M` must not match
 * a temporary directory name that happens to contain "-M".
 */
export function localProcesses(program: string, match: { args?: string[][]; contains?: string[] } = {}): number[] {
  return listProcesses()
    .filter((p) => path.basename(p.argv[0]) === program)
    .filter((p) => (match.args ?? []).every((seq) => hasArgs(p.argv, seq)))
    .filter((p) => (match.contains ?? []).every((s) => p.argv.join(' ').includes(s)))
    .map((p) => p.pid);
}

/**
 * Samples, every 100 ms until `until` settles (at most `maxRounds` rounds), the process list of each
 * host (`ps -eo args` through `hostPs`) and the local ssh, docker and node command lines, so a test
 * can check that no secret ever appeared in argv on either side.
 */
export async function sampleProcesses(
  until: Promise<unknown>,
  hosts: { addresses: readonly string[]; hostPs: (address: string) => Promise<string> },
  sink: { hostPs: string[]; localCmdlines: string[] },
  maxRounds = 1200,
): Promise<void> {
  let done = false;
  void until.finally(() => { done = true; }).catch(() => undefined);
  for (let i = 0; i < maxRounds && !done; i++) {
    sink.hostPs.push(...await Promise.all(hosts.addresses.map((a) => hosts.hostPs(a).catch(() => ''))));
    for (const p of listProcesses()) {
      const cmd = p.argv.join(' ');
      if (/\b(ssh|docker|node)\b/.test(cmd)) sink.localCmdlines.push(cmd);
    }
    await sleep(100);
  }
}
