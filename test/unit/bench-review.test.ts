// The review-app benchmark's pure parts: the order of the steps, output lines with their times,
// the groups of a run's output, the ratios and the table.
import { groupName, groupTimes, ratios, reviewTable, splitChunk, stepOrder, summarize, type ReviewRound } from '../../bench/lib/review-cost.js';

describe('step order', () => {
  test('the plain deploy goes first in even rounds and last in odd ones; the review steps keep their order', () => {
    expect(stepOrder(0)).toEqual(['plain', 'new', 'push', 'warm', 'destroy']);
    expect(stepOrder(1)).toEqual(['new', 'push', 'warm', 'destroy', 'plain']);
    expect(stepOrder(2)).toEqual(stepOrder(0));
  });
});

describe('output lines with their arrival times', () => {
  test('a line split over chunks takes the time of the chunk that ends it; CR is dropped', () => {
    const a = splitChunk('', '▸ Preflight: 1 host(s)\r\n  h1: lo', 100);
    expect(a).toEqual({ lines: [{ t: 100, line: '▸ Preflight: 1 host(s)' }], rest: '  h1: lo' });
    const b = splitChunk(a.rest, 'cked\n▸ Pulling x\n', 250);
    expect(b).toEqual({ lines: [{ t: 250, line: '  h1: locked' }, { t: 250, line: '▸ Pulling x' }], rest: '' });
  });
});

describe('groups of a run', () => {
  test('names: the title up to ":" or " on ", the pull group by its first word', () => {
    expect(groupName('▸ Services of shop-pr-1 on 127.0.0.1:2213')).toBe('Services of shop-pr-1');
    expect(groupName('▸ Pulling 127.0.0.1:5000/app:v2; the proxy on every web host')).toBe('Pulling');
    expect(groupName('▸ Preflight: 1 host(s)')).toBe('Preflight');
    expect(groupName('▸ Tasks on 127.0.0.1:2213')).toBe('Tasks');
    expect(groupName('▸ Rolling restart')).toBe('Rolling restart');
  });

  test('each group lasts until the next, the last until the process ended; "start" before the first; nested lines are not groups', () => {
    const lines = [
      { t: 400, line: '▸ Preflight: 1 host(s)' },
      { t: 700, line: '  ▸ not a group' },
      { t: 900, line: '▸ Services of a-pr-1 on h1' },
      { t: 6000, line: '▸ Tasks on h1' },
      { t: 8000, line: '▸ Finishing' },
    ];
    expect(groupTimes(lines, 8500)).toEqual([
      { name: 'start', ms: 400 }, { name: 'Preflight', ms: 500 }, { name: 'Services of a-pr-1', ms: 5100 }, { name: 'Tasks', ms: 2000 }, { name: 'Finishing', ms: 500 },
    ]);
  });

  test('a run without groups is all "start"', () => {
    expect(groupTimes([{ t: 10, line: 'no review app x' }], 900)).toEqual([{ name: 'start', ms: 900 }]);
  });
});

describe('ratios and the table', () => {
  const rounds: ReviewRound[] = [
    { round: 0, order: stepOrder(0), load: 2.5, ms: { plain: 10_000, new: 30_000, push: 11_000, warm: 15_000, destroy: 4000 } },
    { round: 1, order: stepOrder(1), load: 3.25, ms: { plain: 8000, new: 20_000, push: 8000, warm: 16_000, destroy: 4000 } },
    { round: 2, order: stepOrder(2), load: 2, ms: { plain: 12_000, new: 24_000, push: 9000, warm: 18_000, destroy: 3000 } },
  ];

  test('each review step over the same round\'s plain deploy; the summary takes the median of the rounds\' ratios', () => {
    expect(ratios(rounds[0])).toEqual({ new: 3, push: 1.1, warm: 1.5, destroy: 0.4 });
    const s = summarize(rounds);
    expect(s.ratio).toEqual({ new: 2.5, push: 1, warm: 1.5, destroy: 0.4 });
    expect(s.ms).toEqual({ plain: 10_000, new: 24_000, push: 9000, warm: 16_000, destroy: 4000 });
    expect(s.rounds).toBe(3);
  });

  test('the table: one row per ratio with its median and each round, then the rounds with order and load', () => {
    const t = reviewTable(rounds);
    expect(t[2]).toBe('| A: new review app (service images pulled) / plain | **2.50** | 3.00 2.50 2.00 | 24.0 s | 10.0 s |');
    expect(t[3]).toBe("| A': new review app, service images on the host / plain | **1.50** | 1.50 2.00 1.50 | 16.0 s | 10.0 s |");
    expect(t[4]).toBe('| B: second push / plain | **1.00** | 1.10 1.00 0.75 | 9.0 s | 10.0 s |');
    expect(t[5]).toBe('| C: review destroy (the last review app) / plain | **0.40** | 0.40 0.50 0.25 | 4.0 s | 10.0 s |');
    expect(t).toContain('| 2 | new, push, warm, destroy, plain | 3.25 | 8.0 s | 20.0 s | 8.0 s | 16.0 s | 4.0 s |');
  });
});
