// How a failure reaches a person: a lost ssh connection is an environment problem with a hint,
// not "unexpected error ... a defect in pallet" (as it was on the Swarm path).
import { jest } from '@jest/globals';
import { reportFailure } from '../../src/util/failure.js';
import { HostConnectionError } from '../../src/ssh/connection.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

function report(e: unknown): string {
  const lines: string[] = [];
  setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l)));
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try { reportFailure(e); } finally { stderr.mockRestore(); }
  return lines.join('\n');
}

test('a lost ssh connection names the host and what to check', () => {
  const text = report(new HostConnectionError('127.0.0.1:2201', 'Connection reset by peer'));
  expect(text).toContain('lost the ssh connection to 127.0.0.1:2201: Connection reset by peer');
  expect(text).toContain("hint: check that 127.0.0.1:2201 is up and reachable over ssh");
  expect(text).not.toMatch(/unexpected error|defect/);
});

test('anything else unknown is still reported as a defect', () => {
  expect(report(new Error('boom'))).toMatch(/unexpected error: boom\n.*defect in pallet/);
});
