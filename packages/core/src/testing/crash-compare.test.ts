import { describe, expect, it } from 'vitest';
import { canonical, kept, tally } from './crash-compare.js';

const r = (...ids: number[]) => ids.map((id) => ({ id, name: `n${id}` }));

describe('crash-test comparison', () => {
  it('counts nothing for the same records, and matches content whatever the key order', () => {
    expect(tally(r(1, 2, 3), [{ name: 'n1', id: 1 }, ...r(2, 3)], { ordered: true })).toEqual({ lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0, expected: 3, held: 3 });
  });

  it('counts lost, duplicated and unexpected records', () => {
    expect(tally(r(1, 2, 3, 4), [...r(1, 2, 2, 3), { id: 9 }])).toMatchObject({ lost: 1, duplicated: 1, unexpected: 1, held: 5 });
  });

  it('counts a batch written again after a resume as duplicates, in order', () => {
    // 1..4 written, crash, resume from the checkpoint after 2 writes 3..6 again behind them.
    expect(tally(r(1, 2, 3, 4, 5, 6), r(1, 2, 3, 4, 3, 4, 5, 6), { ordered: true })).toMatchObject({ lost: 0, duplicated: 2, outOfOrder: 0 });
  });

  it('counts the fewest records out of place, only when order is promised', () => {
    expect(tally(r(1, 2, 3, 4, 5), r(1, 4, 2, 3, 5), { ordered: true }).outOfOrder).toBe(1);
    expect(tally(r(1, 2, 3, 4, 5), r(5, 4, 3, 2, 1), { ordered: true }).outOfOrder).toBe(4);
    expect(tally(r(1, 2, 3), r(3, 2, 1)).outOfOrder).toBe(0);
  });

  it('compares by a key when one is named: a changed field is not a new record', () => {
    expect(tally([{ id: 1, at: 'a' }], [{ id: 1, at: 'b' }], { key: 'id' })).toMatchObject({ lost: 0, unexpected: 0 });
    expect(tally([{ id: 1, at: 'a' }], [{ id: 1, at: 'b' }])).toMatchObject({ lost: 1, unexpected: 1 });
  });

  it('writes BigInt and Date values out, so they compare', () => {
    expect(canonical({ b: 2n, a: new Date('2024-01-01T00:00:00Z') })).toBe('{"a":"2024-01-01T00:00:00.000Z","b":2n}');
  });

  it('judges by the guarantee', () => {
    const dup = tally(r(1, 2), r(1, 2, 2));
    const lost = tally(r(1, 2), r(1));
    expect([kept('exactly-once', dup), kept('effectively-once', dup), kept('at-least-once', dup), kept('at-most-once', dup)]).toEqual([false, false, true, false]);
    expect([kept('exactly-once', lost), kept('at-least-once', lost), kept('at-most-once', lost)]).toEqual([false, false, true]);
    expect(kept('at-least-once', tally(r(1, 2), r(2, 1), { ordered: true }))).toBe(false);
  });
});
