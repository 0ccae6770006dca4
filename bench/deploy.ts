// Deploy benchmark, in three parts (all by default, or name them: `npx tsx bench/deploy.ts modes limited`):
//   fleet:   pallet vs the seed's sequential one-ssh-per-command script (bench/baseline-deploy.sh)
//            on 1, 2, 4, 8 lab hosts (as many as the lab has; 8 needs `npm run lab:up -- --hosts 8`),
//            a code-only release and fresh hosts. Measures wall time, ssh handshakes per host (new
//            TCP connections to sshd, counted by an iptables rule on each host) and pull times.
//            -> bench/results/deploy.json
//   modes:   the per-host proxy mode beside the published-port mode, code-only release of an app
//            booting in 6 s, 1 and 3 hosts, under load: wall time, failed requests, and the proxy
//            mode's ratio to the lower bound (bench/lib/deploy-modes.ts). -> bench/results/deploy-modes.json
//   limited: fresh hosts pulling through a rate-limited registry (bench/lib/limited-registry.ts:
//            each pull connection held to BENCH_REGISTRY_RATE, default 8m bytes/s), pallet (proxy
//            mode) vs the baseline script on all lab hosts. -> bench/results/deploy-limited.json
//   static:  what deploy.proxy.static costs: a code-only release on 3 hosts behind the proxy, one
//            app with static files and one without, the order alternating over BENCH_STATIC_ROUNDS
//            rounds (default 4): wall time, pull phase, the placement step, ratio with/without
//            (bench/lib/deploy-static.ts). Runs beside other work on the lab: its own apps, env
//            file and image repository, the proxy left alone. -> bench/results/deploy-static.json
// fleet, modes and limited share one fixture (app benchdeploy) and assume the lab to themselves:
// they write and delete /etc/pallet/example.env and remove the hosts' proxy before and after.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../test/helpers/lab.js';
import { DeployFixture } from '../test/e2e/deploy-fixture.js';
import { BOOT_DELAY_S, MODES_HOST, measureModes, modesTable, type ModeRow } from './lib/deploy-modes.js';
import { startLimitedRegistry } from './lib/limited-registry.js';
import { STATIC_APPS, STATIC_ENV_FILE, STATIC_REPOSITORY, measureStatic } from './lib/deploy-static.js';
import { staticTable, summarize } from './lib/static-cost.js';

const execFileP = promisify(execFile);
const RULE = '-p tcp --dport 22 --syn -m comment --comment pallet-bench-deploy -j ACCEPT';

async function handshakeCounter(fx: DeployFixture, addr: string): Promise<number> {
  const out = await fx.ssh(addr, `iptables -L INPUT -v -n -x | awk '/pallet-bench-deploy/ {print $1; exit}'`);
  return Number(out.trim() || 'NaN');
}

/** New connections to sshd on each host while fn runs (the counter reads themselves subtracted). */
async function countHandshakes(fx: DeployFixture, hosts: string[], fn: () => Promise<void>): Promise<number[]> {
  const before = await Promise.all(hosts.map((h) => handshakeCounter(fx, h)));
  await fn();
  const after = await Promise.all(hosts.map((h) => handshakeCounter(fx, h)));
  return after.map((a, i) => a - before[i] - 1);
}

interface Row {
  scenario: Scenario;
  hosts: number;
  palletMs: number;
  baselineMs: number;
  ratio: number;
  palletHandshakesPerHost: number[];
  baselineHandshakesPerHost: number[];
  palletPullMs: { max: number; avg: number };
}

/**
 * release: a code-only release on a fleet already running v1 (pulls move a few small layers).
 * fresh: hosts without the app's image (new hosts, or a release that changed the dependency
 * layers): every host pulls the whole image; here parallel pulls matter.
 */
type Scenario = 'release' | 'fresh';
const SCENARIOS: Scenario[] = ['release', 'fresh'];

/** Removes the app's containers, state and images (under every repository name) from a host, so the next deploy pulls everything. */
async function wipeHost(fx: DeployFixture, host: string, repos: string[]): Promise<void> {
  await fx.resetHost(host);
  await fx.ssh(host, `ids=$(for r in ${repos.join(' ')}; do docker image ls -q $r; done | sort -u); [ -z "$ids" ] || docker image rm -f $ids >/dev/null 2>&1; docker image prune -f >/dev/null; true`);
}

/** Where the hosts pull from: the lab registry, or the same storage behind a rate limit. */
interface Source { repo: string; registry: string }

async function measure(fx: DeployFixture, all: string[], hosts: string[], cfg: ReturnType<DeployFixture['config']>, scenario: Scenario, src: Source = { repo: fx.repo, registry: fx.lab.registry.address }): Promise<Row> {
  const n = hosts.length;
  const prepare = async () => {
    for (const h of all) {
      if (scenario === 'fresh') await wipeHost(fx, h, [...new Set([fx.repo, src.repo])]);
      else {
        await fx.resetHost(h);
        await fx.ssh(h, `for t in ${fx.tags.v2} ${fx.tags.v3}; do docker image rm ${fx.repo}:$t >/dev/null 2>&1; done; true`);
      }
    }
    if (scenario === 'release') {
      // v1 running everywhere, as in a real fleet; not measured.
      const warm = await fx.deploy('deploy', { tag: fx.tags.v1, config: cfg });
      if (warm.result?.exitCode !== 0) throw new Error(`warm-up deploy failed: ${warm.lines.slice(-10).join('\n')}`);
    }
  };

  await prepare();
  let palletMs = 0;
  let pulls: number[] = [];
  const palletHs = await countHandshakes(fx, hosts, async () => {
    const r = await fx.deploy('deploy', { tag: fx.tags.v2, config: cfg });
    if (r.result?.exitCode !== 0) throw new Error(`pallet deploy failed: ${r.lines.slice(-10).join('\n')}`);
    palletMs = r.ms;
    pulls = r.report!.hosts.map((h) => h.pullMs ?? 0);
  });

  await prepare();
  let baselineMs = 0;
  const baselineHs = await countHandshakes(fx, hosts, async () => {
    const t0 = Date.now();
    await execFileP('bash', [path.join(REPO_ROOT, 'bench/baseline-deploy.sh')], {
      timeout: 30 * 60_000,
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME,
        WEB_HOSTS: hosts.join(' '), WORKER_HOSTS: hosts[n - 1], BEAT_HOSTS: hosts[n - 1],
        IMAGE: src.repo, TAG: fx.tags.v3, APP: fx.app, ENV_FILE: '/etc/pallet/example.env',
        SSH_KEY: fx.lab.ssh.privateKeyPath, KNOWN_HOSTS: fx.lab.ssh.knownHostsPath, SSH_USER: fx.lab.ssh.user,
        REGISTRY: src.registry, REGISTRY_USER: fx.lab.registry.username, REGISTRY_PASSWORD: fx.lab.registry.password,
      },
    });
    baselineMs = Date.now() - t0;
  });
  const tags = await Promise.all(hosts.map(async (h) => (await fx.view(h)).tag));
  if (tags.some((t) => t !== fx.tags.v3)) throw new Error(`baseline did not deploy everywhere: ${tags.join(', ')}`);
  return {
    scenario, hosts: n, palletMs, baselineMs, ratio: palletMs / baselineMs,
    palletHandshakesPerHost: palletHs, baselineHandshakesPerHost: baselineHs,
    palletPullMs: { max: Math.max(...pulls), avg: pulls.reduce((a, b) => a + b, 0) / pulls.length },
  };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const avg = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);

function printRows(rows: Row[]): void {
  console.log('\nscenario  hosts  pallet   baseline  pallet/baseline  speed-up  ssh handshakes/host (pallet | baseline)  pull max/avg (pallet)');
  for (const r of rows) {
    console.log(`${r.scenario.padEnd(8)}  ${String(r.hosts).padEnd(5)}  ${s(r.palletMs).padEnd(7)}  ${s(r.baselineMs).padEnd(8)}  ${r.ratio.toFixed(2).padEnd(15)}  ${(1 / r.ratio).toFixed(1).padStart(5)}x    ${`${avg(r.palletHandshakesPerHost)} | ${avg(r.baselineHandshakesPerHost)}`.padEnd(39)}  ${s(r.palletPullMs.max)}/${s(r.palletPullMs.avg)}`);
  }
}

function writeResult(file: string, data: object): void {
  const out = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, file), JSON.stringify({ when: new Date().toISOString(), ...data }, null, 2) + '\n');
  console.log(`written: bench/results/${file}`);
}

/** Adds or removes BOOT_DELAY in the hosts' env file (the modes part boots slowly, the others do not). */
async function setBootDelay(fx: DeployFixture, seconds: number | undefined): Promise<void> {
  const add = seconds === undefined ? '' : ` && echo BOOT_DELAY=${seconds} >> /etc/pallet/example.env`;
  await Promise.all(fx.addresses.map((h) => fx.ssh(h, `sed -i '/^BOOT_DELAY=/d' /etc/pallet/example.env${add}`)));
}

async function fleetPart(fx: DeployFixture): Promise<void> {
  const available = fx.lab.hosts.length;
  const counts = [1, 2, 4, 8].filter((n) => n <= available);
  // A lab between sizes (e.g. 3 hosts) also measures its full size.
  if (available < 8 && !counts.includes(available)) counts.push(available);
  const skipped = [1, 2, 4, 8].filter((n) => n > available);
  if (skipped.length) console.log(`note: the lab has ${available} hosts; skipping ${skipped.join(', ')} (npm run lab:up -- --hosts 8)`);
  const rows: Row[] = [];
  const all = fx.addresses;
  for (const n of counts) {
    const hosts = all.slice(0, n);
    const cfg = fx.config({ web: hosts, workers: [hosts[n - 1]] });
    for (const scenario of SCENARIOS) {
      const row = await measure(fx, all, hosts, cfg, scenario);
      rows.push(row);
      console.log(`${scenario} ${n} host(s): pallet ${(row.palletMs / 1000).toFixed(1)}s, baseline ${(row.baselineMs / 1000).toFixed(1)}s`);
    }
  }
  printRows(rows);
  for (const sc of SCENARIOS) {
    const rs = rows.filter((r) => r.scenario === sc);
    const first = rs[0];
    const last = rs.at(-1)!;
    if (rs.length > 1) console.log(`${sc}: pull time ${first.hosts} vs ${last.hosts} hosts (slowest host): ${s(first.palletPullMs.max)} vs ${s(last.palletPullMs.max)}; speed-up at ${last.hosts} hosts: ${(1 / last.ratio).toFixed(1)}x`);
  }
  writeResult('deploy.json', { labHosts: available, skippedHostCounts: skipped, rows });
}

async function modesPart(fx: DeployFixture): Promise<void> {
  await setBootDelay(fx, BOOT_DELAY_S);
  let rows: ModeRow[];
  try {
    rows = await measureModes(fx, process.env.BENCH_MODE_HOSTS ? process.env.BENCH_MODE_HOSTS.split(',').map(Number) : undefined);
  } finally {
    await setBootDelay(fx, undefined);
  }
  console.log('');
  for (const l of modesTable(rows)) console.log(l);
  writeResult('deploy-modes.json', { bootDelayS: BOOT_DELAY_S, rows });
}

/**
 * Fresh hosts on every lab host (8 with `--hosts 8`), pulling through the rate-limited registry:
 * pallet in the proxy mode (the default for web roles) vs the baseline script.
 */
async function limitedPart(fx: DeployFixture): Promise<void> {
  // 8 MB/s per connection, like a host on a ~100 Mbit/s link: one host alone pulls the example
  // image in ~25 s here. A lower rate makes pulls more link-bound but the baseline's 8 sequential
  // pulls take many minutes.
  const rate = process.env.BENCH_REGISTRY_RATE || '8m';
  const all = fx.addresses;
  // The proxy image is on every host beforehand (the fleet's one-time setup, which the baseline
  // has no counterpart of); only the app's image is fresh.
  await Promise.all(all.map((h) => fx.ssh(h, `docker login -u ${fx.lab.registry.username} --password-stdin ${fx.lab.registry.address} >/dev/null && docker pull -q ${fx.lab.images.proxy} >/dev/null`, fx.lab.registry.password + '\n')));
  const reg = await startLimitedRegistry(fx.lab, (a, c) => fx.ssh(a, c), rate);
  const rows: Row[] = [];
  try {
    const src = { repo: `${reg.address}/pallet-e2e/deploy`, registry: reg.address };
    for (const n of [1, all.length]) {
      const hosts = all.slice(0, n);
      const cfg = { ...fx.config({ web: hosts, workers: [hosts[n - 1]], proxy: { hosts: [MODES_HOST], tls: 'off', image: fx.lab.images.proxy!, drain_timeout: 2, trusted_proxies: ['private_ranges'] } }), image: src.repo };
      const row = await measure(fx, all, hosts, cfg, 'fresh', src);
      rows.push(row);
      console.log(`fresh, registry limited to ${rate}/connection, ${n} host(s): pallet ${s(row.palletMs)}, baseline ${s(row.baselineMs)}`);
    }
  } finally {
    await reg.stop();
  }
  printRows(rows);
  const last = rows.at(-1)!;
  console.log(`limited registry (${rate}/connection): speed-up over the baseline at ${last.hosts} hosts: ${(1 / last.ratio).toFixed(1)}x`);
  writeResult('deploy-limited.json', { rate, rows });
}

/** deploy.proxy.static's cost, with its own fixtures (it does not use the shared one). */
async function staticPart(): Promise<void> {
  const rounds = Number(process.env.BENCH_STATIC_ROUNDS || 4);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_STATIC_ROUNDS: a whole number >= 1, not ${process.env.BENCH_STATIC_ROUNDS}`);
  const t0 = Date.now();
  const r = await measureStatic(rounds, (round) => console.log(`static: round ${round.round + 1}: with/without ${round.wallRatio.toFixed(2)} (wall), ${round.pullPhaseRatio.toFixed(2)} (pull phase)`));
  console.log('');
  for (const l of staticTable(r.rounds)) console.log(l);
  const m = summarize(r.rounds);
  console.log(`static: median wall with/without ${m.wallRatio.toFixed(2)} (target <= 1.10: ${m.wallRatio <= 1.1 ? 'met' : 'not met'}); `
    + `the feature's own steps (pull phase + finish, with - without) add a median ${(m.stepsExtraMs / 1000).toFixed(2)}s, ${m.stepsRatio.toFixed(2)}x the median deploy without`);
  console.log(`static: ${r.cleanup.join('; ')}; ${((Date.now() - t0) / 1000).toFixed(0)}s in all`);
  writeResult('deploy-static.json', { apps: STATIC_APPS, envFile: STATIC_ENV_FILE, repository: STATIC_REPOSITORY, hosts: r.hosts, summary: m, rounds: r.rounds, cleanup: r.cleanup, logs: r.logs });
}

const PARTS = { modes: modesPart, fleet: fleetPart, limited: limitedPart } as const;
const ALL = [...Object.keys(PARTS), 'static'];

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
  const unknown = names.filter((n) => !ALL.includes(n));
  if (unknown.length) throw new Error(`unknown part(s) ${unknown.join(', ')}: choose from ${ALL.join(', ')}`);
  if (Object.keys(PARTS).some((n) => names.includes(n))) await sharedParts(names);
  if (names.includes('static')) await staticPart();
}

/** fleet, modes and limited, on one fixture, with a clean proxy on every host. */
async function sharedParts(names: string[]): Promise<void> {
  const fx = new DeployFixture('benchdeploy');
  if (names.includes('modes') && (!fx.lab.images.proxy || !fx.lab.lb.proxyUrl)) throw new Error('the lab has no proxy image or proxy LB port: run `npm run lab:up` again');
  console.log('building and pushing the example image variants ...');
  await fx.setup(['v1', 'v2', 'v3']);
  const all = fx.addresses;
  // A clean proxy on every host (the lab's hosts are shared with the e2e suites).
  for (const a of all) await fx.ssh(a, 'docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; true');
  try {
    for (const h of all) await fx.ssh(h, `iptables -C INPUT ${RULE} 2>/dev/null || iptables -I INPUT ${RULE}`);
    // modes first: the order of PARTS, whatever order they were named in.
    for (const [name, part] of Object.entries(PARTS)) if (names.includes(name)) await part(fx);
  } finally {
    for (const h of all) {
      await fx.ssh(h, `iptables -D INPUT ${RULE} 2>/dev/null; docker rm -f pallet-proxy >/dev/null 2>&1; rm -rf /var/lib/pallet/proxy /var/lib/pallet/proxy-data; docker network rm pallet-proxy >/dev/null 2>&1; true`).catch(() => undefined);
    }
    await fx.teardown();
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
