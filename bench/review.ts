// What review apps cost, against a plain deploy of the same image to the same host, through the
// shipped CLI (node dist/cli/index.js, as users run it; PALLET_E2E_FROM_SOURCE=1 runs src/).
// One lab host runs the main app (app benchreview, its own env file, image repository and host
// names) behind the host's proxy; the review section starts a PostgreSQL and a Redis per review
// app (the lab's images, pushed to the lab registry as pallet-bench/review-pg and -redis). Each
// round, with a fresh tag for every deploy (a retag of the example image v1 or v2: its layers are
// on the host, the pull moves a manifest), measures:
//   plain:   `pallet deploy --tag T`, the main app to a new tag (its migrations a no-op);
//   new:     `pallet review deploy N --tag T` of a new pull request: network, PostgreSQL and Redis
//            started and waited for, the migrations against the fresh database, the route;
//            The host has no review app before it, so the services' images are pulled (the last
//            review app's destroy removed them), as for the first pull request on a host;
//   push:    `pallet review deploy N --tag T2`, a second push to the live review app (services kept);
//   warm:    `pallet review deploy M --tag T3` of another pull request while N is live: a new
//            review app whose services' images are on the host (M is then destroyed, not measured);
//   destroy: `pallet review destroy N`, the last review app (the services' images go too).
// The plain deploy runs before the review apps' life in even rounds and after it in odd ones
// (bench/lib/review-cost.ts). Ratios new/plain, warm/plain, push/plain, destroy/plain per round and
// their medians over BENCH_REVIEW_ROUNDS rounds (default 3); each run's output with line times
// goes to bench/results/review.json.
// Beside other work on the lab: the proxy container is left alone; at the end the review apps are
// destroyed, `pallet remove --yes --delete-data` removes the app, and the fixture's teardown plus
// this bench's own tags leave nothing of it on the host.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../test/helpers/lab.js';
import { CLI_COMMAND } from '../test/helpers/entry.js';
import { pushToLab } from '../test/helpers/lab-registry.js';
import { DeployFixture } from '../test/e2e/deploy-fixture.js';
import { groupTimes, ratios, reviewTable, splitChunk, stepOrder, summarize, type ReviewRound, type Step, type TimedLine } from './lib/review-cost.js';

const ROUNDS = Math.min(Math.max(Number(process.env.BENCH_REVIEW_ROUNDS ?? 3), 1), 10);
const APP = 'benchreview';
const MAIN_HOST = 'main.bench-review.test';
/** Pull request numbers: N = PR0 + round, M = PR0 + 100 + round. */
const PR0 = 901;
const prs = (i: number) => ({ n: String(PR0 + i), m: String(PR0 + 100 + i) });
/** No CLI run may take longer (then it is killed and the bench fails). */
const CLI_TIMEOUT_MS = 300_000;

interface Run { args: string[]; code: number | null; ms: number; lines: TimedLine[]; groups: { name: string; ms: number }[] }

const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

async function main(): Promise<void> {
  const fx = new DeployFixture(APP, { envFile: '/etc/pallet/bench-review.env', repository: 'pallet-bench/review' });
  // Short: the CLI puts ssh control sockets under RUNNER_TEMP (a Unix socket path is at most 108 bytes).
  const dir = mkdtempSync('/tmp/pbr-');
  const host = () => fx.addresses[0];
  const reg = `${fx.lab.registry.address}/pallet-bench`;
  const serviceImages = [`${reg}/review-pg:15`, `${reg}/review-redis:7`];
  /** Every tag this bench pushed (fresh ones per deploy), removed from the host at the end. */
  const extraTags: string[] = [];
  const runs: Run[] = [];

  /** The CLI as a process, its output lines stamped with their arrival time. */
  const cli = (args: string[]): Promise<Run> => new Promise((resolve, reject) => {
    const full = [...args, '--ssh-private-key-file', fx.lab.ssh.privateKeyPath, '--ssh-known-hosts-file', fx.lab.ssh.knownHostsPath, '--registry-username', fx.lab.registry.username];
    const t0 = Date.now();
    const child = spawn(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...full], {
      cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, USER: 'bench-review', RUNNER_TEMP: dir, PALLET_REGISTRY_PASSWORD: fx.lab.registry.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: TimedLine[] = [];
    const rest = { out: '', err: '' };
    const take = (k: 'out' | 'err') => (d: Buffer) => { const s = splitChunk(rest[k], d.toString(), Date.now() - t0); rest[k] = s.rest; lines.push(...s.lines); };
    child.stdout.on('data', take('out'));
    child.stderr.on('data', take('err'));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      for (const k of ['out', 'err'] as const) if (rest[k]) lines.push({ t: ms, line: rest[k] });
      const run = { args, code, ms, lines, groups: groupTimes(lines, ms) };
      runs.push(run);
      resolve(run);
    });
  });
  const ok = async (args: string[]): Promise<Run> => {
    const r = await cli(args);
    if (r.code !== 0) throw new Error(`pallet ${args.join(' ')}: exit ${r.code}\n${r.lines.slice(-20).map((l) => l.line).join('\n')}`);
    return r;
  };
  /** A fresh tag of variant v's image in the app's repository. */
  const freshTag = async (name: string, v: 'v1' | 'v2'): Promise<string> => {
    const tag = `${fx.run}-${name}`;
    await pushToLab(fx.docker, fx.lab, `${fx.repo}:${fx.tags[v]}`, fx.repo, tag);
    extraTags.push(tag);
    return tag;
  };

  try {
    if (!fx.lab.images.proxy) throw new Error('the lab has no proxy image: run `npm run lab:up` again');
    await fx.setup(['v1', 'v2']);
    await pushToLab(fx.docker, fx.lab, fx.lab.images.postgres, `${reg}/review-pg`, '15');
    await pushToLab(fx.docker, fx.lab, fx.lab.images.redis, `${reg}/review-redis`, '7');
    writeFileSync(path.join(dir, 'pallet.yml'), YAML.stringify(fx.reviewConfigFile(host(), {
      mainHost: MAIN_HOST, reviewPattern: 'pr-{number}.bench-review.test', services: [serviceImages[0], serviceImages[1]], secretKey: 'bench-review-not-secret',
    })));
    // The main app at v1 (not measured); the first deploy makes its state and route.
    await ok(['deploy', '--tag', fx.tags.v1]);
    let mainAt: 'v1' | 'v2' = 'v1';

    const rounds: ReviewRound[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const order = stepOrder(i);
      const { n, m } = prs(i);
      // Tags pushed before the round, so that no push is timed.
      mainAt = mainAt === 'v1' ? 'v2' : 'v1';
      const tags: Record<'plain' | 'new' | 'push' | 'warm', string> = {
        plain: await freshTag(`r${i + 1}-plain`, mainAt), new: await freshTag(`r${i + 1}-new`, 'v1'),
        push: await freshTag(`r${i + 1}-push`, 'v2'), warm: await freshTag(`r${i + 1}-warm`, 'v1'),
      };
      const args: Record<Step, string[]> = {
        plain: ['deploy', '--tag', tags.plain],
        new: ['review', 'deploy', n, '--tag', tags.new],
        push: ['review', 'deploy', n, '--tag', tags.push],
        warm: ['review', 'deploy', m, '--tag', tags.warm],
        destroy: ['review', 'destroy', n],
      };
      const load = load1();
      const ms = {} as Record<Step, number>;
      for (const step of order) {
        const r = await ok(args[step]);
        ms[step] = r.ms;
        console.log(`round ${i + 1} ${step.padEnd(7)} ${(r.ms / 1000).toFixed(1)} s  ${r.groups.map((g) => `${g.name} ${(g.ms / 1000).toFixed(1)}`).join(' | ')}`);
        // M goes before N, so that N is the last review app when destroy is measured.
        if (step === 'warm') await ok(['review', 'destroy', m]);
      }
      const round: ReviewRound = { round: i, order, load, ms };
      rounds.push(round);
      const q = ratios(round);
      console.log(`round ${i + 1}: new/plain ${q.new.toFixed(2)}, warm/plain ${q.warm.toFixed(2)}, push/plain ${q.push.toFixed(2)}, destroy/plain ${q.destroy.toFixed(2)} (load ${load.toFixed(2)})`);
    }

    const table = reviewTable(rounds);
    console.log(`\n${table.join('\n')}`);
    console.log(`\nload average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    mkdirSync(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(REPO_ROOT, 'bench/results/review.json'), JSON.stringify({
      rounds, summary: summarize(rounds), table, loadEnd: readFileSync('/proc/loadavg', 'utf8').trim(),
      runs: runs.map((r) => ({ args: r.args, code: r.code, ms: r.ms, groups: r.groups, lines: r.lines.map((l) => `${(l.t / 1000).toFixed(2)} ${l.line}`) })),
    }, null, 2));
  } finally {
    // Review apps first (their services, network, route, images), then the app itself.
    for (let i = 0; i < ROUNDS; i++) for (const pr of Object.values(prs(i))) await cli(['review', 'destroy', pr]).catch(() => undefined);
    await cli(['remove', '--yes', '--delete-data']).catch(() => undefined);
    const refs = [...extraTags.map((t) => `${fx.repo}:${t}`), ...serviceImages].join(' ');
    await fx.ssh(host(), `for r in ${refs}; do docker image rm "$r" >/dev/null 2>&1; done; rm -f /var/lib/pallet/.review-${APP}-images; true`).catch(() => undefined);
    for (const t of extraTags) await fx.docker.getImage(`${fx.repo}:${t}`).remove().catch(() => undefined);
    for (const r of serviceImages) await fx.docker.getImage(r).remove().catch(() => undefined);
    await fx.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
