// bench/build.ts prunes exactly the BuildKit cache records its run made, children before parents
// (BuildKit keeps a record that another still refers to).
import { newRecordsChildrenFirst, type BuildCacheRecord } from '../../bench/lib/build-cache.js';

const rec = (ID: string, Parent?: string, extra: Partial<BuildCacheRecord> = {}): BuildCacheRecord => ({ ID, Parent, ...extra });

describe('newRecordsChildrenFirst', () => {
  test('keeps only records not seen before the run', () => {
    const got = newRecordsChildrenFirst(new Set(['old1', 'old2']), [rec('old1'), rec('new1', 'old1'), rec('old2', 'old1')]);
    expect(got.map((r) => r.ID)).toEqual(['new1']);
  });

  test.each([
    ['a chain listed parent first', [rec('a'), rec('b', 'a'), rec('c', 'b')], ['c', 'b', 'a']],
    ['a chain listed child first', [rec('c', 'b'), rec('b', 'a'), rec('a')], ['c', 'b', 'a']],
    ['a chain hanging off a record from before the run', [rec('b', 'old'), rec('c', 'b')], ['c', 'b']],
    ['two children of one parent (ties by ID)', [rec('p'), rec('y', 'p'), rec('x', 'p')], ['x', 'y', 'p']],
    ['Parents (Engine API 1.42+) instead of Parent', [rec('m', undefined, { Parents: ['a', 'b'] }), rec('a'), rec('b', 'a')], ['m', 'b', 'a']],
  ])('%s: every record before its parents', (_name, records, order) => {
    expect(newRecordsChildrenFirst(new Set(['old']), [rec('old'), ...records]).map((r) => r.ID)).toEqual(order);
  });

  test('a parent cycle does not loop forever', () => {
    expect(newRecordsChildrenFirst(new Set(), [rec('a', 'b'), rec('b', 'a')]).map((r) => r.ID).sort()).toEqual(['a', 'b']);
  });
});
