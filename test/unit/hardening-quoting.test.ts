// Every user-controlled value that can reach a remote shell is either refused by validation
// (tags, hosts, app names) or travels as one whole argument (lock owner, audit text, env file
// path, task commands). The same 1000 hostile strings as the e2e injection test, locally.
import { execFileSync } from 'node:child_process';
import { hostileStrings } from '../hardening/strings.js';
import { parseInputs } from '../../src/inputs.js';
import { parseHost } from '../../src/ssh/host.js';
import { shellQuote } from '../../src/ssh/quote.js';
import { UserError } from '../../src/errors.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';
import { acquireLockArgv, finishArgv, pullArgv, runContainerArgv, taskArgv, imageRef } from '../../src/deploy/commands.js';

const STRINGS = hostileStrings(1000);
const SHELL_META = /[\s'"`$;|&<>*?[\]~!#\\(){}]/;
beforeAll(() => setReporter(new CliReporter(() => undefined, () => undefined)));

test('all 1000 strings survive shellQuote through the local /bin/sh byte for byte', () => {
  const line = shellQuote(['printf', '%s\\0', ...STRINGS]);
  const out = execFileSync('sh', ['-c', line], { maxBuffer: 16 << 20 }).toString('utf8');
  expect(out.split('\0').slice(0, -1)).toEqual(STRINGS);
});

test('a naive quoter fails the same check (the check can fail)', () => {
  const naive = ['printf', '%s\\0', ...STRINGS.slice(0, 50)].map((a) => `"${a}"`).join(' ');
  let out = '';
  try { out = execFileSync('sh', ['-c', naive], { stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8'); } catch { out = '<failed>'; }
  expect(out.split('\0').slice(0, -1)).not.toEqual(STRINGS.slice(0, 50));
});

test('tags: every hostile string with a shell metacharacter or leading - is refused, naming the input', () => {
  let refused = 0;
  for (const s of STRINGS.filter((x) => x.trim() && (SHELL_META.test(x.trim()) || x.trim().startsWith('-')))) {
    expect(() => parseInputs((n) => (n === 'command' ? 'deploy' : n === 'tag' ? s : ''))).toThrow(/input 'tag'|extra-tags/);
    refused++;
  }
  expect(refused).toBeGreaterThan(800);
});

test('hosts: every hostile string with a shell metacharacter is refused as a host', () => {
  let refused = 0;
  for (const s of STRINGS.filter((x) => x.trim() && SHELL_META.test(x.trim()))) {
    expect(() => parseHost(s, { user: 'root', port: 22 })).toThrow(UserError);
    refused++;
  }
  expect(refused).toBeGreaterThan(800);
});

test.each([
  ['lock owner', (s: string) => acquireLockArgv('app', 'tok', s, false), 6],
  ['audit line', (s: string) => finishArgv('app', 'v2', 'v1', s), 7],
  ['env file path', (s: string) => runContainerArgv({ app: 'app', role: 'web', tag: 'v1', image: 'r/app', command: ['serve'], envFile: s }), -1],
  ['task command word', (s: string) => taskArgv({ app: 'app', image: 'r/app', tag: 'v1', command: ['manage.py', s], name: 'app-task' }), -1],
  ['image reference', (s: string) => pullArgv(imageRef('r/app', s)), -1],
] as const)('%s: a hostile value is one whole argument, never part of a script', (_what, build, at) => {
  for (const s of STRINGS.slice(0, 200)) {
    const argv = build(s);
    const script = argv[0] === 'sh' && argv[1] === '-c' ? argv[2] : undefined;
    if (script !== undefined && s.length > 2) expect(script.includes(s)).toBe(false);
    if (at >= 0) expect(argv[at]).toBe(s);
    else expect(argv.some((a) => a === s || a.endsWith(s))).toBe(true);
  }
});
