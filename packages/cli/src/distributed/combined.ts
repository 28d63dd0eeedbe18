import { EventBus, emptyJobCounters, type JobCounters, type JobPlan, type ProgressSnapshot, type RunSummary, type StepSnapshot } from '@sluice/core/internal';

/**
 * pending: queued, given back, or not started; running: a worker has it; done/failed/interrupted:
 * its run ended so; lost: its BullMQ job vanished (Redis lost the run's state).
 */
export type PartitionStatus = 'pending' | 'running' | 'done' | 'failed' | 'interrupted' | 'lost';

export interface PartitionState {
  readonly index: number;
  /** Its BullMQ job id. */
  readonly id: string;
  status: PartitionStatus;
  /** The worker that last reported on it. */
  worker?: string;
  snapshot?: ProgressSnapshot;
  /** The last attempt's summary, once one ended. */
  summary?: RunSummary;
  /** Counts when the first attempt this coordinator saw started: what came before is not this run's. */
  startCounters?: JobCounters;
  error?: string;
  /** Done before this coordinator started: none of it is this run's. */
  earlier?: boolean;
}

const FINAL: ReadonlySet<PartitionStatus> = new Set(['done', 'failed', 'interrupted', 'lost']);
export const isFinal = (part: PartitionState): boolean => FINAL.has(part.status);

const COUNTER_KEYS = Object.keys(emptyJobCounters()) as Array<keyof JobCounters>;

function add(into: JobCounters, from: Partial<JobCounters> | undefined, sign = 1): void {
  if (!from) return;
  for (const key of COUNTER_KEYS) into[key] += sign * (Number(from[key]) || 0);
}

/**
 * The partitions of one distributed run folded into what a local run shows: one event bus, one
 * progress snapshot (counters summed, steps summed by id, rates of the running partitions added
 * up) and one summary. The renderers of a local run draw it unchanged.
 */
export class CombinedRun {
  readonly bus = new EventBus();
  readonly parts: PartitionState[];
  readonly startedAt: number;
  /** The run continued from an earlier start (its plan was reused, or a partition resumed). */
  resumed = false;

  constructor(
    private readonly plan: JobPlan,
    ids: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.parts = ids.map((id, index) => ({ index, id, status: 'pending' }));
    this.startedAt = now();
  }

  get count(): number {
    return this.parts.length;
  }

  /** The counts and steps a partition stands at: its summary once it ended, else its last snapshot (or an earlier attempt's summary). */
  private latest(part: PartitionState): { counters?: JobCounters; steps?: readonly StepSnapshot[] } {
    const summary = part.summary?.steps.length ? part.summary : undefined;
    if (isFinal(part) && summary) return summary;
    return part.snapshot ?? summary ?? {};
  }

  counters(): JobCounters {
    const total = emptyJobCounters();
    for (const part of this.parts) add(total, this.latest(part).counters);
    return total;
  }

  /** This coordinator's share: what each partition did since the first attempt it saw began. */
  thisRun(): JobCounters {
    const total = emptyJobCounters();
    for (const part of this.parts) {
      if (part.earlier) continue;
      const latest = this.latest(part).counters;
      if (part.startCounters && latest) {
        const own = emptyJobCounters();
        add(own, latest);
        add(own, part.startCounters, -1);
        for (const key of COUNTER_KEYS) own[key] = Math.max(0, own[key]);
        add(total, own);
      } else add(total, part.summary?.thisRun);
    }
    return total;
  }

  steps(): StepSnapshot[] {
    const order = [this.plan.source, ...this.plan.steps, ...this.plan.sinks];
    const rows = new Map<string, { -readonly [K in keyof StepSnapshot]: StepSnapshot[K] }>(
      order.map((s) => [s.id, { id: s.id, kind: s.kind, use: s.use, in: 0, out: 0, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 0, p95Ms: undefined }]),
    );
    for (const part of this.parts) {
      const running = part.status === 'running';
      for (const step of this.latest(part).steps ?? []) {
        let row = rows.get(step.id);
        if (!row) rows.set(step.id, (row = { ...step, in: 0, out: 0, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 0, p95Ms: undefined }));
        row.in += step.in;
        row.out += step.out;
        row.filtered += step.filtered;
        row.failed += step.failed;
        row.retries += step.retries;
        row.waitMs = (row.waitMs ?? 0) + (step.waitMs ?? 0);
        if (running) {
          row.retrying += step.retrying;
          row.active += step.active;
          row.rate += step.rate;
        }
        // The slowest partition's tail is the one worth seeing.
        if (step.p95Ms !== undefined && step.p95Ms !== null) row.p95Ms = Math.max(row.p95Ms ?? 0, step.p95Ms);
      }
    }
    return [...rows.values()];
  }

  /** The progress snapshot of the whole run, for `RunWatch`. */
  progress(): ProgressSnapshot {
    const counters = this.counters();
    let rate = 0;
    let inFlight = 0;
    let done = 0;
    let total = 0;
    let unit: 'records' | 'bytes' | undefined;
    let known = true;
    for (const part of this.parts) {
      if (part.status === 'running') {
        rate += part.snapshot?.rate ?? 0;
        inFlight += part.snapshot?.batchesInFlight ?? 0;
      }
      const p = part.snapshot?.progress;
      if (!p || p.total === undefined || (unit !== undefined && p.unit !== unit)) {
        known = false;
        continue;
      }
      unit = p.unit;
      total += p.total;
      done += part.status === 'done' ? p.total : Math.min(p.done, p.total);
    }
    // Batches checkpointed over all partitions, and where the latest checkpoint of any of them stands.
    let batches = 0;
    let latest: { index: number; cursor: unknown; at: number } | undefined;
    for (const part of this.parts) {
      const cp = part.snapshot?.checkpoint;
      if (!cp) continue;
      batches += cp.seq + 1;
      if (!latest || cp.at > latest.at) latest = { index: part.index, cursor: cp.cursor, at: cp.at };
    }
    const checkpoint = latest
      ? {
          seq: batches - 1,
          cursor: { partition: latest.index, ...(latest.cursor && typeof latest.cursor === 'object' ? latest.cursor : { cursor: latest.cursor }) },
          at: latest.at,
        }
      : undefined;
    return {
      job: this.plan.name,
      elapsedMs: this.now() - this.startedAt,
      counters,
      steps: this.steps(),
      progress: known && unit ? { done, total, unit } : { done: counters.read, unit: 'records' },
      ...(checkpoint ? { checkpoint } : {}),
      batchesInFlight: inFlight,
      rate,
    };
  }

  /** The error budget (errors.maxFailed) over every partition's counts, when it is spent. */
  budgetSpent(final: boolean): string | undefined {
    const budget = this.plan.maxFailed;
    if (!budget) return undefined;
    const c = this.counters();
    const failed = c.deadLettered + c.skipped;
    if ('count' in budget) {
      return failed > budget.count ? `error budget spent: ${failed} records failed across the partitions (errors.maxFailed: ${budget.count})` : undefined;
    }
    if (c.read === 0 || (!final && c.read < 100)) return undefined;
    return (failed / c.read) * 100 > budget.percent
      ? `error budget spent: ${failed} of ${c.read} records failed across the partitions (${((failed / c.read) * 100).toFixed(1)}% > errors.maxFailed: ${budget.percent}%)`
      : undefined;
  }

  summary(status: RunSummary['status'], error?: string): RunSummary {
    return {
      job: this.plan.name,
      status,
      ...(error ? { error } : {}),
      durationMs: this.now() - this.startedAt,
      counters: this.counters(),
      thisRun: this.thisRun(),
      steps: this.steps(),
      dryRun: false,
      resumed: this.resumed || this.parts.some((p) => p.earlier || p.summary?.resumed),
    };
  }
}
