import type { JobCounters, StepCounters } from '../events/types.js';
import type { CheckpointLock, LockHolder, LockOptions } from './lock.js';

/** How a run merges source pages into batches (engine/batch-growth.ts): at most this many items and estimated bytes. */
export interface BatchGrowth {
  readonly records: number;
  readonly bytes: number;
}

/** What a checkpoint remembers: the watermark batch's cursor, each sink's state and the counts so far. */
export interface Checkpoint {
  readonly version: 1;
  readonly job: string;
  readonly fingerprint: string;
  /** Sequence number of the last batch every sink finished (the watermark). */
  readonly seq: number;
  /** The source cursor after that batch. */
  readonly cursor: unknown;
  /**
   * The batch size the checkpoint was taken with. A resume keeps it, so batch sequence numbers
   * name the same records in every run (sinks that commit their own marker rely on this).
   */
  readonly batchSize: number;
  /**
   * Set when the run merged pages of `batchSize` into growing batches (a job without `batch.size`):
   * a resume cuts its batches the same way, and one without it keeps one page per batch.
   */
  readonly batchGrowth?: BatchGrowth;
  /** Sink states by step id, as each sink reported after the watermark batch. */
  readonly sinks: Record<string, unknown>;
  readonly deadLetter: unknown;
  readonly counters: JobCounters;
  readonly steps: Record<string, StepCounters>;
  /**
   * A replay that committed its sinks' output but may not yet have renamed its new dead-letter file
   * (`temp`) over the old one (`file`): the next run or replay finishes the rename first. With
   * `writing`, a replay that started writing and has not committed: its sinks may hold batches
   * numbered from `firstSeq` (a sql sink's markers know them), so nothing but the same replay may
   * write next — a run is refused until a replay of the same entries finishes.
   */
  readonly replay?: {
    readonly file: string;
    readonly temp: string;
    readonly writing?: {
      readonly firstSeq: number;
      readonly batchSize: number;
      /** SHA-256 of the dead-letter lines the replay read: a redo must read the same. */
      readonly digest: string;
    };
  };
  /** True once the source was read to its end and everything was written. */
  readonly done: boolean;
  readonly updatedAt: string;
}

/** Where a job's checkpoints (and ledgers) live; a plugin package may add kinds (`defineCheckpointStore`). */
export interface CheckpointStore {
  /**
   * Opens the durable ledger `name` of this job (e.g. the keys an email sink has sent). Stores
   * without one make at-most-once sinks refuse to start.
   */
  ledger?(name: string): Promise<import('./ledger.js').Ledger>;
  /** Deletes every ledger of this job (`--fresh --resend`). */
  clearLedgers?(): Promise<void>;
  /** A description for messages (`.sluice/checkpoints/hello.json`). */
  readonly location: string;
  load(): Promise<Checkpoint | undefined>;
  /** Atomic: after a crash the store holds this checkpoint or the previous one, never a mix. */
  save(checkpoint: Checkpoint): Promise<void>;
  clear(): Promise<void>;
  close?(): Promise<void>;
  /**
   * Takes the exclusive lock on this job's state (one partition's, for a partition store) for a
   * run's whole life, so two runs never write the same output and checkpoint at once. Rejects
   * with `CheckpointLockedError` (who holds it, how to clear a stale lock) when another run has
   * it. A store without `lock` is not locked.
   */
  lock?(holder: LockHolder, options?: LockOptions): Promise<CheckpointLock>;
  /** Who holds the lock now, or undefined when nobody does (`sluice status`). */
  lockHolder?(): Promise<LockHolder | undefined>;
}
