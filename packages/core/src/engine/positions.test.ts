import { describe, expect, it } from 'vitest';
import { headPositions, joinPositions, pagePositions, pickPositions, positionsArray } from './positions.js';

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ line: from + i }));

describe('record positions as the engine carries them', () => {
  it('a pick of a pick of a join reads through to the right page and record', () => {
    const joined = joinPositions([lines(1, 3), lines(10, 4), [], lines(20, 2)]);
    expect(joined.length).toBe(9);
    expect(positionsArray(joined)).toEqual([...lines(1, 3), ...lines(10, 4), ...lines(20, 2)]);
    const picked = pickPositions(joined, [0, 2, 3, 6, 7, 8]);
    const again = pickPositions(picked, [1, 3, 5]);
    expect(positionsArray(again)).toEqual([{ line: 3 }, { line: 13 }, { line: 21 }]);
    expect(again.at(3)).toBeUndefined();
    expect(joined.at(9)).toBeUndefined();
    expect(joined.at(-1)).toBeUndefined();
  });

  it('no positions from the source: the record’s batch and index; a head of a list; an array stays itself', () => {
    expect(positionsArray(pagePositions(undefined, 7, 3))).toEqual([0, 1, 2].map((index) => ({ batch: 7, index })));
    expect(positionsArray(headPositions(lines(5, 10), 2))).toEqual(lines(5, 2));
    const array = lines(1, 2);
    expect(positionsArray(array)).toBe(array);
    expect(pickPositions(array, undefined)).toBe(array);
  });
});
