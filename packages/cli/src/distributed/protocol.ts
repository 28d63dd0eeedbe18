import type { JobCounters, ProgressSnapshot, RunEvent, RunSummary } from '@sluice/core/internal';

/**
 * A BullMQ job's data: what a worker needs to run one partition. It carries no job text: the
 * worker reads the job file at `file` from its own checkout and runs it only when its content
 * fingerprint is `digest` (docs/distributed.md, "Trust model"). What the coordinator adds to the
 * file (`sets`, the partition, the run) is signed with the queue key both hold.
 */
export interface PartitionJobData {
  readonly version: 2;
  /** The run: the stored partition plan's id (a new one after `--fresh`). */
  readonly run: string;
  readonly job: string;
  readonly fingerprint: string;
  /** The job file relative to the coordinator's folder; a worker reads it from its own. */
  readonly file: string;
  /** SHA-256 of the job file's text as the coordinator read it. */
  readonly digest: string;
  /** `--set` overrides, applied by the worker as the coordinator did. */
  readonly sets: readonly string[];
  readonly partition: { readonly index: number; readonly count: number; readonly spec: unknown };
  /** `--fresh`: the worker clears this partition's checkpoint first (then turns this off in the data). */
  readonly fresh: boolean;
  /** Where the plan and the stop flag live (the BullMQ prefix). */
  readonly prefix: string;
  /** HMAC-SHA256 (hex) of the other fields and the BullMQ job id, with the queue key; absent with `--insecure-queue`. */
  readonly signature?: string;
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
