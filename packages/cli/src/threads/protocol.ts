import type { JobCounters, ProgressSnapshot, RunEvent, RunSummary } from '@sluice/core/internal';

/** What a `--threads` worker thread is started with: it loads the job itself (plans hold functions). */
export interface ThreadData {
  readonly file: string;
  readonly sets: readonly string[];
  readonly envFiles?: Record<string, string>;
  /** Shared `rateLimit` state by step id: one job-wide rate across threads. */
  readonly limiters: Record<string, SharedArrayBuffer>;
}

/** Main thread → worker thread. */
export type ToThread =
  | { readonly type: 'run'; readonly index: number; readonly count: number; readonly spec: unknown; readonly fresh: boolean }
  | { readonly type: 'stop'; readonly reason: string };

/** Worker thread → main thread. */
export type FromThread =
  | { readonly type: 'ready' }
  /** The job did not load in the thread (it did in the main thread: a file changed meanwhile). */
  | { readonly type: 'invalid'; readonly message: string }
  | {
      readonly type: 'progress';
      readonly index: number;
      readonly startCounters?: JobCounters;
      readonly snapshot?: ProgressSnapshot;
      readonly events?: readonly RunEvent[];
    }
  | { readonly type: 'end'; readonly index: number; readonly summary: RunSummary }
  /** A refusal at start (the partition's state is locked, or its checkpoint belongs to another version): exit 2. */
  | { readonly type: 'refused'; readonly index: number; readonly message: string };
