// Deploy benchmark: pallet vs the seed's sequential one-ssh-per-command script
// (bench/baseline-deploy.sh) on 1, 2, 4, 8 lab hosts (as many as the lab has; 8 needs
// `npm run lab:up -- --hosts 8`). Measures wall time, ssh handshakes per host (new TCP
// connections to sshd, counted by an iptables rule on each host) and pull times.
//   npx tsx bench/deploy.ts            -> table on stdout + bench/results/deploy.json
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../test/helpers/lab.js';
import { DeployFixture } from '../test/e2e/deploy-fixture.js';

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

/** Removes the app's containers, state and images from a host, so the next deploy pulls everything. */
async function wipeHost(fx: DeployFixture, host: string): Promise<void> {
  await fx.resetHost(host);
  await fx.ssh(host, `ids=$(docker image ls -q ${fx.repo} | sort -u); [ -z "$ids" ] || docker image rm -f $ids >/dev/null 2>&1; docker image prune -f >/dev/null; true`);
}

async function measure(fx: DeployFixture, all: string[], hosts: string[], cfg: ReturnType<DeployFixture['config']>, scenario: Scenario): Promise<Row> {
  const n = hosts.length;
  const prepare = async () => {
    for (const h of all) {
      if (scenario === 'fresh') await wipeHost(fx, h);
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
        IMAGE: fx.repo, TAG: fx.tags.v3, APP: fx.app, ENV_FILE: '/etc/pallet/example.env',
        SSH_KEY: fx.lab.ssh.privateKeyPath, KNOWN_HOSTS: fx.lab.ssh.knownHostsPath, SSH_USER: fx.lab.ssh.user,
        REGISTRY: fx.lab.registry.address, REGISTRY_USER: fx.lab.registry.username, REGISTRY_PASSWORD: fx.lab.registry.password,
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

async function main(): Promise<void> {
  const fx = new DeployFixture('benchdeploy');
  const available = fx.lab.hosts.length;
  const counts = [1, 2, 4, 8].filter((n) => n <= available);
  // A lab between sizes (e.g. 3 hosts) also measures its full size.
  if (available < 8 && !counts.includes(available)) counts.push(available);
  const skipped = [1, 2, 4, 8].filter((n) => n > available);
  if (skipped.length) console.log(`note: the lab has ${available} hosts; skipping ${skipped.join(', ')} (npm run lab:up -- --hosts 8)`);
  const rows: Row[] = [];
  console.log('building and pushing the example image variants ...');
  await fx.setup(['v1', 'v2', 'v3']);
  const all = fx.addresses;
  try {
    for (const h of all) await fx.ssh(h, `iptables -C INPUT ${RULE} 2>/dev/null || iptables -I INPUT ${RULE}`);
    for (const n of counts) {
      const hosts = all.slice(0, n);
      const cfg = fx.config({ web: hosts, workers: [hosts[n - 1]] });
      for (const scenario of SCENARIOS) {
        const row = await measure(fx, all, hosts, cfg, scenario);
        rows.push(row);
        console.log(`${scenario} ${n} host(s): pallet ${(row.palletMs / 1000).toFixed(1)}s, baseline ${(row.baselineMs / 1000).toFixed(1)}s`);
      }
    }
  } finally {
    for (const h of all) {
      await fx.ssh(h, `iptables -D INPUT ${RULE} 2>/dev/null; true`).catch(() => undefined);
    }
    await fx.teardown();
  }

  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const avg = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
  console.log('\nscenario  hosts  pallet   baseline  pallet/baseline  speed-up  ssh handshakes/host (pallet | baseline)  pull max/avg (pallet)');
  for (const r of rows) {
    console.log(`${r.scenario.padEnd(8)}  ${String(r.hosts).padEnd(5)}  ${s(r.palletMs).padEnd(7)}  ${s(r.baselineMs).padEnd(8)}  ${r.ratio.toFixed(2).padEnd(15)}  ${(1 / r.ratio).toFixed(1).padStart(5)}x    ${`${avg(r.palletHandshakesPerHost)} | ${avg(r.baselineHandshakesPerHost)}`.padEnd(39)}  ${s(r.palletPullMs.max)}/${s(r.palletPullMs.avg)}`);
  }
  for (const sc of SCENARIOS) {
    const rs = rows.filter((r) => r.scenario === sc);
    const first = rs[0];
    const last = rs.at(-1)!;
    if (rs.length > 1) console.log(`${sc}: pull time ${first.hosts} vs ${last.hosts} hosts (slowest host): ${s(first.palletPullMs.max)} vs ${s(last.palletPullMs.max)}; speed-up at ${last.hosts} hosts: ${(1 / last.ratio).toFixed(1)}x`);
  }
  const out = path.join(REPO_ROOT, 'bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'deploy.json'), JSON.stringify({ when: new Date().toISOString(), labHosts: available, skippedHostCounts: skipped, rows }, null, 2) + '\n');
  console.log(`\nwritten: bench/results/deploy.json`);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
