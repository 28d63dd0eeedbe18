import type { RecordPosition } from '../plugin/types.js';

/** Per-job record counts. read + produced = written + filtered + deadLettered + skipped, once a run ends. */
export interface JobCounters {
  read: number;
  /** Extra records created by transforms that returned several records for one. */
  produced: number;
  written: number;
  filtered: number;
  deadLettered: number;
  skipped: number;
  retries: number;
}

/** Per-step record counts (sinks count records, not batches). */
export interface StepCounters {
  in: number;
  out: number;
  filtered: number;
  failed: number;
  retries: number;
}

export const emptyJobCounters = (): JobCounters => ({ read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 });
export const emptyStepCounters = (): StepCounters => ({ in: 0, out: 0, filtered: 0, failed: 0, retries: 0 });

export interface StepSnapshot extends StepCounters {
  readonly id: string;
  readonly kind: 'source' | 'transform' | 'sink';
  readonly use: string;
  /** Records (or batches, for sinks) waiting for a retry right now. */
  readonly retrying: number;
  /** Records (sinks: batches) being processed right now. */
  readonly active: number;
  /** Smoothed records per second through the step. */
  readonly rate: number;
  /** 95th percentile latency of one record (sinks: one batch write) over recent samples, in ms. */
  readonly p95Ms: number | undefined;
  /** Milliseconds callers spent waiting for the step's `rateLimit` or a Retry-After pause, summed over callers. */
  readonly waitMs?: number;
}

/**
 * How long a batch took through one step (`step` set: a transform, or a sink's write with its
 * retries), or from being read to its commit (`step` absent). On the bus's timing channel, apart
 * from `RunEvent`, so renderers and the JSON stream never see them; for metrics and traces.
 */
export interface BatchTiming {
  readonly seq: number;
  readonly step?: string;
  readonly kind?: 'transform' | 'sink';
  /** Records that entered the step (or were read, for the whole batch). */
  readonly records: number;
  /** Clock time (ms) the batch entered the step, or was read. */
  readonly startedAt: number;
  readonly ms: number;
  /** The run's failure, when it failed while the batch was in the step. */
  readonly error?: string;
}

export interface ProgressSnapshot {
  readonly job: string;
  readonly elapsedMs: number;
  readonly counters: Readonly<JobCounters>;
  readonly steps: readonly StepSnapshot[];
  /** Source progress in its own unit, against `estimate` when known. */
  readonly progress?: { readonly done: number; readonly total?: number; readonly unit: 'records' | 'bytes' };
  readonly checkpoint?: { readonly seq: number; readonly cursor: unknown; readonly at: number };
  readonly batchesInFlight: number;
  /** Smoothed records read per second. */
  readonly rate: number;
}

export interface DeadLetterEntry {
  readonly job: string;
  readonly step: string;
  readonly kind: 'source' | 'transform' | 'sink';
  /** Index of the transform the record failed in (replay starts there); -1 for the source, steps.length for sinks. */
  readonly stepIndex: number;
  readonly error: string;
  readonly attempts: number;
  readonly position: RecordPosition;
  readonly batch: number;
  readonly at: string;
  readonly record?: unknown;
  readonly raw?: string;
  /**
   * `false` on a sink's entry for a record another sink of the fan-out refused first (in the same
   * batch): the record is counted once, on that sink's entry.
   */
  readonly counted?: false;
  /** Set when the dead-letter sink could not write the entry as it was: what was made safe, and why. */
  readonly note?: string;
}

export type RunEvent =
  | { type: 'start'; job: string; fingerprint: string; resumed: boolean; cursor?: unknown; counters: JobCounters; dryRun: boolean }
  | { type: 'estimate'; total: number; unit: 'records' | 'bytes' }
  | { type: 'retry'; step: string; attempt: number; delayMs: number; error: string; position?: RecordPosition }
  | { type: 'deadLetter'; step: string; error: string; position: RecordPosition }
  | { type: 'skip'; step: string; error: string; position: RecordPosition }
  | { type: 'checkpoint'; seq: number; cursor: unknown; counters: JobCounters }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> }
  /** `checkpoint`: whether the run saves a checkpoint once in-flight batches finish (not for `--limit`, dry runs, replays). */
  | { type: 'stopping'; reason: string; checkpoint?: boolean }
  | { type: 'end'; summary: RunSummary };

export interface RunSummary {
  readonly job: string;
  readonly status: 'done' | 'failed' | 'interrupted';
  /** The clear one-line reason when the status is not `done`. */
  readonly error?: string;
  readonly durationMs: number;
  /** Counts over the whole job (earlier resumed runs included). */
  readonly counters: JobCounters;
  /** Counts of this process's run alone. */
  readonly thisRun: JobCounters;
  readonly steps: readonly StepSnapshot[];
  readonly deadLetterPath?: string;
  readonly checkpoint?: { readonly seq: number; readonly cursor: unknown };
  readonly dryRun: boolean;
  readonly resumed: boolean;
}
