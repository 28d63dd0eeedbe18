// plainValue reads a raw page's numeric field straight from the page's text: it must give exactly
// what the record path binds for the same text (asNumber: the field's string, then Number), down
// to the last bit and the sign of zero, and leave everything else (NaN) to the string path.
import { expect, it } from 'vitest';
import { asNumber } from './sqlite-values.js';
import { plainValue } from './sqlite-raw.js';

const FIXED = ['0', '-0', '007', '-12', '5', '123456789012345', '999999999999999', '1234567890123456', '12.50', '-0.0', '0.1', '00.5', '.5', '5.', '-', '', '1e3', '+5', ' 5', '5 ', '1.2.3', '-.5', '12.345678901234', '0.30000000000000004', '9.99999999999999', '4.35', '0.000001', '-3.14159265358979', '1234567890.12345', '99999999999999.9', 'abc', '1,5'];

function random(next: () => number): string {
  const length = 1 + Math.floor(next() * 18);
  const alphabet = '0123456789012345678901234567890123456789.-';
  let s = next() < 0.3 ? '-' : '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(next() * alphabet.length)];
  return s;
}

it('plainValue: the number asNumber gives for plain numeric text (same bits, same zero), NaN for anything else', () => {
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const values = [...FIXED, ...Array.from({ length: 200_000 }, () => random(next))];
  let numbers = 0;
  for (const whole of [true, false]) {
    for (const v of values) {
      // Inside other text, as in a page: only [from, to) is read.
      const text = `x,${v},y`;
      const got = plainValue(text, 2, 2 + v.length, whole);
      const want = asNumber(v, whole);
      if (typeof want === 'number') {
        numbers++;
        if (!Object.is(got, want)) expect({ v, whole, got }).toEqual({ v, whole, got: want });
      } else if (!Number.isNaN(got)) {
        expect({ v, whole, got }).toEqual({ v, whole, got: Number.NaN });
      }
    }
  }
  expect(numbers).toBeGreaterThan(50_000);
  expect(Object.is(plainValue('-0.0', 0, 4, false), -0)).toBe(true);
  expect(plainValue('12.50', 0, 5, false)).toBe(12.5);
  expect(plainValue('12.50', 0, 5, true)).toBeNaN();
});
