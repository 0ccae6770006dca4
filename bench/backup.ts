// What deploy.backup's step costs against a plain pg_dump of the same database on the same host.
// One lab host runs the example app (app benchbackup, its own env file and repository) against the
// lab's PostgreSQL 15, filled with BENCH_BACKUP_ROWS notes (default 200000). Each round, in
// alternating order, over one ssh connection to that host:
//   pallet: the step a deploy runs (takeBackup: the client container with the release's env files,
//           the URL turned into PG* inside it, the archive checked and renamed, keep applied, the
//           audit line), as src/backup/deploy.ts runs it;
//   plain:  `docker run --rm --entrypoint pg_dump IMAGE --format=custom URL > FILE` with the same
//           client image, the way a hand-written backup script does it (the password in argv).
// Ratio pallet/plain per round, and the median over BENCH_BACKUP_ROUNDS rounds (default 5).
// -> bench/results/backup.json
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../test/helpers/lab.js';
import { pushToLab } from '../test/helpers/lab-registry.js';
import { DeployFixture } from '../test/e2e/deploy-fixture.js';
import { planDeploy } from '../src/deploy/plan.js';
import { openSession } from '../src/ops/remote.js';
import { takeBackup } from '../src/backup/deploy.js';
import { CleanupLedger } from '../src/util/cleanup.js';
import type { PalletConfig } from '../src/config/types.js';

const ROUNDS = Number(process.env.BENCH_BACKUP_ROUNDS ?? 5);
const ROWS = Number(process.env.BENCH_BACKUP_ROWS ?? 200_000);
const KEEP = 2;

interface Round { round: number; order: string; palletMs: number; plainMs: number; ratio: number; palletBytes: number; plainBytes: number }

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main(): Promise<void> {
  const fx = new DeployFixture('benchbackup', { envFile: '/etc/pallet/bench-backup.env', repository: 'pallet-bench/backup' });
  const ledger = new CleanupLedger();
  try {
    await fx.setup(['v1']);
    const client = `${fx.lab.registry.address}/pallet-bench/pg-client:15`;
    await pushToLab(fx.docker, fx.lab, fx.lab.images.postgres, `${fx.lab.registry.address}/pallet-bench/pg-client`, '15');
    const host = fx.addresses[0];
    const base = fx.config({ web: [host], workers: [] });
    const cfg: PalletConfig = { ...base, deploy: { ...base.deploy!, backup: { keep: KEEP, image: client, url_env: ['DATABASE_URL'] } } };
    const first = await fx.deploy('deploy', { tag: fx.tags.v1, config: cfg });
    if (first.result?.exitCode !== 0) throw new Error(`the deploy failed:\n${first.lines.slice(-15).join('\n')}`);
    execFileSync('docker', ['exec', fx.pgId, 'psql', '-U', 'app', '-d', 'app', '-q', '-c',
      `INSERT INTO notes_note (text, slug, created) SELECT repeat(md5(i::text), 8), 'note-' || i, now() FROM generate_series(1, ${ROWS}) i; ANALYZE notes_note`]);
    const size = execFileSync('docker', ['exec', fx.pgId, 'psql', '-U', 'app', '-d', 'app', '-At', '-c', 'SELECT pg_size_pretty(pg_database_size(current_database()))'], { encoding: 'utf8' }).trim();
    console.log(`database: ${ROWS} notes, ${size}`);

    const plan = planDeploy(cfg);
    const session = await openSession([plan.hosts[0]], {
      config: cfg, ledger, env: process.env,
      ssh: { knownHosts: readFileSync(fx.lab.ssh.knownHostsPath, 'utf8'), privateKey: readFileSync(fx.lab.ssh.privateKeyPath, 'utf8'), insecure: false },
    });
    const conn = session.conns.get(plan.hosts[0].label)!;
    const rounds: Round[] = [];
    try {
      const pallet = async () => {
        const t0 = Date.now();
        const b = await takeBackup(conn, fx.app, cfg.deploy!.backup!, { tag: fx.tags.v1, previous: fx.tags.v1, actor: 'bench', runId: 'bench', envFiles: [fx.envFile] });
        return { ms: Date.now() - t0, bytes: b.size };
      };
      const plain = async () => {
        const t0 = Date.now();
        const r = await conn.run(['sh', '-c', 'docker run --rm --log-driver none --entrypoint pg_dump "$1" --format=custom "$2" > /tmp/bench-plain.dump && wc -c < /tmp/bench-plain.dump && rm -f /tmp/bench-plain.dump', 'bench-plain', client, fx.dbUrl]);
        if (r.exitCode !== 0) throw new Error(`plain pg_dump failed: ${r.stderr}`);
        return { ms: Date.now() - t0, bytes: Number(r.stdout.trim()) };
      };
      for (let i = 0; i < ROUNDS; i++) {
        const palletFirst = i % 2 === 0;
        const a = palletFirst ? await pallet() : await plain();
        const b = palletFirst ? await plain() : await pallet();
        const [p, q] = palletFirst ? [a, b] : [b, a];
        rounds.push({ round: i + 1, order: palletFirst ? 'pallet, plain' : 'plain, pallet', palletMs: p.ms, plainMs: q.ms, ratio: p.ms / q.ms, palletBytes: p.bytes, plainBytes: q.bytes });
        console.log(`round ${i + 1}: pallet ${p.ms} ms (${p.bytes} bytes), plain ${q.ms} ms (${q.bytes} bytes), ratio ${(p.ms / q.ms).toFixed(2)}`);
      }
    } finally {
      await session.close();
    }
    const result = {
      rows: ROWS, databaseSize: size, rounds,
      median: { palletMs: median(rounds.map((r) => r.palletMs)), plainMs: median(rounds.map((r) => r.plainMs)), ratio: median(rounds.map((r) => r.ratio)) },
      load: readFileSync('/proc/loadavg', 'utf8').trim(),
    };
    console.log(`\n| rows | database | pallet's step (median) | plain pg_dump (median) | ratio (median of rounds) | rounds |\n|---|---|---|---|---|---|\n| ${ROWS} | ${size} | ${(result.median.palletMs / 1000).toFixed(2)} s | ${(result.median.plainMs / 1000).toFixed(2)} s | **${result.median.ratio.toFixed(2)}** | ${rounds.map((r) => r.ratio.toFixed(2)).join(' ')} |`);
    mkdirSync(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
    writeFileSync(path.join(REPO_ROOT, 'bench/results/backup.json'), JSON.stringify(result, null, 2));
  } finally {
    await ledger.runAll().catch(() => undefined);
    await fx.teardown();
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
