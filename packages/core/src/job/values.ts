/** Parses `250ms`, `30s`, `5m`, `1h` or a number of milliseconds; undefined when it is none of those. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) return undefined;
  const n = Number(match[1]);
  const unit = match[2] ?? 'ms';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

export interface Rate {
  /** Permits per second. */
  readonly perSecond: number;
}

/** Parses `100/s`, `6000/min`, `5/ms`… into permits per second. */
export function parseRate(value: unknown): Rate | undefined {
  if (typeof value === 'number') return value > 0 ? { perSecond: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(ms|s|sec|second|m|min|minute|h|hour)\s*$/.exec(value);
  if (!match) return undefined;
  const n = Number(match[1]);
  if (!(n > 0)) return undefined;
  const per = { ms: 0.001, s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hour: 3600 }[match[2]!]!;
  return { perSecond: n / per };
}

export type FailureBudget = { readonly count: number } | { readonly percent: number };

/** Parses `errors.maxFailed`: a count (`100`) or a percentage of records read (`"1%"`). */
export function parseFailureBudget(value: unknown): FailureBudget | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? { count: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
  if (pct) return Number(pct[1]) <= 100 ? { percent: Number(pct[1]) } : undefined;
  return /^\s*\d+\s*$/.test(value) ? { count: Number(value) } : undefined;
}
