import type { CombinedRun, PartitionState } from './combined.js';

/** One partition in the report (`partitions` in report.schema.json). */
export interface PartitionEntry {
  readonly index: number;
  readonly status: PartitionState['status'];
  readonly worker: string | null;
  readonly records: number;
  readonly written: number;
  readonly error: string | null;
  readonly deadLetterPath?: string;
}

export function partitionEntry(part: PartitionState): PartitionEntry {
  const counters = part.summary?.steps.length ? part.summary.counters : (part.snapshot?.counters ?? part.summary?.counters);
  return {
    index: part.index,
    status: part.status,
    worker: part.worker ?? null,
    records: counters?.read ?? 0,
    written: counters?.written ?? 0,
    error: part.status === 'done' ? null : (part.error ?? null),
    ...(part.summary?.deadLetterPath ? { deadLetterPath: part.summary.deadLetterPath } : {}),
  };
}

/** `partitions: 8 (6 done, 2 stopped) on workers a, b` */
export function partitionsLine(combined: CombinedRun): string {
  const by = new Map<string, number>();
  for (const part of combined.parts) by.set(part.status, (by.get(part.status) ?? 0) + 1);
  const names: Record<string, string> = { done: 'done', failed: 'failed', interrupted: 'stopped', pending: 'not finished', running: 'still running', lost: 'lost' };
  const workers = [...new Set(combined.parts.map((p) => p.worker).filter((w): w is string => w !== undefined))].sort();
  return (
    `partitions: ${combined.count} (${[...by].map(([status, n]) => `${n} ${names[status] ?? status}`).join(', ')})` +
    (workers.length ? ` on worker${workers.length === 1 ? '' : 's'} ${workers.join(', ')}` : '')
  );
}
