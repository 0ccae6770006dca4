// Injection: 1000 seeded hostile strings go through the product's own remote-command path
// (SshConnection.run -> commandArgs -> shellQuote) to the login shell of a real lab host, which
// hands them to `sh -c 'printf "%s\0" "$@" | base64'`. The bytes that come back must be exactly
// the strings sent. Batched: 100 strings per ssh call over one ControlMaster connection.
import { readFileSync } from 'node:fs';
import { describeLab, readLab } from '../helpers/lab.js';
import { hostileStrings } from '../hardening/strings.js';
import { runSsh, SshConnection } from '../../src/ssh/connection.js';
import { commandArgs, type SshSettings } from '../../src/ssh/options.js';
import { prepareSshSettings } from '../../src/ssh/credentials.js';
import { parseHost } from '../../src/ssh/host.js';
import { CleanupLedger } from '../../src/util/cleanup.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { acquireLockArgv, auditLine, finishArgv, releaseLockArgv } from '../../src/deploy/commands.js';
import '../../src/cleanup-handlers.js';

const STRINGS = hostileStrings(1000);
const ECHO = 'printf "%s\\0" "$@" | base64 -w0';

describeLab('injection strings round-tripped', () => {
  const lab = readLab();
  const ledger = new CleanupLedger();
  let conn: SshConnection;
  let settings: SshSettings;

  beforeAll(async () => {
    setReporter(new CliReporter(() => undefined, () => undefined));
    settings = await prepareSshSettings({
      knownHosts: readFileSync(lab.ssh.knownHostsPath, 'utf8'), privateKey: readFileSync(lab.ssh.privateKeyPath, 'utf8'), insecure: false,
    }, ledger);
    conn = new SshConnection(parseHost(lab.hosts[0].address, { user: lab.ssh.user, port: 22 }), settings, ledger);
    await conn.open();
  });

  afterAll(async () => {
    await conn?.close();
    await ledger.runAll();
  });

  test('1000 seeded strings (quotes, $(), backticks, newlines, globs, unicode, leading -) arrive byte for byte', async () => {
    expect(STRINGS.length).toBe(1000);
    expect(new Set(STRINGS).size).toBe(1000);
    expect(STRINGS.filter((s) => s.startsWith('-')).length).toBeGreaterThan(100);
    for (const needle of ["'", '$(', '`', '\n', '\\', ';', '|', '&', '*', '~', '!', '\u202e', '😀']) expect(STRINGS.some((s) => s.includes(needle))).toBe(true);
    const mismatches: { sent: string; got: string }[] = [];
    for (let i = 0; i < STRINGS.length; i += 100) {
      const batch = STRINGS.slice(i, i + 100);
      const r = await conn.run(['sh', '-c', ECHO, 'sh', ...batch]);
      expect(r.exitCode).toBe(0);
      const got = Buffer.from(r.stdout.trim(), 'base64');
      const want = Buffer.from(batch.map((s) => s + '\0').join(''), 'utf8');
      if (!got.equals(want)) {
        const parts = got.toString('utf8').split('\0');
        batch.forEach((s, k) => { if (parts[k] !== s) mismatches.push({ sent: s, got: parts[k] }); });
        if (mismatches.length === 0) mismatches.push({ sent: '(batch)', got: got.toString('utf8') });
      }
    }
    expect(mismatches).toEqual([]);
  });

  test('control: the same batch with naive double-quoting does NOT round-trip (the comparison can fail)', async () => {
    const batch = STRINGS.slice(0, 100);
    const args = commandArgs(settings, conn.target, ['true']).slice(0, -1);
    const naive = ['sh', '-c', ECHO, 'sh', ...batch].map((a) => `"${a}"`).join(' ');
    const r = await runSsh([...args, naive]);
    const got = Buffer.from(r.stdout.trim(), 'base64');
    expect(got.equals(Buffer.from(batch.map((s) => s + '\0').join(''), 'utf8'))).toBe(false);
  });

  test('the deploy lock and audit scripts keep hostile owner text as data on a real host', async () => {
    // The lock owner and audit line carry user-controlled text (GITHUB_ACTOR, run ids); the scripts
    // must store them verbatim and never run them. App 'hardening-inj' is this test's own state dir.
    const app = 'hardening-inj';
    const owner = "x'; touch /tmp/pwned-lock; echo '$(touch /tmp/pwned-lock2)`touch /tmp/pwned-lock3`";
    await conn.run(['rm', '-rf', `/var/lib/pallet/${app}`, '/tmp/pwned-lock', '/tmp/pwned-lock2', '/tmp/pwned-lock3']);
    const token = 'tok-1';
    const acquired = await conn.run(acquireLockArgv(app, token, owner, false));
    expect(acquired.stdout).toContain('ACQUIRED');
    const stored = await conn.run(['cat', `/var/lib/pallet/${app}/lock/owner`]);
    expect(stored.stdout).toBe(owner + '\n');
    const line = auditLine({ time: new Date(0), actor: '$(touch /tmp/pwned-lock)', app, command: 'deploy', from: 'a', to: 'b', result: 'ok', runId: '`id`\n; touch /tmp/pwned-lock2' });
    await conn.run(finishArgv(app, 'b', 'a', line));
    const audit = await conn.run(['cat', `/var/lib/pallet/${app}/audit.log`]);
    expect(audit.stdout).toContain('$(touch /tmp/pwned-lock)');
    await conn.run(releaseLockArgv(app, token));
    const pwned = await conn.run(['sh', '-c', 'ls /tmp/pwned-lock* 2>/dev/null | wc -l']);
    expect(pwned.stdout.trim()).toBe('0');
    await conn.run(['rm', '-rf', `/var/lib/pallet/${app}`]);
  });
});
