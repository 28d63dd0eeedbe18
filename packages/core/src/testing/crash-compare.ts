// How a crash test judges what a sink holds (or what a source read) after crashes and resumes:
// records are matched with the uninterrupted run's by content or by a key, counted lost,
// duplicated, unexpected and out of order, and judged by the sink's declared guarantee.
import type { SinkGuarantee, SluiceRecord } from '../plugin/types.js';

/** What a crashed and resumed run holds, against the uninterrupted run. */
export interface Tally {
  /** Records of the uninterrupted run the crashed one does not hold. */
  readonly lost: number;
  /** Extra copies of records the uninterrupted run holds (fewer times). */
  readonly duplicated: number;
  /** Records the uninterrupted run does not hold at all (changed, or made up). */
  readonly unexpected: number;
  /** Records held in another order than the uninterrupted run's (the fewest that would have to move); 0 when order is not promised. */
  readonly outOfOrder: number;
  /** How many records each run holds. */
  readonly expected: number;
  readonly held: number;
}

/** A value as one stable text: keys sorted, BigInt and Date written out, so equal records match. */
export function canonical(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What identifies a record: its `key` field when one is named, else all of it. */
export function identity(key: string | undefined): (record: SluiceRecord) => string {
  return key === undefined ? canonical : (record) => canonical(record[key]);
}

/** Counts what `held` lost, doubled, changed and reordered against `expected`. */
export function tally(expected: readonly SluiceRecord[], held: readonly SluiceRecord[], o: { key?: string; ordered?: boolean } = {}): Tally {
  const id = identity(o.key);
  // Where the n-th copy of each record stands in the uninterrupted run.
  const places = new Map<string, number[]>();
  expected.forEach((record, index) => {
    const k = id(record);
    const list = places.get(k);
    if (list) list.push(index);
    else places.set(k, [index]);
  });
  const used = new Map<string, number>();
  let duplicated = 0;
  let unexpected = 0;
  const order: number[] = [];
  for (const record of held) {
    const k = id(record);
    const list = places.get(k);
    if (!list) {
      unexpected++;
      continue;
    }
    const n = used.get(k) ?? 0;
    used.set(k, n + 1);
    if (n >= list.length) duplicated++;
    else order.push(list[n]!);
  }
  const lost = expected.length - order.length;
  return { lost, duplicated, unexpected, outOfOrder: o.ordered ? order.length - longestRising(order) : 0, expected: expected.length, held: held.length };
}

/** Length of the longest strictly rising subsequence (patience sorting). */
function longestRising(values: readonly number[]): number {
  const tails: number[] = [];
  for (const v of values) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = v;
  }
  return tails.length;
}

/**
 * Whether a sink kept its guarantee. Nothing may be changed or reordered (when order is promised);
 * exactly- and effectively-once: nothing lost or doubled; at-least-once: nothing lost;
 * at-most-once: nothing doubled.
 */
export function kept(guarantee: SinkGuarantee, t: Tally): boolean {
  if (t.unexpected > 0 || t.outOfOrder > 0) return false;
  switch (guarantee) {
    case 'exactly-once':
    case 'effectively-once':
      return t.lost === 0 && t.duplicated === 0;
    case 'at-least-once':
      return t.lost === 0;
    case 'at-most-once':
      return t.duplicated === 0;
  }
}
