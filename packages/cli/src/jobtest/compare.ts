import { isDeepStrictEqual } from 'node:util';
import type { Expectation } from './spec.js';

type Rec = Record<string, unknown>;

/** How expected entries are matched: records exactly; dead letters on the fields given, `error` as a part. */
export type MatchMode = 'records' | 'deadLetters';

/** JSON with sorted keys, so equal records read the same whatever order their fields were set in. */
export function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Rec)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Rec)[k])}`)
      .join(',')}}`;
  }
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/** Whether `actual` has every field `expected` names, with the same value (recursively). */
export function matchesPartially(expected: unknown, actual: unknown, errorAsPart = false): boolean {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return false;
    return Object.entries(expected).every(([key, value]) =>
      errorAsPart && key === 'error' && typeof value === 'string' && typeof (actual as Rec)[key] === 'string'
        ? ((actual as Rec)[key] as string).includes(value)
        : matchesPartially(value, (actual as Rec)[key]),
    );
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesPartially(e, actual[i]));
  }
  return isDeepStrictEqual(expected, actual instanceof Date ? actual.toISOString() : actual);
}

const matcher = (mode: MatchMode) => (expected: Rec, actual: Rec) =>
  mode === 'records' ? isDeepStrictEqual(normalise(expected), normalise(actual)) : matchesPartially(expected, actual, true);

/** Dates as ISO strings (YAML can only say them as strings), undefined fields dropped. */
function normalise(value: unknown): unknown {
  return JSON.parse(canonical(value) === 'undefined' ? 'null' : canonical(value));
}

/** What a dead-letter entry shows in a diff: the fields the expectation names (deeply), or the telling ones. */
function shown(actual: Rec, mode: MatchMode, like?: Rec): Rec {
  if (mode === 'records') return actual;
  if (!like) return Object.fromEntries(['step', 'error', 'record' in actual ? 'record' : 'raw'].filter((k) => k in actual).map((k) => [k, actual[k]]));
  return project(actual, like) as Rec;
}

/** `actual` cut down to the fields `like` names, at every level. */
function project(actual: unknown, like: unknown): unknown {
  if (!like || typeof like !== 'object' || Array.isArray(like) || !actual || typeof actual !== 'object' || Array.isArray(actual)) return actual;
  return Object.fromEntries(Object.keys(like).filter((k) => k in actual).map((k) => [k, project((actual as Rec)[k], (like as Rec)[k])]));
}

/**
 * Compares what a sink (or the dead-letter sink) received with what a test expects; returns the
 * lines of a readable diff, or none when it matches.
 */
export function compare(label: string, expected: Expectation, actual: Rec[], mode: MatchMode): string[] {
  const noun = mode === 'records' ? 'record' : 'dead letter';
  const plural = (n: number) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const same = matcher(mode);
  if (Array.isArray(expected)) {
    const exp = expected as Rec[];
    if (exp.length === actual.length && exp.every((e, i) => same(e, actual[i]!))) return [];
    const wrong = exp.filter((e, i) => !same(e, actual[i]!)).length;
    const differ = exp.length === actual.length ? `${wrong} of ${plural(exp.length)} ${wrong === 1 ? 'differs' : 'differ'}` : `expected ${plural(exp.length)}, got ${actual.length}`;
    return [`${label}: ${differ} (- expected, + actual):`, ...diffLines(exp, actual, same, mode)];
  }
  const { count, contains } = expected as { count?: number; contains?: Rec[] };
  const lines: string[] = [];
  if (count !== undefined && count !== actual.length) lines.push(`${label}: expected ${plural(count)}, got ${actual.length}`);
  const used = new Set<number>();
  let unmatched = 0;
  for (const want of contains ?? []) {
    const index = actual.findIndex((a, i) => !used.has(i) && matchesPartially(want, a, mode === 'deadLetters'));
    if (index >= 0) used.add(index);
    else {
      unmatched++;
      lines.push(`${label}: none matches ${canonical(want)}`);
    }
  }
  if (unmatched && actual.length) {
    lines.push(`  got${actual.length > 10 ? ` (first 10 of ${actual.length})` : ''}:`);
    for (const a of actual.slice(0, 10)) lines.push(`    ${canonical(shown(a, mode))}`);
  }
  return lines;
}

/** A line diff of two record lists (longest common subsequence), with field details for changed pairs. */
function diffLines(expected: Rec[], actual: Rec[], same: (e: Rec, a: Rec) => boolean, mode: MatchMode): string[] {
  type Op = { kind: ' ' | '-' | '+'; e?: Rec; a?: Rec };
  const n = expected.length;
  const m = actual.length;
  const ops: Op[] = [];
  if (n * m > 4_000_000) {
    // Too large for a full table: compare by position.
    for (let i = 0; i < Math.max(n, m); i++) {
      if (i < n && i < m && same(expected[i]!, actual[i]!)) ops.push({ kind: ' ', e: expected[i], a: actual[i] });
      else {
        if (i < n) ops.push({ kind: '-', e: expected[i] });
        if (i < m) ops.push({ kind: '+', a: actual[i] });
      }
    }
  } else {
    const table: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i]![j] = same(expected[i]!, actual[j]!) ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && same(expected[i]!, actual[j]!)) ops.push({ kind: ' ', e: expected[i++], a: actual[j++] });
      else if (j < m && (i >= n || table[i]![j + 1]! >= table[i + 1]![j]!)) ops.push({ kind: '+', a: actual[j++] });
      else ops.push({ kind: '-', e: expected[i++] });
    }
  }
  // In each run of changes, put each removed record right before the added one that took its
  // place, so the pairs read together (and get their field details).
  for (let start = 0; start < ops.length; ) {
    if (ops[start]!.kind === ' ') {
      start++;
      continue;
    }
    let end = start;
    while (end < ops.length && ops[end]!.kind !== ' ') end++;
    const run = ops.slice(start, end);
    const removed = run.filter((op) => op.kind === '-');
    const added = run.filter((op) => op.kind === '+');
    const paired: Op[] = [];
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      if (k < removed.length) paired.push(removed[k]!);
      if (k < added.length) paired.push(added[k]!);
    }
    ops.splice(start, run.length, ...paired);
    start = end;
  }

  const out: string[] = [];
  const changed = ops.map((op) => op.kind !== ' ');
  const near = (k: number) => changed.slice(Math.max(0, k - 2), k + 3).some(Boolean);
  let skipped = false;
  for (const [k, op] of ops.entries()) {
    if (op.kind === ' ' && ops.length > 12 && !near(k)) {
      if (!skipped) out.push('    …');
      skipped = true;
      continue;
    }
    skipped = false;
    const previous = ops[k - 1];
    const pairedWith = op.kind === '+' && previous?.kind === '-' ? previous.e : undefined;
    const record = op.kind === '+' ? shown(op.a!, mode, pairedWith) : op.kind === '-' ? op.e! : shown(op.a!, mode, op.e);
    out.push(`  ${op.kind} ${canonical(record)}`);
    if (pairedWith) for (const detail of fieldDifferences(pairedWith, op.a!, mode)) out.push(`      ${detail}`);
  }
  return out;
}

/** `email: expected "a", got "b"` for each field (dotted, two levels deep) that differs. */
export function fieldDifferences(expected: Rec, actual: Rec, mode: MatchMode, prefix = ''): string[] {
  const out: string[] = [];
  const keys = mode === 'records' ? [...new Set([...Object.keys(expected), ...Object.keys(actual)])] : Object.keys(expected);
  for (const key of keys) {
    const e = expected[key];
    const a = actual[key];
    const path = `${prefix}${key}`;
    const equal =
      mode === 'records'
        ? canonical(e) === canonical(a)
        : key === 'error' && !prefix && typeof e === 'string' && typeof a === 'string'
          ? a.includes(e)
          : matchesPartially(e, a);
    if (equal) continue;
    if (e && a && typeof e === 'object' && typeof a === 'object' && !Array.isArray(e) && !Array.isArray(a) && !prefix.includes('.')) {
      out.push(...fieldDifferences(e as Rec, a as Rec, mode, `${path}.`));
    } else if (!(key in actual)) out.push(`${path}: expected ${canonical(e)}, missing`);
    else if (!(key in expected)) out.push(`${path}: not expected, got ${canonical(a)}`);
    else out.push(`${path}: expected ${canonical(e)}, got ${canonical(a)}`);
  }
  return out;
}
