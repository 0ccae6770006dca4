// OOM detection of the test container against a fake engine: the `oom` event may come before or
// after the exit and the `die` event, and the OOMKilled flag may or may not be set.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { runTestContainer, watchContainerEvents } from '../../src/cleanroom/test-container.js';
import { CliReporter, setReporter } from '../../src/util/reporter.js';

const ID = 'c0ffee';
const event = (action: string, id = ID) => JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id, Attributes: {} }, time: 1 }) + '\n';

function eventsEngine() {
  const stream = new PassThrough();
  const calls: unknown[] = [];
  const docker = { getEvents: async (opts: unknown) => { calls.push(opts); return stream; } } as unknown as Pick<Docker, 'getEvents'>;
  return { docker, stream, calls };
}

describe('watchContainerEvents', () => {
  test('asks the engine for the container\'s oom and die events since the given time', async () => {
    const e = eventsEngine();
    const w = await watchContainerEvents(e.docker, ID, 1700000000);
    expect(e.calls).toEqual([{ since: 1700000000, filters: { type: ['container'], container: [ID], event: ['oom', 'die'] } }]);
    w.close();
  });

  test('an oom event, split across chunks, is seen; other containers\' events and noise are not', async () => {
    const e = eventsEngine();
    const w = await watchContainerEvents(e.docker, ID, 0);
    e.stream.write(event('oom', 'other') + 'not json\n');
    const line = event('oom');
    e.stream.write(line.slice(0, 10));
    expect(await w.saw('oom', 0)).toBe(false);
    e.stream.write(line.slice(10));
    expect(await w.saw('oom', 1000)).toBe(true);
    expect(await w.saw('die', 0)).toBe(false);
    w.close();
  });

  test('an oom event arriving after the die event is waited for', async () => {
    const e = eventsEngine();
    const w = await watchContainerEvents(e.docker, ID, 0);
    e.stream.write(event('die'));
    expect(await w.saw('die', 1000)).toBe(true);
    setTimeout(() => e.stream.write(event('oom')), 50);
    expect(await w.saw('oom', 5000)).toBe(true);
    w.close();
  });

  test('the wait is bounded, and ends early when the stream ends', async () => {
    const e = eventsEngine();
    const w = await watchContainerEvents(e.docker, ID, 0);
    expect(await w.saw('oom', 50)).toBe(false);
    const t0 = Date.now();
    setTimeout(() => e.stream.end(), 20);
    expect(await w.saw('oom', 10_000)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('an engine that refuses the stream leaves nothing seen, without an error', async () => {
    const docker = { getEvents: async () => { throw new Error('(HTTP code 403) forbidden'); } } as unknown as Pick<Docker, 'getEvents'>;
    const w = await watchContainerEvents(docker, ID, 0);
    expect(await w.saw('die', 10_000)).toBe(false);
    w.close();
  });

  test('close ends the stream', async () => {
    const e = eventsEngine();
    const w = await watchContainerEvents(e.docker, ID, 0);
    w.close();
    expect(e.stream.destroyed).toBe(true);
  });
});

/** A fake engine running one test container that exits with `exitCode`; `afterExit` plays the events. */
function engine(o: { exitCode: number; oomFlag: boolean; afterExit: (events: PassThrough) => void; refuseEvents?: boolean; oomFlagFromInspect?: number }) {
  let exitedInspects = 0;
  const events = new PassThrough();
  const output = new PassThrough();
  const state = { running: false };
  const container = {
    id: ID,
    inspect: async () => (state.running
      ? { Created: '2024-05-01T12:00:00.123456789Z' }
      : { Created: '2024-05-01T12:00:00.123456789Z', State: { ExitCode: o.exitCode, OOMKilled: o.oomFlag || (o.oomFlagFromInspect !== undefined && ++exitedInspects >= o.oomFlagFromInspect) } }),
    attach: async () => output,
    start: async () => { state.running = true; },
    wait: async () => {
      output.end('allocating\n');
      state.running = false;
      o.afterExit(events);
      return { StatusCode: o.exitCode };
    },
    stop: async () => undefined,
  };
  let since: unknown;
  const docker = {
    createContainer: async () => container,
    getEvents: async (opts: { since: number }) => {
      if (o.refuseEvents) throw new Error('(HTTP code 403) forbidden');
      since = opts.since;
      return events;
    },
    modem: { demuxStream: (s: PassThrough, out: NodeJS.WritableStream) => s.pipe(out) },
  } as unknown as Docker;
  return { docker, events, since: () => since };
}

describe('runTestContainer', () => {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    setReporter(new CliReporter((l) => lines.push(l), (l) => lines.push(l)));
  });
  const run = (docker: Docker) => runTestContainer(docker, { image: 'app', name: 't', cmd: ['test'], env: {}, labels: {}, network: 'n', timeoutS: 60 }, new AbortController().signal);

  test('an oom event the engine sends only after the exit and die still makes it an OOM kill', async () => {
    const e = engine({ exitCode: 137, oomFlag: false, afterExit: (ev) => {
      ev.write(event('die'));
      setTimeout(() => ev.write(event('oom')), 200);
    } });
    const outcome = await run(e.docker);
    expect(outcome).toMatchObject({ exitCode: 137, oomKilled: true, timedOut: false, problem: 'test container was killed: out of memory (exit 137)' });
    expect(e.since()).toBe(1714564800); // the container's creation, in whole seconds
    expect(lines).toContain('allocating');
    expect(e.events.destroyed).toBe(true);
  });

  test('the flag alone is enough when the engine refuses the event stream', async () => {
    const e = engine({ exitCode: 137, oomFlag: true, refuseEvents: true, afterExit: () => undefined });
    expect(await run(e.docker)).toMatchObject({ oomKilled: true, problem: 'test container was killed: out of memory (exit 137)' });
  });

  test('a kill with no OOM signal at all is reported as a plain SIGKILL', async () => {
    const e = engine({ exitCode: 137, oomFlag: false, afterExit: (ev) => ev.write(event('die')) });
    expect(await run(e.docker)).toMatchObject({ oomKilled: false, problem: 'test container was killed (exit 137: SIGKILL)' });
  }, 15_000);

  test('an OOM flag the engine sets only after the exit (no oom event) is read again and reported', async () => {
    // The state read right after the exit says no OOM; the next one does (a loaded engine).
    const e = engine({ exitCode: 137, oomFlag: false, oomFlagFromInspect: 3, afterExit: (ev) => ev.write(event('die')) });
    expect(await run(e.docker)).toMatchObject({ oomKilled: true, problem: 'test container was killed: out of memory (exit 137)' });
  }, 15_000);

  test('a clean exit does not wait for an oom event', async () => {
    const e = engine({ exitCode: 0, oomFlag: false, afterExit: (ev) => ev.write(event('die')) });
    const t0 = Date.now();
    expect(await run(e.docker)).toMatchObject({ exitCode: 0, oomKilled: false, problem: undefined });
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
