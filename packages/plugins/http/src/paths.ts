/**
 * Dotted paths into parsed JSON (`data.items`, `meta.next_cursor`, `results.0.id`). An empty path
 * (or `.`) is the value itself.
 */

const cache = new Map<string, readonly string[]>();

function segments(path: string): readonly string[] {
  let parts = cache.get(path);
  if (!parts) {
    parts = path === '' || path === '.' ? [] : path.split('.');
    cache.set(path, parts);
  }
  return parts;
}

/** The value at `path`, or undefined when any step of the way is missing. */
export function getPath(value: unknown, path: string): unknown {
  let at = value;
  for (const key of segments(path)) {
    if (at === null || typeof at !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** A copy of `record` with `value` at `path`, creating (copied) objects along the way. */
export function setPath(record: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const parts = segments(path);
  if (parts.length === 0) throw new Error('empty path');
  if (parts.length === 1) return { ...record, [parts[0]!]: value };
  const out = { ...record };
  let at = out;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i]!;
    const next = at[key];
    const copy = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    at[key] = copy;
    at = copy;
  }
  at[parts[parts.length - 1]!] = value;
  return out;
}

/** Whether a dotted path is well formed (no empty segment). */
export function isWellFormedPath(path: string): boolean {
  return path === '' || path === '.' || path.split('.').every((s) => s !== '');
}
