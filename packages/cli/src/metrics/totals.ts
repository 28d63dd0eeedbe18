import type { JobPlan, ProgressSnapshot, RunSummary, StepSnapshot } from '@sluice/core/internal';

export type RunStatus = 'running' | 'done' | 'failed' | 'interrupted';

/** One step's counts as the metrics name them: a step's failures split by the door they left through (its `onError`). */
export interface StepTotals {
  readonly kind: StepSnapshot['kind'];
  out: number;
  filtered: number;
  deadLettered: number;
  skipped: number;
  retries: number;
  waitMs: number;
}

/** A job's counts at one moment: the report's `counters.read` and `steps`, in metric terms. */
export interface Totals {
  read: number;
  readonly steps: Map<string, StepTotals>;
}

export const emptyTotals = (): Totals => ({ read: 0, steps: new Map() });

/** Each step's `onError`, by id (the dead-letter step included: its failures fail the run). */
export function onErrorOf(plan: JobPlan): ReadonlyMap<string, JobPlan['source']['onError']> {
  return new Map([plan.source, ...plan.steps, ...plan.sinks, plan.deadLetter].map((s) => [s.id, s.onError]));
}

/** The totals in a snapshot or a summary (both hold the job's counters and its step rows). */
export function totalsOf(at: Pick<ProgressSnapshot | RunSummary, 'counters' | 'steps'>, onError: ReadonlyMap<string, string>): Totals {
  const steps = new Map<string, StepTotals>();
  for (const s of at.steps) {
    const door = onError.get(s.id);
    steps.set(s.id, {
      kind: s.kind,
      out: s.out,
      filtered: s.filtered,
      deadLettered: door === 'deadLetter' ? s.failed : 0,
      skipped: door === 'skip' ? s.failed : 0,
      retries: s.retries,
      waitMs: s.waitMs ?? 0,
    });
  }
  return { read: at.counters.read, steps };
}

/** `into += sign × from`, step by step. */
export function addTotals(into: Totals, from: Totals, sign = 1): void {
  into.read += sign * from.read;
  for (const [id, s] of from.steps) {
    let row = into.steps.get(id);
    if (!row) into.steps.set(id, (row = { kind: s.kind, out: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0, waitMs: 0 }));
    row.out += sign * s.out;
    row.filtered += sign * s.filtered;
    row.deadLettered += sign * s.deadLettered;
    row.skipped += sign * s.skipped;
    row.retries += sign * s.retries;
    row.waitMs += sign * s.waitMs;
  }
}

/** A job's state for the gauges. */
export interface Reading {
  /** The job's name, redacted: a label value. */
  readonly job: string;
  readonly totals: Totals;
  readonly status?: RunStatus;
  readonly batchesInFlight: number;
  /** When the latest checkpoint was saved (ms since the epoch), once one was. */
  readonly checkpointAt?: number;
}

/** What the metrics read from: a run (local, threads, coordinator) or a worker's partitions. */
export interface MetricsFeed {
  readings(): Reading[];
}

/** A run that never started: failed, nothing counted. */
export function notRun(job: string): MetricsFeed {
  return { readings: () => [{ job, totals: emptyTotals(), status: 'failed', batchesInFlight: 0 }] };
}
