import type { RunSummary } from '@sluice/core/internal';
import type { WatchedRun } from './run-feed.js';
import { addTotals, emptyTotals, onErrorOf, totalsOf, type MetricsFeed, type Reading, type Totals } from './totals.js';

/** How a partition attempt ended on this worker. */
export type PartitionOutcome = 'done' | 'failed' | 'interrupted' | 'returned' | 'refused';

/** One partition attempt: what it counted since it started (its checkpoint's totals are earlier attempts' work). */
class AttemptFeed {
  private baseline: Totals | undefined;
  private latest: Totals | undefined;
  private summary: RunSummary | undefined;
  checkpointAt: number | undefined;
  readonly job: string;
  private readonly onError: ReadonlyMap<string, string>;
  readonly off: () => void;

  constructor(readonly run: WatchedRun) {
    this.job = run.redact(run.plan.name);
    this.onError = onErrorOf(run.plan);
    this.off = run.bus.on((event) => {
      if (event.type === 'start') {
        const at = run.progress();
        this.baseline = at ? totalsOf(at, this.onError) : emptyTotals();
      } else if (event.type === 'checkpoint') this.checkpointAt = Date.now();
      else if (event.type === 'end') this.summary = event.summary;
    });
  }

  /** This attempt's own counts so far. */
  own(): Totals {
    const at = this.summary?.steps.length ? this.summary : this.summary ? undefined : this.run.progress();
    if (at) this.latest = totalsOf(at, this.onError);
    const own = emptyTotals();
    if (!this.baseline || !this.latest) return own;
    addTotals(own, this.latest);
    addTotals(own, this.baseline, -1);
    return own;
  }

  get inFlight(): number {
    return this.summary ? 0 : (this.run.progress()?.batchesInFlight ?? 0);
  }
}

/**
 * The metrics of `sluice worker`: each job's counts summed over the partition attempts this
 * worker ran (only their own work, so workers add up to the run), how attempts ended, and how
 * many run now.
 */
export class WorkerFeed implements MetricsFeed {
  /** Counts of finished attempts, by job. */
  private readonly finished = new Map<string, Totals>();
  private readonly running = new Set<AttemptFeed>();
  readonly outcomes = new Map<PartitionOutcome, number>();

  get busy(): number {
    return this.running.size;
  }

  /** Follows a partition attempt; call the returned function with how it ended. */
  attempt(run: WatchedRun): (outcome: PartitionOutcome) => void {
    const feed = new AttemptFeed(run);
    this.running.add(feed);
    let ended = false;
    return (outcome) => {
      if (ended) return;
      ended = true;
      feed.off();
      this.running.delete(feed);
      let totals = this.finished.get(feed.job);
      if (!totals) this.finished.set(feed.job, (totals = emptyTotals()));
      addTotals(totals, feed.own());
      this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    };
  }

  readings(): Reading[] {
    const jobs = new Map<string, { totals: Totals; inFlight: number; checkpointAt?: number }>();
    for (const [job, totals] of this.finished) {
      const copy = emptyTotals();
      addTotals(copy, totals);
      jobs.set(job, { totals: copy, inFlight: 0 });
    }
    for (const feed of this.running) {
      let entry = jobs.get(feed.job);
      if (!entry) jobs.set(feed.job, (entry = { totals: emptyTotals(), inFlight: 0 }));
      addTotals(entry.totals, feed.own());
      entry.inFlight += feed.inFlight;
      if (feed.checkpointAt !== undefined) entry.checkpointAt = Math.max(entry.checkpointAt ?? 0, feed.checkpointAt);
    }
    return [...jobs].map(([job, e]) => ({ job, totals: e.totals, batchesInFlight: e.inFlight, ...(e.checkpointAt !== undefined ? { checkpointAt: e.checkpointAt } : {}) }));
  }
}
