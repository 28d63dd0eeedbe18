import { describe, expect, it } from 'vitest';
import { int } from './format.js';

describe('int', () => {
  it('writes what toLocaleString("en-US") writes for the rounded number', () => {
    const values = [0, -0, 0.4, -0.4, 0.5, -0.5, 1, 12, 123, 999, 1000, 9999.5, -1000, 123456, 1234567, -98765432, 2 ** 53, 1e20, 1e21, 1.5e22, NaN, Infinity, -Infinity];
    let seed = 11;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const magnitude = 10 ** (seed % 22);
      values.push(((seed / 2 ** 31) * 2 - 1) * magnitude);
    }
    for (const v of values) expect(int(v), String(v)).toBe(Math.round(v).toLocaleString('en-US'));
  });
});
