// What `--set` changes in a job, and what names its checkpoint.
import { createHash } from 'node:crypto';
import { parse as parseYamlValue } from 'yaml';

type Raw = Record<string, unknown>;

/**
 * `--set a.b[0].c=value`: the value is read as YAML (`--set batch.size=100` is a number).
 * Returns the new object or a message.
 */
export function applySet(raw: Raw, set: string): Raw | string {
  const eq = set.indexOf('=');
  if (eq <= 0) return 'expected path=value';
  const path = set
    .slice(0, eq)
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter(Boolean);
  let value: unknown;
  try {
    value = parseYamlValue(set.slice(eq + 1));
  } catch {
    value = set.slice(eq + 1);
  }
  const copy = structuredClone(raw);
  let node: Raw = copy;
  for (const [i, part] of path.entries()) {
    if (i === path.length - 1) {
      node[part] = value;
      break;
    }
    const next = node[part];
    if (next === undefined || next === null) node[part] = /^\d+$/.test(path[i + 1]!) ? [] : {};
    else if (typeof next !== 'object') return `${path.slice(0, i + 1).join('.')} is not a mapping or list`;
    node = node[part] as Raw;
  }
  return copy;
}

/**
 * What names a checkpoint: source, steps and sinks as written (before interpolation, so a rotated
 * secret doesn't orphan it), without the settings that change how, not what, a job does.
 */
export function fingerprintOf(raw: Raw): string {
  const strip = (step: unknown) => {
    if (!step || typeof step !== 'object') return step;
    const { concurrency: _c, retry: _r, timeout: _t, rateLimit: _l, ...rest } = step as Raw;
    return rest;
  };
  const subject = {
    source: strip(raw.source),
    steps: ((raw.steps as unknown[] | undefined) ?? []).map(strip),
    sinks: ((raw.sinks as unknown[] | undefined) ?? [raw.sink]).map(strip),
  };
  return createHash('sha256').update(canonical(subject)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Raw)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
