import type { ProgressSnapshot } from '../events/types.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import { RateMeter, snapshotOf, type RuntimeStep } from './steps.js';

/** What the progress screen is told: counts, step snapshots, the source's progress against its estimate. */
export class ProgressMeter {
  private readonly readRate = new RateMeter();
  private estimate: { total: number; unit: 'records' | 'bytes' } | undefined;
  /** The source's own progress (bytes, rows) of the last page read. */
  private done = 0;
  readonly startedAt: number;

  constructor(
    private readonly job: string,
    private readonly steps: ReadonlyArray<RuntimeStep<unknown>>,
    private readonly counters: RunCounters,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  setEstimate(estimate: { total: number; unit: 'records' | 'bytes' }): void {
    this.estimate = estimate;
  }

  /** A page was read; `progress` is in the source's unit, when it says. */
  pageRead(progress: number | undefined): void {
    if (progress !== undefined) this.done = progress;
  }

  snapshot(extra: { checkpoint: { seq: number; cursor: unknown; at: number } | undefined; batchesInFlight: number }): ProgressSnapshot {
    const now = this.clock.now();
    const live = this.counters.live;
    const estimate = this.estimate;
    return {
      job: this.job,
      elapsedMs: now - this.startedAt,
      counters: { ...live },
      steps: this.steps.map((s) => snapshotOf(s, now)),
      progress: estimate
        ? { done: estimate.unit === 'records' ? live.read : this.done, total: estimate.total, unit: estimate.unit }
        : { done: live.read, unit: 'records' },
      ...(extra.checkpoint ? { checkpoint: extra.checkpoint } : {}),
      batchesInFlight: extra.batchesInFlight,
      rate: this.readRate.update(live.read, now),
    };
  }
}
