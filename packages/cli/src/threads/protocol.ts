import type { BatchTiming, JobCounters, ProgressSnapshot, RunEvent, RunSummary } from '@sluice/core/internal';

/**
 * What a `--threads` worker thread is started with: it loads the job itself (plans hold
 * functions), as soon as the command line is read, before the main thread has planned the run.
 */
export interface ThreadData {
  readonly file: string;
  readonly sets: readonly string[];
  readonly envFiles?: Record<string, string>;
}

/** Main thread → worker thread. */
export type ToThread =
  /** The run's plan: the thread takes partitions from the queue once it has loaded the job. */
  | {
      readonly type: 'go';
      /** This thread's number (the main thread is 0). */
      readonly thread: number;
      /** The partition queue's shared state (queue.ts). */
      readonly queue: SharedArrayBuffer;
      /** One spec per partition, as the plan holds them. */
      readonly specs: readonly unknown[];
      readonly fresh: boolean;
      /** Shared `rateLimit` state by step id: one job-wide rate across threads. */
      readonly limiters: Record<string, SharedArrayBuffer>;
      /** The main thread observes batch durations (--metrics): send the engine's timings. */
      readonly timings: boolean;
    }
  | { readonly type: 'stop'; readonly reason: string };

/** Worker thread (or the main thread's own runner) → main thread. */
export type FromThread =
  /** The job did not load in the thread (it did in the main thread: a file changed meanwhile). */
  | { readonly type: 'invalid'; readonly message: string }
  /** The thread took partition `index` from the queue and starts it. */
  | { readonly type: 'started'; readonly index: number; readonly thread: number }
  | {
      readonly type: 'progress';
      readonly index: number;
      readonly startCounters?: JobCounters;
      readonly snapshot?: ProgressSnapshot;
      readonly events?: readonly RunEvent[];
      /** Batch timings since the last message (only when asked for: `go`'s timings). */
      readonly timings?: readonly BatchTiming[];
    }
  | { readonly type: 'end'; readonly index: number; readonly summary: RunSummary }
  /** A refusal at start (the partition's state is locked, or its checkpoint belongs to another version): exit 2. */
  | { readonly type: 'refused'; readonly index: number; readonly message: string };
