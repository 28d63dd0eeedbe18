import type { DeadLetterEntry } from '../events/types.js';

/** How deep a dead letter's record is kept in its safe form; deeper values become a note. */
export const SAFE_DEPTH = 64;

/**
 * A dead letter the dead-letter sink refused, in a form any JSON writer takes: the record with
 * BigInts as their digits, nesting cut at `SAFE_DEPTH` levels, cycles and values JSON has no
 * form for replaced by a note; `note` says what was done and why (the raw text, if the source
 * gave one, is kept as it is).
 */
export function safeDeadLetter(entry: DeadLetterEntry, refusal: string): DeadLetterEntry {
  const changes = new Set<string>();
  const record = entry.record === undefined ? undefined : safeValue(entry.record, 0, new Set(), changes);
  const what = changes.size > 0 ? [...changes].join(', ') : 'copied as plain JSON';
  return {
    ...entry,
    ...(record !== undefined ? { record } : {}),
    note: `the dead-letter sink refused this entry (${refusal}); its record is written in a safe form: ${what}`,
  };
}

function safeValue(value: unknown, depth: number, seen: Set<object>, changes: Set<string>): unknown {
  switch (typeof value) {
    case 'bigint':
      changes.add('BigInt as its digits');
      return value.toString();
    case 'number':
      if (Number.isFinite(value)) return value;
      changes.add('non-finite numbers as text');
      return String(value);
    case 'string':
    case 'boolean':
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      changes.add('values JSON cannot hold as text');
      return String(typeof value === 'symbol' ? value.description : typeof value);
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= SAFE_DEPTH) {
    changes.add(`nesting cut at ${SAFE_DEPTH} levels`);
    return `[nested deeper than ${SAFE_DEPTH} levels]`;
  }
  if (seen.has(object)) {
    changes.add('cycles cut');
    return '[circular]';
  }
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? String(object) : object.toISOString();
  seen.add(object);
  try {
    if (Array.isArray(object)) return object.map((item) => safeValue(item, depth + 1, seen, changes));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      const safe = safeValue((object as Record<string, unknown>)[key], depth + 1, seen, changes);
      // `__proto__` stays a field, never the prototype.
      Object.defineProperty(out, key, { value: safe, enumerable: true, writable: true, configurable: true });
    }
    return out;
  } finally {
    seen.delete(object);
  }
}
