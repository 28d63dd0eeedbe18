import { parse as parseLossless } from 'lossless-json';
import { doubleHolds } from './numbers.js';

const isDigitOrPoint = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e;

/**
 * The start of the next run of 16 or more digits and points in `text` at or after `from`, or -1:
 * where a number may have more significant digits than a double holds (15 always fit). Reads
 * every 16th character only, since any such run covers one of them; text inside strings may
 * match too, and such a line only takes the slower exact path.
 */
export function longDigitRun(text: string, from: number): number {
  const n = text.length;
  for (let i = from + 15; i < n; i += 16) {
    if (!isDigitOrPoint(text.charCodeAt(i))) continue;
    let a = i;
    while (a > from && isDigitOrPoint(text.charCodeAt(a - 1))) a--;
    let b = i + 1;
    while (b < n && isDigitOrPoint(text.charCodeAt(b))) b++;
    if (b - a >= 16) return a;
    i = b;
  }
  return -1;
}

const EXPONENT_3 = /[eE][+-]?[0-9]{3}/g;

/**
 * The index of the next exponent of three or more digits in `text` at or after `from` (`e400`,
 * `E-0308`), or -1. Only a line with one can hold a number JSON.parse turned into ±Infinity, 0 or
 * a subnormal without {@link longDigitRun} seeing it: with at most 15 digits and points and an
 * exponent of at most two digits a number lies within 1e-112 … 1e114 (or is 0 as written). A
 * match inside a string only costs its line the check of {@link mayHaveLostExponent}.
 */
export function longExponent(text: string, from: number): number {
  EXPONENT_3.lastIndex = from;
  const match = EXPONENT_3.exec(text);
  return match === null ? -1 : match.index;
}

/**
 * Whether a value JSON.parse made may hold a number it changed that {@link longDigitRun} cannot
 * see: one with a three-digit exponent, which overflows to ±Infinity or underflows to 0 (or a
 * subnormal) — `1e400`, `1e-400`. Zeros are common, so a zero counts only when the text has a
 * negative exponent somewhere.
 */
export function mayHaveLostExponent(value: unknown, text: string): boolean {
  if (typeof value === 'number') return lostExponent(value, text);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'number' ? lostExponent(item, text) : typeof item === 'object' && item !== null && mayHaveLostExponent(item, text)) return true;
    }
    return false;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === 'number' ? lostExponent(item, text) : typeof item === 'object' && item !== null && mayHaveLostExponent(item, text)) return true;
  }
  return false;
}

/** ±Infinity, or 0 or a subnormal from text that has a negative exponent somewhere. */
function lostExponent(value: number, text: string): boolean {
  if (value - value !== 0) return true;
  return value < 2.2250738585072014e-308 && value > -2.2250738585072014e-308 && (text.includes('e-') || text.includes('E-'));
}

/** A number in the input that no JavaScript number holds as written. */
export class InexactNumberError extends Error {
  constructor(readonly literal: string) {
    super(
      `the number ${literal.length > 40 ? `${literal.slice(0, 40)}…` : literal} cannot be held exactly (a double keeps about 16 significant digits, up to ±1.8e308); write it as a string in the input to keep it`,
    );
    this.name = 'InexactNumberError';
  }
}

/**
 * How numbers are read: whole numbers beyond ±(2^53 − 1) become BigInt (their digits kept);
 * other numbers a double cannot hold as written (`1e400`, `1e-400`, `0.1000000000000000055511`)
 * fail the record with {@link InexactNumberError}. Never a silent change.
 */
export function exactNumber(literal: string): number | bigint {
  const value = Number(literal);
  if (Number.isSafeInteger(value) && !/[.eE]/.test(literal)) return value;
  if (!/[.eE]/.test(literal)) return BigInt(literal);
  if (doubleHolds(literal, value)) return value;
  throw new InexactNumberError(literal);
}

const lastWins = ({ newValue }: { newValue: unknown }) => newValue;

/** JSON.parse with {@link exactNumber} for numbers (duplicate keys: the last wins, as with JSON.parse). */
export function parseJsonExact(text: string): unknown {
  return parseLossless(text, undefined, { parseNumber: exactNumber, onDuplicateKey: lastWins });
}

/** JSON.parse, with {@link parseJsonExact} where a number may not survive it. */
export function parseJson(text: string): unknown {
  if (longDigitRun(text, 0) !== -1) return parseJsonExact(text);
  const value: unknown = JSON.parse(text);
  return longExponent(text, 0) !== -1 && mayHaveLostExponent(value, text) ? parseJsonExact(text) : value;
}
