import type { BatchGrowth, Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import type { EventBus } from '../events/bus.js';
import type { JobPlan } from '../job/plan.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import type { RunControl } from './failure.js';
import { faults } from './faults.js';
import type { SinkStates } from './sink-stage.js';
import type { RuntimeSink } from './steps.js';

/** The last batch every sink finished, with the sinks' states right after it. */
interface Watermark extends SinkStates {
  readonly seq: number;
  readonly cursor: unknown;
}

/**
 * Keeps the watermark and saves it. A save takes its snapshot first, then makes the sinks durable,
 * then writes the checkpoint, so a checkpoint never runs ahead of the data; saves never overlap, and
 * a save asked for while one runs happens once after it, with the newest watermark.
 */
export class Checkpointer {
  /**
   * The watermark pairs a batch's cursor with the sink states right after that batch: a checkpoint
   * saved while the next batch is being written must not pair this cursor with a later sink state.
   */
  private watermark: Watermark | undefined;
  last: { seq: number; cursor: unknown; at: number } | undefined;
  private wanted = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly plan: JobPlan,
    private readonly store: CheckpointStore,
    /** Every sink a save makes durable first, the dead-letter sink included. */
    private readonly sinks: readonly RuntimeSink[],
    private readonly counters: RunCounters,
    private readonly control: RunControl,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    /** Records per page, pinned in the checkpoint so a resume keeps the batch numbering. */
    private readonly batchSize: number,
    /** Pinned in the checkpoint too, so a resume merges pages into the same batches. */
    private readonly growth: BatchGrowth | undefined,
    /** False for dry runs, `--limit` and replays: nothing is saved. */
    private readonly enabled: boolean,
    resume: (Watermark & { readonly seq: number }) | undefined,
  ) {
    this.watermark = resume;
  }

  get hasWatermark(): boolean {
    return this.watermark !== undefined;
  }

  /** Batch `seq` and everything before it are finished everywhere; save when the saver is free. */
  advance(seq: number, cursor: unknown, states: SinkStates): void {
    this.watermark = { seq, cursor, ...states };
    if (!this.enabled) return;
    this.wanted = true;
    this.loop ??= (async () => {
      try {
        while (this.wanted && !this.control.failure) {
          this.wanted = false;
          await this.save(false);
        }
      } catch (error) {
        this.control.fail(error);
      } finally {
        this.loop = undefined;
      }
    })();
  }

  /** Waits for a save under way. */
  async settle(): Promise<void> {
    await this.loop;
  }

  /** Snapshot first, then make the sinks durable, then save: the snapshot never runs ahead of the data. */
  async save(done: boolean): Promise<void> {
    const watermark = this.watermark;
    if (!watermark) return;
    const checkpoint: Checkpoint = {
      version: 1,
      job: this.plan.name,
      fingerprint: this.plan.fingerprint,
      seq: watermark.seq,
      cursor: watermark.cursor,
      batchSize: this.batchSize,
      ...(this.growth ? { batchGrowth: this.growth } : {}),
      sinks: watermark.sinks,
      deadLetter: watermark.deadLetter,
      counters: { ...this.counters.committed },
      steps: this.counters.committedStepsCopy(),
      done,
      updatedAt: new Date(this.clock.now()).toISOString(),
    };
    await Promise.all(this.sinks.map((s) => s.instance.flush?.()));
    faults?.at('before-checkpoint', { seq: watermark.seq });
    await this.store.save(checkpoint);
    faults?.at('after-checkpoint', { seq: watermark.seq });
    const again = this.last?.seq === watermark.seq;
    this.last = { seq: watermark.seq, cursor: watermark.cursor, at: this.clock.now() };
    // The final save only marks the last checkpoint done: one event per checkpointed batch.
    if (!again) this.bus.emit({ type: 'checkpoint', seq: watermark.seq, cursor: watermark.cursor, counters: checkpoint.counters });
  }
}
