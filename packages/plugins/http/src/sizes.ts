const UNITS = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

/** `64MB`, `512KB`, `1.5GB` (1 KB = 1024 bytes) or a number of bytes; undefined when unreadable. */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(value);
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase() as keyof typeof UNITS]);
  return bytes > 0 ? bytes : undefined;
}

/** A byte count for messages: `4 MB`, `512 KB`, `900 B`. */
export function sizeText(n: number): string {
  for (const [unit, size] of [['GB', UNITS.gb], ['MB', UNITS.mb], ['KB', UNITS.kb]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  }
  return `${n} B`;
}

/** What an http step reads of one response when the job says nothing. */
export const DEFAULT_MAX_RESPONSE = 64 * UNITS.mb;
