import type { Counter, Gauge, Metric, Registry } from 'prom-client';
import type { EventBus } from '@sluice/core/internal';
import { CLI_VERSION } from '../version.js';
import { BatchDurations } from './batch-durations.js';
import { ProcessMetrics } from './process-metrics.js';
import { loadProm, type Prom } from './prom.js';
import type { MetricsFeed, Reading, RunStatus } from './totals.js';
import type { WorkerFeed } from './worker-feed.js';

const STATUSES: readonly RunStatus[] = ['running', 'done', 'failed', 'interrupted'];
/** Batch durations from a fast transform (~1 ms) to a slow sink's write with retries (minutes). */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

type Labels<K extends string> = Partial<Record<K, string>>;

/**
 * The Prometheus metrics of a sluice process (docs/operating.md lists them). Counts are read from
 * the feeds when scraped (`text()`), not counted as records pass, so a run pays for them only
 * per scrape; batch durations are counted from the bus's timing channel, once per batch and step,
 * into sluice's own numbers that the registry reads when scraped (batch-durations.ts).
 */
export class SluiceMetrics {
  private readonly feeds: MetricsFeed[] = [];
  private worker: WorkerFeed | undefined;
  /** The last value of each counter series: a scrape never shows a counter going down. */
  private readonly seen = new Map<string, number>();
  private readonly read: Counter<'job'>;
  private readonly written: Counter<'job' | 'sink'>;
  private readonly filtered: Counter<'job' | 'step'>;
  private readonly deadLettered: Counter<'job' | 'step'>;
  private readonly skipped: Counter<'job' | 'step'>;
  private readonly retries: Counter<'job' | 'step'>;
  private readonly waited: Counter<'job' | 'step'>;
  private readonly batchSeconds: BatchDurations;
  private readonly inFlight: Gauge<'job'>;
  private readonly checkpointAge: Gauge<'job'>;
  private readonly info: Gauge<'job' | 'version'>;
  private readonly status: Gauge<'job' | 'status'>;
  private readonly partitions: Counter<'outcome'>;
  private readonly busy: Gauge;
  /** The run's metrics alone: what a push sends. */
  readonly own: Registry;
  /** With Node's process metrics: what /metrics serves (merged at the first scrape). */
  private all: Registry | undefined;
  /** Node's default metrics: only where /metrics is served (they are not pushed). */
  private readonly process: ProcessMetrics | undefined;
  private readonly merge: (registries: Registry[]) => Registry;

  private constructor(prom: Prom, withProcess: boolean) {
    this.own = new prom.Registry();
    const registers = [this.own];
    const counter = <K extends string>(name: string, help: string, labelNames: K[]) => new prom.Counter<K>({ name, help, labelNames, registers });
    const gauge = <K extends string>(name: string, help: string, labelNames: K[]) => new prom.Gauge<K>({ name, help, labelNames, registers });
    this.read = counter('sluice_records_read_total', 'Records read from the source (the report\'s counters.read).', ['job']);
    this.written = counter('sluice_records_written_total', 'Records a sink accepted (its step row\'s out).', ['job', 'sink']);
    this.filtered = counter('sluice_records_filtered_total', 'Records a step filtered out.', ['job', 'step']);
    this.deadLettered = counter('sluice_records_dead_lettered_total', 'Records that failed at a step with onError: deadLetter.', ['job', 'step']);
    this.skipped = counter('sluice_records_skipped_total', 'Records that failed at a step with onError: skip.', ['job', 'step']);
    this.retries = counter('sluice_retries_total', 'Retries of a step (records; sinks: batch writes).', ['job', 'step']);
    this.waited = counter('sluice_rate_limit_wait_seconds_total', 'Time callers waited for a step\'s rateLimit or Retry-After pause, summed over callers.', ['job', 'step']);
    // Counted by sluice, read by the registry when scraped: nothing of prom-client's per batch (batch-durations.ts).
    this.batchSeconds = new BatchDurations(
      'sluice_batch_duration_seconds',
      'Time a batch spent in a step (a sink: its write, retries included); step="*": from read to commit.',
      BUCKETS,
    );
    this.own.registerMetric(this.batchSeconds as unknown as Metric);
    this.inFlight = gauge('sluice_batches_in_flight', 'Batches read and not yet committed.', ['job']);
    this.checkpointAge = gauge('sluice_checkpoint_age_seconds', 'Seconds since the latest checkpoint was saved (absent before the first).', ['job']);
    this.info = gauge('sluice_run_info', 'A job this process runs, with the sluice version (always 1).', ['job', 'version']);
    this.status = gauge('sluice_run_status', 'The run\'s state: 1 for the current one of running, done, failed, interrupted.', ['job', 'status']);
    // A worker's own metrics join the registry only in a worker.
    this.partitions = new prom.Counter({ name: 'sluice_worker_partitions_total', labelNames: ['outcome'], registers: [], help: 'Partition attempts this worker finished, by outcome (done, failed, interrupted, returned, refused).' });
    this.busy = new prom.Gauge({ name: 'sluice_worker_busy', help: 'Partitions this worker runs now.', registers: [] });
    this.process = withProcess ? new ProcessMetrics(prom) : undefined;
    this.merge = (registries) => prom.Registry.merge(registries);
  }

  /**
   * prom-client loads only when metrics are asked for (and only the parts used: prom.ts).
   * `processMetrics: false` (a push without /metrics): Node's default metrics are never built.
   */
  static async create(options: { processMetrics?: boolean } = {}): Promise<SluiceMetrics> {
    return new SluiceMetrics(loadProm(), options.processMetrics ?? true);
  }

  add(feed: MetricsFeed): void {
    this.feeds.push(feed);
  }

  addWorker(feed: WorkerFeed): void {
    this.worker = feed;
    this.feeds.push(feed);
    this.own.registerMetric(this.partitions);
    this.own.registerMetric(this.busy);
    // A merged registry holds the metrics of the moment it was made.
    this.all = undefined;
  }

  /** Observes each batch's time per step (and from read to commit) for `job`; returns the unsubscribe. */
  observe(bus: Pick<EventBus, 'onTiming'>, job: string, redact: (text: string) => string): () => void {
    return bus.onTiming(this.batchSeconds.listener(job, redact));
  }

  /** The exposition text: the feeds read now. `withProcess`: Node's default metrics too (where built). */
  async text(withProcess = true): Promise<string> {
    this.refresh();
    if (!withProcess || !this.process) return this.own.metrics();
    this.all ??= this.merge([this.own, ...this.process.all()]);
    return this.all.metrics();
  }

  get contentType(): string {
    return this.own.contentType;
  }

  private refresh(): void {
    const readings = this.feeds.flatMap((feed) => feed.readings());
    for (const metric of [this.read, this.written, this.filtered, this.deadLettered, this.skipped, this.retries, this.waited, this.inFlight, this.checkpointAge, this.info, this.status]) metric.reset();
    const now = Date.now();
    for (const r of readings) this.set(r, now);
    if (this.worker) {
      this.partitions.reset();
      for (const [outcome, n] of this.worker.outcomes) this.count(this.partitions, 'sluice_worker_partitions_total', { outcome }, n);
      this.busy.set(this.worker.busy);
    }
  }

  private set(r: Reading, now: number): void {
    const job = r.job;
    this.count(this.read, 'read', { job }, r.totals.read);
    for (const [id, s] of r.totals.steps) {
      const step = id;
      if (s.kind === 'sink') this.count(this.written, 'written', { job, sink: step }, s.out);
      if (s.kind === 'transform') this.count(this.filtered, 'filtered', { job, step }, s.filtered);
      this.count(this.deadLettered, 'deadLettered', { job, step }, s.deadLettered);
      this.count(this.skipped, 'skipped', { job, step }, s.skipped);
      this.count(this.retries, 'retries', { job, step }, s.retries);
      this.count(this.waited, 'waited', { job, step }, s.waitMs / 1000);
    }
    this.inFlight.set({ job }, r.batchesInFlight);
    if (r.checkpointAt !== undefined) this.checkpointAge.set({ job }, Math.max(0, (now - r.checkpointAt) / 1000));
    this.info.set({ job, version: CLI_VERSION }, 1);
    if (r.status) for (const status of STATUSES) this.status.set({ job, status }, status === r.status ? 1 : 0);
  }

  private count<K extends string>(metric: Counter<K>, name: string, labels: Labels<K>, value: number): void {
    const key = `${name}${JSON.stringify(labels)}`;
    const shown = Math.max(this.seen.get(key) ?? 0, value);
    this.seen.set(key, shown);
    metric.inc(labels, shown);
  }
}
