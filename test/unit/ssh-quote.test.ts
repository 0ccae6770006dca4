import { execFileSync } from 'node:child_process';
import { quoteArg, shellQuote } from '../../src/ssh/quote.js';

// Each case is checked against a real POSIX shell: what sh parses back must be the argv we built.
const nasty = [
  'plain', '', ' ', 'two words', "it's", "''", '"double"', '$HOME', '${PATH}', '`id`', '$(id)', 'a;rm -rf /',
  'a && b', 'a|b', 'x\ny', 'tab\there', '\\backslash\\', '*', '?', '[a]', '~', '#comment', '!bang', '-n', '--', 'é ünï', "'; echo pwned; '",
];

describe('shellQuote', () => {
  test.each([
    [['docker', 'pull', 'reg:5000/app:build-1'], 'docker pull reg:5000/app:build-1'],
    [['echo', ''], "echo ''"],
    [['echo', "it's"], "echo 'it'\\''s'"],
    [['echo', 'a b'], "echo 'a b'"],
    [['echo', '$HOME'], "echo '$HOME'"],
  ])('%j -> %s', (argv, expected) => {
    expect(shellQuote(argv)).toBe(expected);
  });

  test.each(nasty.map((s) => [s]))('round-trips %j through sh', (s) => {
    const line = shellQuote(['printf', '%s\\0', s, 'after']);
    const out = execFileSync('sh', ['-c', line]).toString();
    expect(out.split('\0').slice(0, 2)).toEqual([s, 'after']);
  });

  test('rejects empty argv and NUL bytes', () => {
    expect(() => shellQuote([])).toThrow(/empty/);
    expect(() => shellQuote(['a\0b'])).toThrow(/NUL/);
  });

  test('safe words stay unquoted', () => {
    expect(quoteArg('--password-stdin')).toBe('--password-stdin');
    expect(quoteArg('127.0.0.1:5000/x_y@sha256:ab')).toBe('127.0.0.1:5000/x_y@sha256:ab');
  });
});
