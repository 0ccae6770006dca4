// The deploy benchmark's "modes" part: a code-only release of an app that boots in 6 s, under a
// bounded request loop through the lab's load balancer, in the per-host proxy mode beside the
// published-port mode (deploy.proxy: false), on 1 and 3 hosts, in one run. Per run: wall time,
// failed requests, the deploy's own phase timings, and the lower bound the proxy mode is held to.
import type { PalletConfig } from '../../src/config/types.js';
import { DeployFixture, sleep } from '../../test/e2e/deploy-fixture.js';
import { fetchVersion, startLoad } from '../../test/helpers/load.js';
import { lowerBoundMs, phaseTimes, type Phases } from './deploy-bound.js';

/** The app's host name (the proxy routes by it). */
export const MODES_HOST = 'shop.test';
export const BOOT_DELAY_S = 6;

export type Mode = 'published' | 'proxy';

export interface ModeRow {
  mode: Mode;
  hosts: number;
  batches: number;
  wallMs: number;
  requests: number;
  failed: number;
  failures: string[];
  phases: Phases;
  pullMaxMs: number;
  tasksMs: number;
  /** From the deploy's return until every host had stopped the previous containers (the load ran on). */
  retireAfterMs: number;
  /** Per host, the deploy's restart time of the web role (start + health + switch, or stop + start + health). */
  restartMs: number[];
  /**
   * start + boot + first successful probe, measured on the first host right before the deploy,
   * under the same request loop (the conditions the deploy's own boots see).
   */
  referenceMs: number;
  /** The same, measured just before, with no load (how much the load slows a boot on this machine). */
  idleReferenceMs: number;
  /** The bound with referenceMs (the target's), and the ratio to it. */
  boundMs: number;
  ratio: number;
  /** The bound and ratio with idleReferenceMs (stricter: the load's cost counted as overhead). */
  idleBoundMs: number;
  idleRatio: number;
}

/** start + boot + first 200 of a fresh container of `image` on a host (ms), measured there. */
async function referenceBoot(fx: DeployFixture, address: string, image: string): Promise<number> {
  const out = await fx.ssh(address, `t0=$(date +%s%N)
id=$(docker run -d --env-file /etc/pallet/example.env ${image} serve) || exit 1
ip=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' $id); c=000; i=0
while [ $i -lt 600 ]; do i=$((i+1)); c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Host: ${MODES_HOST}' http://$ip:8000/health/); [ "$c" = 200 ] && break; sleep 0.1; done
t1=$(date +%s%N); docker rm -f $id >/dev/null; echo "$(( (t1 - t0) / 1000000 )) $c"`);
  const [ms, code] = out.trim().split(' ');
  if (code !== '200') throw new Error(`reference boot on ${address}: /health/ answered ${code}`);
  return Number(ms);
}

/** One code-only release (v1 running, v2 deployed) in `mode` on `hosts`, under load. */
export async function measureMode(fx: DeployFixture, all: string[], hosts: string[], mode: Mode): Promise<ModeRow> {
  const proxy = { hosts: [MODES_HOST], tls: 'off' as const, image: fx.lab.images.proxy!, drain_timeout: 2, trusted_proxies: ['private_ranges'] };
  const cfg: PalletConfig = fx.config({ web: hosts, workers: [], proxy: mode === 'proxy' ? proxy : undefined, healthHost: mode === 'published' ? MODES_HOST : undefined });
  for (const h of all) {
    await fx.resetHost(h);
    await fx.ssh(h, `docker image rm ${fx.repo}:${fx.tags.v2} >/dev/null 2>&1; true`);
  }
  const warm = await fx.deploy('deploy', { tag: fx.tags.v1, config: cfg });
  if (warm.result?.exitCode !== 0) throw new Error(`warm-up deploy (${mode}) failed: ${warm.lines.slice(-10).join('\n')}`);
  const idleReferenceMs = await referenceBoot(fx, hosts[0], `${fx.repo}:${fx.tags.v1}`);

  // The LB may still hold a host as failed from the run before (its fail_timeout): the loop
  // starts once the app answers through it, so what it counts belongs to this deploy.
  const lbUrl = mode === 'proxy' ? fx.lab.lb.proxyUrl! : fx.lab.lb.url;
  let seen = 0;
  for (let i = 0; i < 150 && seen !== 200; i++) {
    seen = (await fetchVersion(lbUrl, MODES_HOST).catch(() => ({ status: 0 }))).status;
    if (seen !== 200) await sleep(200);
  }
  if (seen !== 200) throw new Error(`the lab LB does not serve the app before the ${mode} deploy (last status ${seen} after 30 s)`);
  const loadStart = Date.now();
  const load = startLoad(mode === 'proxy'
    ? { url: fx.lab.lb.proxyUrl!, host: MODES_HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 }
    : { url: fx.lab.lb.url, host: MODES_HOST, concurrency: 4, pauseMs: 10, maxMs: 240_000, maxRequests: 50_000 });
  await sleep(500);
  const referenceMs = await referenceBoot(fx, hosts[0], `${fx.repo}:${fx.tags.v1}`);
  const deployAt = Date.now() - loadStart;
  const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: cfg });
  // The load goes on until the previous containers are gone (the hosts stop them after the deploy returned).
  const returned = Date.now();
  await Promise.all(hosts.map((h) => fx.view(h)));
  const retireAfterMs = Date.now() - returned;
  await sleep(500);
  const stats = await load.stop();
  if (r.result?.exitCode !== 0) throw new Error(`deploy (${mode}, ${hosts.length} hosts) failed: ${r.lines.slice(-10).join('\n')}`);
  // Failed requests beside the deploy's log, both timed from the start of the load.
  if ((stats.failed && mode === 'proxy') || process.env.BENCH_LINES === '1') console.log([`failures: ${stats.failures.join(', ')}`, ...r.lines.map((l, i) => `${((deployAt + r.at[i]) / 1000).toFixed(2)}s ${l}`)].join('\n'));
  const phases = phaseTimes(r.lines, r.at, r.ms);
  const pullMaxMs = Math.max(...r.report!.hosts.map((h) => h.pullMs ?? 0));
  const batches = hosts.length; // rolling.batch: 1
  const tasksMs = phases.tasks ?? 0;
  const boundMs = lowerBoundMs({ pullMaxMs, tasksMs, batches, referenceMs });
  const idleBoundMs = lowerBoundMs({ pullMaxMs, tasksMs, batches, referenceMs: idleReferenceMs });
  return {
    mode, hosts: hosts.length, batches, wallMs: r.ms, requests: stats.requests, failed: stats.failed, failures: stats.failures.slice(0, 5),
    phases, retireAfterMs, pullMaxMs, tasksMs, restartMs: r.report!.hosts.map((h) => h.restartMs),
    referenceMs, idleReferenceMs, boundMs, ratio: r.ms / boundMs, idleBoundMs, idleRatio: r.ms / idleBoundMs,
  };
}

/** Both modes on 1 and 3 hosts (as many as the lab has), one after the other. */
export async function measureModes(fx: DeployFixture, counts = [1, 3]): Promise<ModeRow[]> {
  const all = fx.addresses;
  const rows: ModeRow[] = [];
  for (const n of counts.filter((c) => c <= all.length)) {
    const only = process.env.BENCH_MODES?.split(',') as Mode[] | undefined; // e.g. BENCH_MODES=proxy for a quick look
    for (const mode of only ?? (['published', 'proxy'] as Mode[])) {
      const row = await measureMode(fx, all, all.slice(0, n), mode);
      rows.push(row);
      console.log(`modes: ${mode} ${n} host(s): ${(row.wallMs / 1000).toFixed(1)}s, ${row.failed}/${row.requests} failed, bound ${(row.boundMs / 1000).toFixed(1)}s (${row.ratio.toFixed(2)}x; idle bound ${(row.idleBoundMs / 1000).toFixed(1)}s, ${row.idleRatio.toFixed(2)}x); phases ${JSON.stringify(row.phases)}`);
    }
  }
  return rows;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** The modes table (plain text, one line per run). */
export function modesTable(rows: ModeRow[]): string[] {
  const out = ['mode       hosts  wall    failed/requests  slowest pull  tasks  start+boot+probe (idle)  bound   wall/bound (idle)  rolling  finish  stopped old after'];
  for (const r of rows) {
    out.push(`${r.mode.padEnd(9)}  ${String(r.hosts).padEnd(5)}  ${s(r.wallMs).padEnd(6)}  ${`${r.failed}/${r.requests}`.padEnd(15)}  ${s(r.pullMaxMs).padEnd(12)}  ${s(r.tasksMs).padEnd(5)}  ${`${s(r.referenceMs)} (${s(r.idleReferenceMs)})`.padEnd(23)}  ${s(r.boundMs).padEnd(6)}  ${`${r.ratio.toFixed(2)} (${r.idleRatio.toFixed(2)})`.padEnd(17)}  ${s(r.phases.rolling ?? 0).padEnd(7)}  ${s(r.phases.finish ?? 0).padEnd(6)}  ${r.mode === 'proxy' ? `+${s(r.retireAfterMs)}` : '-'}`);
  }
  return out;
}
