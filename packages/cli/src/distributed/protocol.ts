import type { JobCounters, ProgressSnapshot, RunEvent, RunSummary } from '@sluice/core/internal';

/**
 * A BullMQ job's data: everything a worker needs to run one partition. Secrets never travel: the
 * job's text has its `${env:…}` unresolved, and each worker reads its own environment.
 */
export interface PartitionJobData {
  readonly version: 1;
  readonly job: string;
  readonly fingerprint: string;
  /** The job file relative to the coordinator's folder; a worker resolves it from its own. */
  readonly file: string;
  /** The job file's text as the coordinator read it. */
  readonly text: string;
  /** `--set` overrides, applied by the worker as the coordinator did. */
  readonly sets: readonly string[];
  readonly partition: { readonly index: number; readonly count: number; readonly spec: unknown };
  /** `--fresh`: the worker clears this partition's checkpoint first (then turns this off in the data). */
  readonly fresh: boolean;
  /** Where the plan and the stop flag live (the BullMQ prefix). */
  readonly prefix: string;
}

/** What a worker publishes with `job.updateProgress` (at most twice a second). */
export interface PartitionProgress {
  readonly worker: string;
  /** Counts when this attempt started (its checkpoint's), so the coordinator can tell this run's share. */
  readonly startCounters?: JobCounters;
  readonly snapshot?: ProgressSnapshot;
  /** Events worth showing since the last publish (retries, dead letters, warnings), oldest first. */
  readonly events?: readonly RunEvent[];
  /** How many such events were left out to keep the message small. */
  readonly dropped?: number;
  /** The attempt's summary once it ended (also when it failed: a failed BullMQ job has no return value). */
  readonly summary?: RunSummary;
}

/** Events the coordinator's screen shows; the rest (checkpoints, starts, ends) are per partition. */
export const FORWARDED: ReadonlySet<RunEvent['type']> = new Set(['retry', 'deadLetter', 'skip', 'log']);

/** A value as it comes back from Redis (JSON): undefined dropped, no functions, no cycles. */
export function jsonSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function isSummary(value: unknown): value is RunSummary {
  const v = value as RunSummary | undefined;
  return typeof v === 'object' && v !== null && typeof v.status === 'string' && typeof v.counters === 'object' && Array.isArray(v.steps);
}
