import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import type { EventBus } from '../events/bus.js';
import type { ProgressSnapshot, RunSummary } from '../events/types.js';
import type { JobPlan } from '../job/plan.js';
import type { RetryNotice } from '../plugin/types.js';
import { Attempts } from './attempts.js';
import { rowsIn, type Batch, type EnginePage } from './batch.js';
import { BatchCutter, DEFAULT_GROWTH, type BatchGrowth } from './batch-growth.js';
import { Checkpointer } from './checkpointer.js';
import type { Clock } from './clock.js';
import { RunCounters, emptyBatchCounts } from './counters.js';
import { RunControl, RunFailure, messageOf } from './failure.js';
import { faults } from './faults.js';
import { FailureRouter } from './failures.js';
import { headPositions, pagePositions } from './positions.js';
import { ProgressMeter } from './progress.js';
import { Semaphore } from './semaphore.js';
import { SinkStage } from './sink-stage.js';
import { snapshotOf, type RuntimeSink, type RuntimeSource, type RuntimeTransform } from './steps.js';
import { TransformStage } from './transform-stage.js';

export type { EnginePage } from './batch.js';
export { RunFailure, formatPosition, messageOf } from './failure.js';

export interface PipelineOptions {
  readonly plan: JobPlan;
  readonly source: RuntimeSource;
  readonly steps: RuntimeTransform[];
  readonly sinks: RuntimeSink[];
  readonly deadLetter: RuntimeSink;
  readonly store: CheckpointStore;
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly random: () => number;
  readonly redact: (text: string) => string;
  /** The run's abort: aborted on failure so in-flight attempts stop. */
  readonly abort: AbortController;
  /** Where to start; undefined for a fresh start. */
  readonly resume?: Checkpoint;
  readonly limit?: number;
  readonly dryRun: boolean;
  /** Save checkpoints (false for dry runs, `--limit` and replays). */
  readonly checkpointing: boolean;
  readonly deadLetterPath?: string;
  /** The source slice to read (distributed runs). */
  readonly partition?: unknown;
  /** Pages to run instead of reading the source (replay, job tests). */
  readonly input?: AsyncIterable<EnginePage>;
  /** The seq of the first batch when not resuming (replay numbers its batches after the checkpoint's). */
  readonly firstSeq?: number;
}

/**
 * Moves pages from the source through the transforms to the sinks: at most `batch.inFlight`
 * batches alive, sinks fed in source order, the checkpoint advanced over the contiguous prefix of
 * batches every sink (and the dead-letter sink) has finished. The stages live in their own files:
 * `transform-stage.ts`, `sink-stage.ts`, `failures.ts` (onError, dead letters, error budget),
 * `checkpointer.ts` (watermark and saves), `progress.ts`, `counters.ts`.
 */
export class Pipeline {
  private readonly plan: JobPlan;
  /** Records per page: the checkpoint's on a resume, so batches stay the same across runs. */
  private readonly batchSize: number;
  /** How pages merge into batches (undefined: a batch is a page); a resume keeps its checkpoint's. */
  private readonly growth: BatchGrowth | undefined;
  private readonly slots: Semaphore;
  private readonly control: RunControl;
  private readonly counters: RunCounters;
  private readonly failures: FailureRouter;
  private readonly transforms: TransformStage;
  private readonly sinkStage: SinkStage;
  private readonly checkpointer: Checkpointer;
  private readonly meter: ProgressMeter;
  private exhausted = false;
  private nextSeq: number;
  private inFlight = 0;

  constructor(private readonly o: PipelineOptions) {
    this.plan = o.plan;
    this.slots = new Semaphore(o.plan.batch.inFlight);
    this.batchSize = o.resume?.batchSize ?? o.plan.batch.size;
    this.growth = growthOf(o);
    const all = [o.source, ...o.steps, ...o.sinks];
    this.control = new RunControl(o.abort, o.bus, o.redact, o.checkpointing);
    this.counters = new RunCounters(o.resume, all);
    this.failures = new FailureRouter(o.plan, this.control, this.counters, o.bus, o.clock, o.redact);
    const attempts = new Attempts(this.counters, o.bus, o.clock, o.random, o.abort.signal, o.redact);
    this.transforms = new TransformStage(o.steps, this.control, this.counters, this.failures, attempts, o.clock);
    this.sinkStage = new SinkStage(o.sinks, o.deadLetter, this.control, this.counters, this.failures, attempts, o.clock, o.redact, (batch) => this.materialize(batch));
    this.nextSeq = o.resume ? o.resume.seq + 1 : (o.firstSeq ?? 0);
    this.checkpointer = new Checkpointer(
      o.plan,
      o.store,
      [...o.sinks, o.deadLetter],
      this.counters,
      this.control,
      o.bus,
      o.clock,
      this.batchSize,
      this.growth,
      o.checkpointing,
      o.resume ? { seq: o.resume.seq, cursor: o.resume.cursor, ...this.sinkStage.states() } : undefined,
    );
    this.meter = new ProgressMeter(o.plan.name, all, this.counters, o.clock);
  }

  /** A retry a plugin made itself: counted on its step now, committed with the next batch. */
  countRetry(stepId: string, retry: RetryNotice): void {
    const o = this.o;
    const step = [o.source, ...o.steps, ...o.sinks, o.deadLetter].find((s) => s.plan.id === stepId);
    this.counters.add(this.counters.loose, 'retries', 1);
    if (step) this.counters.addStep(this.counters.loose, step, 'retries', 1);
    o.bus.emit({
      type: 'retry',
      step: stepId,
      attempt: retry.attempt,
      delayMs: retry.delayMs,
      error: o.redact(retry.error === undefined ? 'retrying' : messageOf(retry.error)),
      ...(retry.position ? { position: retry.position } : {}),
    });
  }

  /** Stops reading; what is in flight finishes, the checkpoint is saved. */
  stop(reason: string): void {
    this.control.stop(reason);
  }

  async run(): Promise<RunSummary> {
    const o = this.o;
    o.bus.emit({
      type: 'start',
      job: this.plan.name,
      fingerprint: this.plan.fingerprint,
      resumed: o.resume !== undefined,
      cursor: o.resume?.cursor,
      counters: { ...this.counters.committed },
      dryRun: o.dryRun,
    });
    if (!o.input && o.source.instance.estimate) {
      o.source.instance
        .estimate(o.partition)
        .then((estimate) => {
          if (estimate) {
            this.meter.setEstimate(estimate);
            o.bus.emit({ type: 'estimate', ...estimate });
          }
        })
        .catch((error: Error) => o.bus.emit({ type: 'log', level: 'warn', message: o.redact(`estimate failed: ${error.message}`) }));
    }

    try {
      await this.readAll();
    } catch (error) {
      this.control.fail(error);
    }
    await this.checkpointer.settle();
    if (!this.control.failure && o.checkpointing && this.checkpointer.hasWatermark) {
      try {
        await this.checkpointer.save(this.exhausted && !this.control.stopReason);
      } catch (error) {
        this.control.fail(error);
      }
    }
    return this.summary();
  }

  /**
   * Reads pages while a batch slot is free, starting each batch's transforms at once; batches
   * commit one after another in source order. Resolves when the last batch has committed.
   */
  private async readAll(): Promise<void> {
    const o = this.o;
    const readStop = this.control.readStop.signal;
    let tail: Promise<void> = Promise.resolve();
    const pages =
      o.input ??
      o.source.instance.read({
        cursor: o.resume?.cursor,
        batchSize: this.batchSize,
        signal: readStop,
        ...(o.partition !== undefined ? { partition: o.partition } : {}),
        ...(rawFormats(o) ? { raw: rawFormats(o), ...(o.sinks[0]!.instance.raw!.cast === true ? { rawCast: true } : {}) } : {}),
      });
    let readSoFar = 0;
    const batches = new BatchCutter(pages[Symbol.asyncIterator](), this.batchSize, this.growth).batches(
      () => this.nextSeq,
      () => (o.limit === undefined ? undefined : o.limit - readSoFar),
      () => this.control.stopped,
    );
    const read = faults?.source(batches, { resumedAt: o.resume?.seq, firstSeq: this.nextSeq, read: this.counters.live.read, partition: o.partition }) ?? batches;
    const iterator = read[Symbol.asyncIterator]();
    try {
      for (;;) {
        await this.slots.acquire();
        if (this.control.stopped) {
          this.slots.release();
          break;
        }
        let next: IteratorResult<EnginePage>;
        try {
          next = await iterator.next();
        } catch (error) {
          this.slots.release();
          if (this.control.stopReason && readStop.aborted) break;
          throw this.sourceFailure(error);
        }
        if (next.done) {
          this.slots.release();
          // A source that ends because it was told to stop has not been read to its end.
          this.exhausted = !readStop.aborted;
          break;
        }
        let page = next.value;
        let reachedLimit = false;
        if (o.limit !== undefined) {
          const room = o.limit - readSoFar;
          if (page.records.length >= room) {
            page = { ...page, records: page.records.slice(0, room), positions: page.positions && headPositions(page.positions, room), entry: page.entry?.slice(0, room) };
            reachedLimit = true;
          }
        }
        readSoFar += page.records.length;
        const readAt = o.clock.now();
        const batch = this.admit(page);
        this.inFlight++;
        const stepsDone = this.transforms.run(batch);
        // Each sink takes the batch as soon as it is transformed and the sink is free for it…
        const written = this.sinkStage.submit(batch, stepsDone);
        // …while its rejection is handled in order, below, once the batches before it committed.
        written.catch(() => undefined);
        tail = tail
          .then(() => written)
          .then((states) => this.commit(batch, states, readAt))
          .catch((error: unknown) => this.control.fail(error))
          .finally(() => {
            this.inFlight--;
            this.slots.release();
          });
        if (reachedLimit) {
          this.stop(`--limit ${o.limit} reached`);
          break;
        }
      }
    } catch (error) {
      this.control.fail(error);
    } finally {
      if (!this.exhausted) await iterator.return?.().catch(() => undefined);
    }
    await tail;
  }

  /** Turns a source page into a batch, counting reads and routing unparseable records. */
  private admit(page: EnginePage): Batch {
    if (page.raw) {
      const seq = this.nextSeq++;
      const raw = page.raw;
      const batch: Batch = { seq, cursor: page.cursor, progress: page.progress, records: [], positions: [], raw, ...emptyBatchCounts(), dead: [] };
      // Counted as the records would be; `materialize` corrects it if the rows were not all records.
      this.counters.add(batch, 'read', raw.count);
      this.counters.addStep(batch, this.o.source, 'out', raw.count);
      this.meter.pageRead(page.progress);
      return batch;
    }
    const seq = this.nextSeq++;
    const records = page.records;
    const positions = pagePositions(page.positions, seq, records.length);
    const batch: Batch = { seq, cursor: page.cursor, progress: page.progress, records, positions, entry: page.entry, ...emptyBatchCounts(), dead: [] };
    const errors = page.errors ?? [];
    this.counters.add(batch, 'read', records.length + errors.length);
    // Through the batch, so the source's count is committed (and resumed) with the batch.
    this.counters.addStep(batch, this.o.source, 'out', records.length);
    this.meter.pageRead(page.progress);
    for (const error of errors) {
      this.failures.recordFailed(this.o.source, batch, error.error, 1, error.position ?? { batch: seq }, undefined, error.raw);
    }
    return batch;
  }

  /**
   * Makes a raw batch's records (the sink did not take it raw, or its raw write failed): the
   * source's page of the same rows replaces the raw page, its counts correct the ones `admit`
   * counted, and its record errors go to the source's onError as on any page.
   */
  private async materialize(batch: Batch): Promise<void> {
    const raw = batch.raw;
    if (!raw) return;
    const page = await raw.materialize();
    const records = page.records;
    const errors = page.errors ?? [];
    batch.raw = undefined;
    batch.records = records;
    batch.positions = pagePositions(page.positions, batch.seq, records.length);
    this.counters.add(batch, 'read', records.length + errors.length - raw.count);
    this.counters.addStep(batch, this.o.source, 'out', records.length - raw.count);
    for (const error of errors) {
      this.failures.recordFailed(this.o.source, batch, error.error, 1, error.position ?? { batch: batch.seq }, undefined, error.raw);
    }
  }

  /** Writes a finished batch's dead letters, then folds its counts in and moves the watermark (batches in order). */
  private async commit(batch: Batch, sinks: Record<string, unknown> | undefined, readAt: number): Promise<void> {
    if (!sinks || this.control.failure) return;
    const deadLetter = await this.sinkStage.writeDeadLetters(batch);
    if (this.control.failure) return;
    this.counters.commit(batch);
    this.failures.checkPercentBudget(false);
    this.checkpointer.advance(batch.seq, batch.cursor, { sinks, deadLetter });
    if (this.o.bus.timed) this.o.bus.emitTiming({ seq: batch.seq, records: rowsIn(batch), startedAt: readAt, ms: this.o.clock.now() - readAt });
  }

  private sourceFailure(error: unknown): RunFailure {
    return new RunFailure(`source '${this.o.source.plan.id}' failed: ${this.o.redact(messageOf(error))}`, { cause: error });
  }

  progress(): ProgressSnapshot {
    return this.meter.snapshot({ checkpoint: this.checkpointer.last, batchesInFlight: this.inFlight });
  }

  private summary(): RunSummary {
    const { failure, stopReason } = this.control;
    if (!failure && this.exhausted) this.failures.checkPercentBudget(true);
    const failed = this.control.failure;
    const status = failed ? 'failed' : stopReason && !this.exhausted && !stopReason.startsWith('--limit') ? 'interrupted' : 'done';
    const now = this.o.clock.now();
    const live = this.counters.live;
    const last = this.checkpointer.last;
    return {
      job: this.plan.name,
      status,
      ...(failed ? { error: failed.message } : status === 'interrupted' ? { error: stopReason } : {}),
      durationMs: now - this.meter.startedAt,
      counters: { ...live },
      thisRun: { ...this.counters.thisRun },
      steps: [this.o.source, ...this.o.steps, ...this.o.sinks].map((s) => snapshotOf(s, now)),
      // A dry run writes no dead letters: name no file.
      ...(this.o.deadLetterPath && live.deadLettered > 0 && !this.o.dryRun ? { deadLetterPath: this.o.deadLetterPath } : {}),
      ...(last ? { checkpoint: { seq: last.seq, cursor: last.cursor } } : {}),
      dryRun: this.o.dryRun,
      resumed: this.o.resume !== undefined,
    };
  }

  /** The failure that ended the run, if any. */
  get error(): RunFailure | undefined {
    return this.control.failure;
  }
}

/** Read in one place: `SLUICE_RAW_PAGES=0` turns raw pages off (a debugging aid, see docs/plugins.md). */
const rawPagesOff = process.env.SLUICE_RAW_PAGES === '0';

/**
 * The raw formats to ask the source for (`ReadOptions.raw`), or undefined: only when the run moves
 * the source's rows 1:1 into its one sink, which declares them — no transform steps, one sink with
 * no `when:`, no `--limit`, not a replay or job test, not a dry run.
 */
function rawFormats(o: PipelineOptions): readonly string[] | undefined {
  if (rawPagesOff || o.input || o.dryRun || o.limit !== undefined || o.steps.length > 0 || o.sinks.length !== 1) return undefined;
  const sink = o.sinks[0]!;
  const formats = sink.instance.raw?.formats;
  return !sink.when && formats && formats.length > 0 ? formats : undefined;
}

/**
 * Batches grow (pages merged, see batch-growth.ts) when the job sets no `batch.size`, every sink
 * writes in bulk (`SinkInstance.bulk`: a commit per batch, so fewer batches are faster) and every
 * step works through a batch at once: no rate limit, transforms that take whole batches. A step that
 * calls out per record (an http enrich, a rate-limited sink) keeps batches of one page, so a stop
 * still waits for at most `inFlight` pages of its calls. A resume cuts batches as its checkpoint's
 * run did; replays and job tests bring their own pages.
 */
function growthOf(o: PipelineOptions): BatchGrowth | undefined {
  if (o.input) return undefined;
  if (o.resume) return o.resume.batchGrowth;
  if (!o.plan.batch.grow) return undefined;
  const wholeBatches = o.steps.every((s) => s.instance.processBatch !== undefined && !s.throttle.limited) && o.sinks.every((s) => s.instance.bulk === true && !s.throttle.limited);
  return wholeBatches ? DEFAULT_GROWTH : undefined;
}
