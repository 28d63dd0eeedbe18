import type { Checkpoint } from '../checkpoint/types.js';
import { emptyJobCounters, emptyStepCounters, type JobCounters, type StepCounters } from '../events/types.js';
import type { RuntimeStep } from './steps.js';

/** What one batch adds to the counts; folded into the committed totals when the batch commits. */
export interface BatchCounts {
  readonly counts: JobCounters;
  readonly stepCounts: Map<string, StepCounters>;
}

export const emptyBatchCounts = (): BatchCounts => ({ counts: emptyJobCounters(), stepCounts: new Map() });

/**
 * Every count of a run in one place. Three views of the job's totals: `live` (including batches
 * still in flight, for the screen), `committed` (up to the watermark: what a checkpoint holds) and
 * `thisRun` (what this process did, without the resumed totals). Each step's live counts sit on the
 * step (`step.counters`, shown by the screen); their committed totals here, per step id.
 */
export class RunCounters {
  readonly committed: JobCounters;
  readonly live: JobCounters;
  readonly thisRun: JobCounters = emptyJobCounters();
  private readonly committedSteps = new Map<string, StepCounters>();
  /** Counts of no batch (a plugin's own retries): live at once, committed with the next batch. */
  readonly loose: BatchCounts = emptyBatchCounts();

  /** Continues the resumed checkpoint's totals, job and steps alike. */
  constructor(resume: Checkpoint | undefined, steps: ReadonlyArray<RuntimeStep<unknown>>) {
    this.committed = { ...emptyJobCounters(), ...(resume?.counters ?? {}) };
    this.live = { ...this.committed };
    for (const step of steps) {
      const saved = resume?.steps?.[step.plan.id];
      if (saved) Object.assign(step.counters, saved);
      this.committedSteps.set(step.plan.id, { ...step.counters });
    }
  }

  add(batch: BatchCounts, key: keyof JobCounters, n: number): void {
    if (n === 0) return;
    batch.counts[key] += n;
    this.live[key] += n;
    this.thisRun[key] += n;
  }

  addStep(batch: BatchCounts, step: RuntimeStep<unknown>, key: keyof StepCounters, n: number): void {
    if (n === 0) return;
    step.counters[key] += n;
    const id = step.plan.id;
    let pending = batch.stepCounts.get(id);
    if (!pending) batch.stepCounts.set(id, (pending = emptyStepCounters()));
    pending[key] += n;
  }

  /** Records that left through `skip` or the dead-letter door, in flight included (the error budget). */
  get failed(): number {
    return this.live.deadLettered + this.live.skipped;
  }

  /** Folds a batch everything has finished into the committed totals, with the loose counts so far. */
  commit(batch: BatchCounts): void {
    this.fold(batch);
    this.fold(this.loose);
    for (const key of Object.keys(this.loose.counts) as Array<keyof JobCounters>) this.loose.counts[key] = 0;
    this.loose.stepCounts.clear();
  }

  private fold(batch: BatchCounts): void {
    for (const key of Object.keys(batch.counts) as Array<keyof JobCounters>) this.committed[key] += batch.counts[key];
    for (const [id, counts] of batch.stepCounts) {
      const total = this.committedSteps.get(id);
      if (!total) continue;
      for (const key of Object.keys(counts) as Array<keyof StepCounters>) total[key] += counts[key];
    }
  }

  /** The committed step totals, copied for a checkpoint. */
  committedStepsCopy(): Record<string, StepCounters> {
    const steps: Record<string, StepCounters> = {};
    for (const [id, counts] of this.committedSteps) steps[id] = { ...counts };
    return steps;
  }
}
