import type { EventBus, JobPlan, ProgressSnapshot, RunSummary } from '@sluice/core/internal';
import { emptyTotals, onErrorOf, totalsOf, type MetricsFeed, type Reading, type RunStatus, type Totals } from './totals.js';

/** A run as the metrics see it: its bus and progress snapshots (a local `JobRun` or a `CombinedRun`). */
export interface WatchedRun {
  readonly plan: JobPlan;
  readonly bus: EventBus;
  /** Where batch timings come from when not from `bus` (a --threads run: its threads'). */
  readonly timings?: Pick<EventBus, 'onTiming'>;
  progress(): ProgressSnapshot | undefined;
  /** Secrets out of label values. */
  readonly redact: (text: string) => string;
}

/**
 * The metrics of one `sluice run` (any mode): the job's totals as its report gives them — the
 * progress snapshot while it runs, the summary once it ended — read when Prometheus scrapes,
 * so a run costs nothing between scrapes.
 */
export class RunFeed implements MetricsFeed {
  private status: RunStatus = 'running';
  private summary: RunSummary | undefined;
  private checkpointAt: number | undefined;
  private latest: Totals = emptyTotals();
  private readonly onError: ReadonlyMap<string, string>;
  readonly job: string;
  private readonly off: Array<() => void> = [];

  constructor(private readonly run: WatchedRun) {
    this.job = run.redact(run.plan.name);
    this.onError = onErrorOf(run.plan);
    this.off.push(
      run.bus.on((event) => {
        if (event.type === 'checkpoint') this.checkpointAt = Date.now();
        else if (event.type === 'end') {
          this.summary = event.summary;
          this.status = event.summary.status;
        }
      }),
    );
  }

  /** The run ended with `summary` (a combined run's bus may end after the caller knows). */
  end(summary: RunSummary): void {
    this.summary = summary;
    this.status = summary.status;
  }

  close(): void {
    for (const off of this.off.splice(0)) off();
  }

  readings(): Reading[] {
    const snapshot = this.summary ? undefined : this.run.progress();
    const at = this.summary?.steps.length ? this.summary : snapshot;
    // A run that failed before its pipeline existed has an empty summary: keep what was last seen.
    if (at) this.latest = totalsOf(at, this.onError);
    const checkpointAt = snapshot?.checkpoint?.at ?? this.checkpointAt;
    return [
      {
        job: this.job,
        totals: this.latest,
        status: this.status,
        batchesInFlight: this.summary ? 0 : (snapshot?.batchesInFlight ?? 0),
        ...(checkpointAt !== undefined ? { checkpointAt } : {}),
      },
    ];
  }
}
