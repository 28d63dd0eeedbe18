import type { StepPlan } from '../job/plan.js';
import type { CompiledExpression } from '../expr/index.js';
import type { PositionList, RecordInfo, RecordPosition, SinkInstance, SourceInstance, TransformInstance } from '../plugin/types.js';
import { emptyStepCounters, type StepCounters, type StepSnapshot } from '../events/types.js';
import type { Semaphore } from './semaphore.js';
import type { StepThrottle } from './throttle.js';

/** Latency samples of the last few hundred records or batches, for a p95. */
export class LatencyWindow {
  private readonly samples = new Float64Array(256);
  private count = 0;

  add(ms: number): void {
    this.samples[this.count++ % this.samples.length] = ms;
  }

  p95(): number | undefined {
    const n = Math.min(this.count, this.samples.length);
    if (n === 0) return undefined;
    const sorted = Array.from(this.samples.subarray(0, n)).sort((a, b) => a - b);
    return sorted[Math.min(n - 1, Math.floor(n * 0.95))];
  }
}

/** Exponentially smoothed rate of a growing counter. */
export class RateMeter {
  private lastValue = 0;
  private lastAt = 0;
  private value = 0;

  update(total: number, now: number): number {
    if (this.lastAt === 0) {
      this.lastAt = now;
      this.lastValue = total;
      return 0;
    }
    const dt = (now - this.lastAt) / 1000;
    if (dt >= 0.25) {
      const instant = (total - this.lastValue) / dt;
      const alpha = 1 - Math.exp(-dt / 5);
      this.value = this.value === 0 ? instant : this.value + alpha * (instant - this.value);
      this.lastAt = now;
      this.lastValue = total;
    }
    return this.value;
  }
}

/** A step's live pieces during a run. */
export interface RuntimeStep<I> {
  readonly plan: StepPlan;
  readonly instance: I;
  /** Index among transforms; -1 for the source, `steps.length` for sinks. */
  readonly index: number;
  readonly when?: CompiledExpression;
  readonly sem: Semaphore;
  readonly throttle: StepThrottle;
  readonly counters: StepCounters;
  retrying: number;
  readonly latency: LatencyWindow;
  readonly meter: RateMeter;
}

export type RuntimeSource = RuntimeStep<SourceInstance>;
export type RuntimeTransform = RuntimeStep<TransformInstance>;
export type RuntimeSink = RuntimeStep<SinkInstance> & { state: unknown };

export function snapshotOf(step: RuntimeStep<unknown>, now: number): StepSnapshot {
  return {
    id: step.plan.id,
    kind: step.plan.kind,
    use: step.plan.use,
    ...step.counters,
    retrying: step.retrying,
    active: step.sem.active,
    // A source has no `in`: its rate is what it hands on.
    rate: step.meter.update(step.plan.kind === 'source' ? step.counters.out : step.counters.in, now),
    p95Ms: step.latency.p95(),
    waitMs: step.throttle.waitedMs,
  };
}

export const newStepCounters = emptyStepCounters;

const NO_POSITIONS: PositionList = [];

/**
 * The `info` a transform gets for one attempt. Its signal is made only when a plugin asks for it,
 * so the synchronous fast path allocates no AbortController per record.
 */
export class AttemptInfo implements RecordInfo {
  private controller?: AbortController;
  private combined?: AbortSignal;
  private made?: RecordPosition;

  /** The attempt at record `index` of `positions`; a sink's write (a batch) has the position `{}`. */
  constructor(
    private readonly positions: PositionList,
    private readonly index: number,
    readonly attempt: number,
    private readonly parent: AbortSignal,
  ) {}

  static forBatch(attempt: number, parent: AbortSignal): AttemptInfo {
    return new AttemptInfo(NO_POSITIONS, 0, attempt, parent);
  }

  /** Made when a plugin reads it: a synchronous transform that does not costs no object per record. */
  get position(): RecordPosition {
    return (this.made ??= this.positions.at(this.index) ?? {});
  }

  get signal(): AbortSignal {
    if (!this.combined) {
      this.controller = new AbortController();
      this.combined = AbortSignal.any([this.parent, this.controller.signal]);
    }
    return this.combined;
  }

  abort(reason: unknown): void {
    // A plugin may read `signal` only after the timeout (after an await): it must see it aborted.
    void this.signal;
    this.controller!.abort(reason);
  }
}
