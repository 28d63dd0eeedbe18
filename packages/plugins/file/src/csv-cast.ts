import { doubleHolds } from './numbers.js';

/**
 * `cast: true`: numbers and booleans become JSON values, an unquoted empty field becomes null.
 * Left as text: quoted empty fields (""), numbers with leading zeros (zip codes, ids like 007),
 * integers too large to be exact, and numbers a double cannot hold (`1e400`).
 *
 * Hand-written rather than regular expressions: it runs for every field of every row, and most
 * fields are decided by their first character.
 */
export function castCsvValue(value: string, quoted: boolean): unknown {
  const n = value.length;
  if (n === 0) return quoted ? '' : null;
  const c = value.charCodeAt(0);
  if ((c >= 0x30 && c <= 0x39) || c === 0x2d) return castNumber(value, n);
  if ((n === 4 || n === 5) && ((c | 0x20) === 0x74 /* t */ || (c | 0x20) === 0x66) /* f */) {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return value;
}

/**
 * False only when {@link castCsvValue} certainly gives back a field's text unchanged, judged by its
 * first byte (UTF-8) or char code, -1 for an empty field: a number starts with a digit or `-`, a
 * boolean with t or f. A superset on purpose (any field starting with t or f, whatever its length),
 * so a caller that skips the cast when it says false writes what the cast would.
 */
export function castMayChange(first: number): boolean {
  return first === -1 || (first >= 0x30 && first <= 0x39) || first === 0x2d || (first | 0x20) === 0x74 || (first | 0x20) === 0x66;
}

const digit = (c: number) => c >= 0x30 && c <= 0x39;
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, k) => 10 ** k);

/** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` as a number when a double holds it exactly; otherwise the text. */
function castNumber(value: string, n: number): unknown {
  let i = value.charCodeAt(0) === 0x2d ? 1 : 0;
  if (i >= n) return value;
  const first = value.charCodeAt(i);
  if (!digit(first)) return value;
  const from = i++;
  // The integer part's value, built as it is scanned: most numbers in CSV files are whole and short.
  let whole = first - 0x30;
  if (first === 0x30) {
    if (i < n && digit(value.charCodeAt(i))) return value; // a leading zero: 007 stays text
  } else {
    for (let c = value.charCodeAt(i); i < n && digit(c); c = value.charCodeAt(++i)) whole = whole * 10 + (c - 0x30);
  }
  let digits = i - from;
  if (i === n && digits <= 15) return from === 1 ? -whole : whole;
  let integral = true;
  if (i < n && value.charCodeAt(i) === 0x2e) {
    integral = false;
    const start = ++i;
    for (let c = value.charCodeAt(i); i < n && digit(c); c = value.charCodeAt(++i)) whole = whole * 10 + (c - 0x30);
    if (i === start) return value;
    digits += i - start;
    // Clinger's fast path: both the digits (< 2^53) and 10^k are exact doubles, so one division
    // rounds correctly, exactly as Number() would.
    if (i === n && digits <= 15) return (from === 1 ? -whole : whole) / POWERS_OF_TEN[i - start]!;
  }
  let exponent = false;
  if (i < n && (value.charCodeAt(i) | 0x20) === 0x65) {
    integral = false;
    exponent = true;
    i++;
    if (i < n && (value.charCodeAt(i) === 0x2b || value.charCodeAt(i) === 0x2d)) i++;
    const start = i;
    while (i < n && digit(value.charCodeAt(i))) i++;
    if (i === start) return value;
  }
  if (i !== n) return value;
  const number = Number(value);
  if (integral) return Number.isSafeInteger(number) ? number : value;
  // Up to 15 digits without an exponent always fit; anything else is compared digit by digit.
  if (digits <= 15 && !exponent) return number;
  return doubleHolds(value, number) ? number : value;
}
