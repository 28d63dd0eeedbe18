import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { isRetryable, retryAfterOf } from '../errors/index.js';
import type { EventBus } from '../events/bus.js';
import {
  emptyJobCounters,
  type DeadLetterEntry,
  type JobCounters,
  type ProgressSnapshot,
  type RunSummary,
  type StepCounters,
} from '../events/types.js';
import type { JobPlan } from '../job/plan.js';
import type {
  RecordPosition,
  SluiceRecord,
  SourcePage,
  TransformResult,
  WriteResult,
} from '../plugin/types.js';
import { backoffDelay } from './backoff.js';
import type { Clock } from './clock.js';
import { Semaphore } from './semaphore.js';
import { AttemptInfo, snapshotOf, type RuntimeSink, type RuntimeSource, type RuntimeTransform } from './steps.js';

/** A page of the source on its way through the steps. */
interface Batch {
  readonly seq: number;
  readonly cursor: unknown;
  readonly progress?: number;
  records: SluiceRecord[];
  positions: RecordPosition[];
  /** Replay: the transform index each record enters at. */
  entry?: number[];
  /** Counts this batch adds to the checkpoint once it is committed. */
  readonly counts: JobCounters;
  readonly stepCounts: Map<string, StepCounters>;
  readonly dead: DeadLetterEntry[];
}

interface Watermark {
  readonly seq: number;
  readonly cursor: unknown;
  readonly sinks: Record<string, unknown>;
  readonly deadLetter: unknown;
}

/** A page as the engine reads it: a source page, plus the replay entry points. */
export type EnginePage = SourcePage & { readonly entry?: number[] };

const PASS = Symbol('pass');
const FAILED = Symbol('failed');

/** A fatal error of a run, said in one line a user can act on. */
export class RunFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunFailure';
  }
}

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
}

/**
 * Moves pages from the source through the transforms to the sinks: at most `batch.inFlight`
 * batches alive, sinks fed in source order, the checkpoint advanced over the contiguous prefix of
 * batches every sink (and the dead-letter sink) has finished.
 */
export class Pipeline {
  private readonly plan: JobPlan;
  /** Records per page: the checkpoint's on a resume, so batches stay the same across runs. */
  private readonly batchSize: number;
  private readonly slots: Semaphore;
  private readonly readStop = new AbortController();
  private failure: RunFailure | undefined;
  private stopReason: string | undefined;
  private exhausted = false;

  /** Totals for the whole job, committed up to the watermark (what a checkpoint holds). */
  private readonly committed: JobCounters;
  private readonly committedSteps: Map<string, StepCounters>;
  /** Live totals, including batches still in flight. */
  private readonly live: JobCounters;
  private readonly thisRun: JobCounters = emptyJobCounters();
  /**
   * The last batch every sink finished, with the sinks' states right after it: a checkpoint saved
   * while the next batch is being written must not pair this cursor with a later sink state.
   */
  private watermark: Watermark | undefined;
  private lastCheckpoint: { seq: number; cursor: unknown; at: number } | undefined;
  private nextSeq: number;
  private inFlight = 0;
  private progressDone = 0;
  private estimate: { total: number; unit: 'records' | 'bytes' } | undefined;
  private readonly startedAt: number;
  private readonly readMeter = { last: 0, at: 0, rate: 0 };

  private checkpointWanted = false;
  private checkpointLoop: Promise<void> | undefined;

  constructor(private readonly o: PipelineOptions) {
    this.plan = o.plan;
    this.slots = new Semaphore(o.plan.batch.inFlight);
    this.batchSize = o.resume?.batchSize ?? o.plan.batch.size;
    this.committed = { ...emptyJobCounters(), ...(o.resume?.counters ?? {}) };
    this.live = { ...this.committed };
    this.committedSteps = new Map();
    for (const step of [o.source, ...o.steps, ...o.sinks]) {
      const saved = o.resume?.steps?.[step.plan.id];
      if (saved) Object.assign(step.counters, saved);
      this.committedSteps.set(step.plan.id, { ...step.counters });
    }
    this.nextSeq = o.resume ? o.resume.seq + 1 : 0;
    this.watermark = o.resume ? { seq: o.resume.seq, cursor: o.resume.cursor, ...this.sinkStates() } : undefined;
    this.startedAt = o.clock.now();
  }

  /** Stops reading; what is in flight finishes, the checkpoint is saved. */
  stop(reason: string): void {
    if (this.stopReason || this.failure) return;
    this.stopReason = reason;
    this.o.bus.emit({ type: 'stopping', reason });
    this.readStop.abort(new Error(reason));
  }

  async run(): Promise<RunSummary> {
    const o = this.o;
    o.bus.emit({
      type: 'start',
      job: this.plan.name,
      fingerprint: this.plan.fingerprint,
      resumed: o.resume !== undefined,
      cursor: o.resume?.cursor,
      counters: { ...this.committed },
      dryRun: o.dryRun,
    });
    if (!o.input && o.source.instance.estimate) {
      o.source.instance
        .estimate()
        .then((estimate) => {
          if (estimate) {
            this.estimate = estimate;
            o.bus.emit({ type: 'estimate', ...estimate });
          }
        })
        .catch((error: Error) => o.bus.emit({ type: 'log', level: 'warn', message: o.redact(`estimate failed: ${error.message}`) }));
    }

    let tail: Promise<void> = Promise.resolve();
    try {
      const pages =
        o.input ??
        o.source.instance.read({
          cursor: o.resume?.cursor,
          batchSize: this.batchSize,
          signal: this.readStop.signal,
          ...(o.partition !== undefined ? { partition: o.partition } : {}),
        });
      const iterator = pages[Symbol.asyncIterator]();
      let readSoFar = 0;
      try {
        for (;;) {
          await this.slots.acquire();
          if (this.stopped) {
            this.slots.release();
            break;
          }
          let next: IteratorResult<EnginePage>;
          try {
            next = await iterator.next();
          } catch (error) {
            this.slots.release();
            if (this.stopReason && this.readStop.signal.aborted) break;
            throw this.sourceFailure(error);
          }
          if (next.done) {
            this.slots.release();
            // A source that ends because it was told to stop has not been read to its end.
            this.exhausted = !this.readStop.signal.aborted;
            break;
          }
          let page = next.value;
          let reachedLimit = false;
          if (o.limit !== undefined) {
            const room = o.limit - readSoFar;
            if (page.records.length >= room) {
              page = { ...page, records: page.records.slice(0, room), positions: page.positions?.slice(0, room), entry: page.entry?.slice(0, room) };
              reachedLimit = true;
            }
          }
          readSoFar += page.records.length;
          const batch = this.admit(page);
          this.inFlight++;
          const stepsDone = this.runSteps(batch);
          tail = tail
            .then(() => stepsDone)
            .then(() => this.commit(batch))
            .catch((error: unknown) => this.fail(error))
            .finally(() => {
              this.inFlight--;
              this.slots.release();
            });
          if (reachedLimit) {
            this.stop(`--limit ${o.limit} reached`);
            break;
          }
        }
      } finally {
        if (!this.exhausted) await iterator.return?.().catch(() => undefined);
      }
    } catch (error) {
      this.fail(error);
    }
    await tail;
    await this.checkpointLoop;
    if (!this.failure && o.checkpointing && this.watermark) {
      try {
        await this.saveCheckpoint(this.exhausted && !this.stopReason);
      } catch (error) {
        this.fail(error);
      }
    }
    return this.summary();
  }

  private get stopped(): boolean {
    return this.stopReason !== undefined || this.failure !== undefined;
  }

  /** Turns a source page into a batch, counting reads and routing unparseable records. */
  private admit(page: EnginePage): Batch {
    const seq = this.nextSeq++;
    const records = page.records;
    const positions = page.positions ?? records.map((_, index) => ({ batch: seq, index }));
    const batch: Batch = {
      seq,
      cursor: page.cursor,
      progress: page.progress,
      records,
      positions,
      entry: page.entry,
      counts: emptyJobCounters(),
      stepCounts: new Map(),
      dead: [],
    };
    const errors = page.errors ?? [];
    this.add(batch, 'read', records.length + errors.length);
    // Through the batch, so the source's count is committed (and resumed) with the batch.
    this.addStep(batch, this.o.source.plan.id, this.o.source.counters, 'out', records.length);
    if (page.progress !== undefined) this.progressDone = page.progress;
    for (const error of errors) {
      this.recordFailed(this.o.source, batch, error.error, 1, error.position ?? { batch: seq }, undefined, error.raw);
    }
    return batch;
  }

  private add(batch: Batch, key: keyof JobCounters, n: number): void {
    if (n === 0) return;
    batch.counts[key] += n;
    this.live[key] += n;
    this.thisRun[key] += n;
  }

  private addStep(batch: Batch, id: string, counters: StepCounters, key: keyof StepCounters, n: number): void {
    if (n === 0) return;
    counters[key] += n;
    let pending = batch.stepCounts.get(id);
    if (!pending) batch.stepCounts.set(id, (pending = { in: 0, out: 0, filtered: 0, failed: 0, retries: 0 }));
    pending[key] += n;
  }

  private async runSteps(batch: Batch): Promise<void> {
    for (const step of this.o.steps) {
      if (this.failure) return;
      await this.runTransform(step, batch);
    }
  }

  /** One transform over one batch: synchronous results take a fast path with no promise per record. */
  private async runTransform(step: RuntimeTransform, batch: Batch): Promise<void> {
    const { records, positions, entry } = batch;
    const n = records.length;
    const results: Array<TransformResult | typeof PASS | typeof FAILED> = new Array(n);
    const signal = this.o.abort.signal;
    const started = this.o.clock.now();
    let pending: Promise<void>[] | undefined;
    let syncCount = 0;
    for (let i = 0; i < n; i++) {
      // The run is failing (a record with onError: fail, the error budget): start no more calls.
      if (signal.aborted) break;
      const record = records[i]!;
      if (entry && entry[i]! > step.index) {
        results[i] = PASS;
        continue;
      }
      if (step.when) {
        let matches: unknown;
        try {
          matches = step.when.evaluate(record);
        } catch (error) {
          results[i] = FAILED;
          this.recordFailed(step, batch, new Error(`when: ${(error as Error).message}`, { cause: error }), 1, positions[i]!, record);
          continue;
        }
        if (!matches) {
          results[i] = PASS;
          continue;
        }
      }
      if (!step.throttle.limited && step.sem.tryAcquire()) {
        const info = new AttemptInfo(positions[i]!, 1, signal);
        let result: TransformResult | Promise<TransformResult>;
        try {
          result = step.instance.process(record, info);
        } catch (error) {
          step.sem.release();
          (pending ??= []).push(this.retryRecord(step, batch, i, results, error, 2));
          continue;
        }
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (pending ??= []).push(this.settleAttempt(step, batch, i, results, result as Promise<TransformResult>, info, started));
        } else {
          step.sem.release();
          results[i] = result as TransformResult;
          syncCount++;
        }
      } else {
        (pending ??= []).push(this.retryRecord(step, batch, i, results, undefined, 1));
      }
    }
    if (syncCount > 0) step.latency.add((this.o.clock.now() - started) / syncCount);
    if (pending) await Promise.all(pending);
    // A failed run commits nothing more; what this batch did is not counted.
    if (signal.aborted) return;
    this.collect(step, batch, results);
  }

  /** Awaits an asynchronous first attempt under the step's timeout; failures go to `retryRecord`. */
  private async settleAttempt(
    step: RuntimeTransform,
    batch: Batch,
    i: number,
    results: unknown[],
    promise: Promise<TransformResult>,
    info: AttemptInfo,
    started: number,
  ): Promise<void> {
    try {
      results[i] = await this.withTimeout(promise, step.plan.timeoutMs, info);
      step.latency.add(this.o.clock.now() - started);
    } catch (error) {
      step.sem.release();
      return this.retryRecord(step, batch, i, results, error, 2);
    }
    step.sem.release();
  }

  /** Attempts `from`…`attempts` of one record, with backoff between them; then onError. */
  private async retryRecord(
    step: RuntimeTransform,
    batch: Batch,
    i: number,
    results: unknown[],
    lastError: unknown,
    from: number,
  ): Promise<void> {
    const record = batch.records[i]!;
    const position = batch.positions[i]!;
    const policy = step.plan.retry;
    const signal = this.o.abort.signal;
    let error = lastError;
    let attempted = from - 1;
    try {
      for (let attempt = from; attempt <= policy.attempts; attempt++) {
        if (attempt > 1) {
          if (!isRetryable(error)) break;
          await this.backoff(step, batch, attempt - 1, error, position);
        }
        attempted = attempt;
        // The slot first, then the throttle: a Retry-After pause set while this record waited
        // for a slot must still hold it back, and a rate token is spent only when the call starts.
        await step.sem.acquire();
        try {
          await step.throttle.take(signal);
          signal.throwIfAborted();
        } catch (aborted) {
          step.sem.release();
          throw aborted;
        }
        const info = new AttemptInfo(position, attempt, signal);
        const started = this.o.clock.now();
        try {
          results[i] = await this.withTimeout(step.instance.process(record, info), step.plan.timeoutMs, info);
          step.latency.add(this.o.clock.now() - started);
          return;
        } catch (caught) {
          error = caught;
        } finally {
          step.sem.release();
        }
      }
    } catch (aborted) {
      // The run is failing or stopping hard; this record's fate is the run's.
      results[i] = FAILED;
      if (!this.failure) this.fail(aborted);
      return;
    }
    results[i] = FAILED;
    this.recordFailed(step, batch, error, attempted, position, record);
  }

  private async backoff(
    step: RuntimeTransform | RuntimeSink,
    batch: Batch,
    retry: number,
    error: unknown,
    position?: RecordPosition,
  ): Promise<void> {
    const retryAfter = retryAfterOf(error);
    const delay = backoffDelay(step.plan.retry, retry, this.o.random, retryAfter);
    // A server asking us to wait asks the whole step, not only this call.
    if (retryAfter !== undefined) step.throttle.pauseFor(delay);
    this.add(batch, 'retries', 1);
    this.addStep(batch, step.plan.id, step.counters, 'retries', 1);
    this.o.bus.emit({
      type: 'retry',
      step: step.plan.id,
      attempt: retry + 1,
      delayMs: delay,
      error: this.o.redact(messageOf(error)),
      ...(position ? { position } : {}),
    });
    step.retrying++;
    try {
      await this.o.clock.sleep(delay, this.o.abort.signal);
    } finally {
      step.retrying--;
    }
  }

  private withTimeout<T>(value: T | Promise<T>, ms: number, info: AttemptInfo): Promise<T> {
    if (!(value && typeof (value as Promise<T>).then === 'function')) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new Error(`timed out after ${ms}ms`);
        (error as Error & { code: string }).code = 'ETIMEDOUT';
        info.abort(error);
        reject(error);
      }, ms);
      (value as Promise<T>).then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** Gathers a transform's results into the batch's next records, counting each door. */
  private collect(step: RuntimeTransform, batch: Batch, results: unknown[]): void {
    const { records, positions, entry } = batch;
    const outRecords: SluiceRecord[] = [];
    const outPositions: RecordPosition[] = [];
    const outEntry: number[] | undefined = entry ? [] : undefined;
    let processed = 0;
    let out = 0;
    let filtered = 0;
    let produced = 0;
    for (let i = 0; i < results.length; i++) {
      const result = results[i];
      if (result === FAILED) {
        processed++;
        continue;
      }
      if (result === PASS) {
        outRecords.push(records[i]!);
        outPositions.push(positions[i]!);
        outEntry?.push(entry![i]!);
        continue;
      }
      processed++;
      if (result === null || result === undefined) {
        filtered++;
      } else if (Array.isArray(result)) {
        if (result.length === 0) filtered++;
        else produced += result.length - 1;
        for (const r of result) {
          outRecords.push(r as SluiceRecord);
          outPositions.push(positions[i]!);
          outEntry?.push(entry![i]!);
        }
        out += result.length;
      } else {
        outRecords.push(result as SluiceRecord);
        outPositions.push(positions[i]!);
        outEntry?.push(entry![i]!);
        out++;
      }
    }
    batch.records = outRecords;
    batch.positions = outPositions;
    batch.entry = outEntry;
    this.addStep(batch, step.plan.id, step.counters, 'in', processed);
    this.addStep(batch, step.plan.id, step.counters, 'out', out);
    this.addStep(batch, step.plan.id, step.counters, 'filtered', filtered);
    this.add(batch, 'filtered', filtered);
    this.add(batch, 'produced', produced);
  }

  /** A record that failed for good: fail the run, skip it, or dead-letter it, as the step says. */
  private recordFailed(
    step: RuntimeSource | RuntimeTransform | RuntimeSink,
    batch: Batch,
    error: unknown,
    attempts: number,
    position: RecordPosition,
    record?: SluiceRecord,
    raw?: string,
    /**
     * False when another sink already failed this record (fan-out): the failure still gets its
     * dead letter and the step's count, but the record leaves the job through one door only.
     */
    countRecord = true,
  ): void {
    const message = this.o.redact(messageOf(error));
    const plan = step.plan;
    this.addStep(batch, plan.id, step.counters, 'failed', 1);
    // A position can hold a secret (a file path from ${env:}): it is redacted like the message.
    const text = JSON.stringify(position);
    const redacted = this.o.redact(text);
    if (redacted !== text) position = JSON.parse(redacted) as RecordPosition;
    if (plan.onError === 'fail') {
      this.fail(new RunFailure(`step '${plan.id}' failed at ${formatPosition(position)}: ${message}`, { cause: error }));
      return;
    }
    if (plan.onError === 'skip') {
      if (countRecord) this.add(batch, 'skipped', 1);
      this.o.bus.emit({ type: 'skip', step: plan.id, error: message, position });
    } else {
      if (countRecord) this.add(batch, 'deadLettered', 1);
      batch.dead.push({
        job: this.plan.name,
        step: plan.id,
        kind: plan.kind,
        stepIndex: step.index,
        error: message,
        attempts,
        position,
        batch: batch.seq,
        at: new Date(this.o.clock.now()).toISOString(),
        ...(record !== undefined ? { record } : {}),
        ...(raw !== undefined ? { raw: raw.length > 10_000 ? `${raw.slice(0, 10_000)}…` : raw } : {}),
      });
      this.o.bus.emit({ type: 'deadLetter', step: plan.id, error: message, position });
    }
    const budget = this.plan.maxFailed;
    if (budget && 'count' in budget) {
      const failed = this.live.deadLettered + this.live.skipped;
      if (failed > budget.count) {
        this.fail(new RunFailure(`error budget spent: ${failed} records failed (errors.maxFailed: ${budget.count}); last: ${message}`));
      }
    }
  }

  private checkPercentBudget(final: boolean): void {
    const budget = this.plan.maxFailed;
    if (!budget || !('percent' in budget) || this.failure) return;
    const read = this.live.read;
    if (read === 0 || (!final && read < 100)) return;
    const failed = this.live.deadLettered + this.live.skipped;
    if ((failed / read) * 100 > budget.percent) {
      this.fail(
        new RunFailure(
          `error budget spent: ${failed} of ${read} records failed (${((failed / read) * 100).toFixed(1)}% > errors.maxFailed: ${budget.percent}%)`,
        ),
      );
    }
  }

  /** Writes a batch to every sink, then its dead letters, then advances the watermark. */
  private async commit(batch: Batch): Promise<void> {
    if (this.failure) return;
    const failedIndices = new Set<number>();
    if (batch.records.length > 0) {
      await Promise.all(this.o.sinks.map((sink) => this.writeSink(sink, batch, failedIndices)));
    }
    if (this.failure) return;
    this.add(batch, 'written', batch.records.length - failedIndices.size);
    if (batch.dead.length > 0) {
      const dl = this.o.deadLetter;
      const records = batch.dead as unknown as SluiceRecord[];
      try {
        await this.withTimeout(
          dl.instance.write(records, { seq: batch.seq, positions: batch.dead.map((d) => d.position), attempt: 1, signal: this.o.abort.signal }),
          dl.plan.timeoutMs,
          new AttemptInfo({}, 1, this.o.abort.signal),
        );
        dl.state = dl.instance.state?.();
      } catch (error) {
        throw new RunFailure(`cannot write dead letters: ${this.o.redact(messageOf(error))}`, { cause: error });
      }
    }
    if (this.failure) return;
    // Everything of this batch is written: fold its counts into the checkpoint's.
    this.watermark = { seq: batch.seq, cursor: batch.cursor, ...this.sinkStates() };
    for (const key of Object.keys(batch.counts) as Array<keyof JobCounters>) this.committed[key] += batch.counts[key];
    for (const [id, counts] of batch.stepCounts) {
      const total = this.committedSteps.get(id)!;
      for (const key of Object.keys(counts) as Array<keyof StepCounters>) total[key] += counts[key];
    }
    this.checkPercentBudget(false);
    this.requestCheckpoint();
  }

  /** One sink, one batch: retries with backoff, then halves the batch to isolate records it refuses. */
  private async writeSink(sink: RuntimeSink, batch: Batch, failedIndices: Set<number>): Promise<void> {
    let indices: number[];
    if (sink.when) {
      indices = [];
      for (let i = 0; i < batch.records.length; i++) {
        let matches: unknown;
        try {
          matches = sink.when.evaluate(batch.records[i]!);
        } catch (error) {
          this.recordFailed(sink, batch, new Error(`when: ${(error as Error).message}`), 1, batch.positions[i]!, batch.records[i], undefined, firstFailure(failedIndices, i));
          continue;
        }
        if (matches) indices.push(i);
      }
    } else {
      indices = batch.records.map((_, i) => i);
    }
    this.addStep(batch, sink.plan.id, sink.counters, 'in', indices.length);
    await this.writeIndices(sink, batch, indices, failedIndices);
    sink.state = sink.instance.state?.();
  }

  private async writeIndices(sink: RuntimeSink, batch: Batch, indices: number[], failedIndices: Set<number>): Promise<void> {
    if (indices.length === 0 || this.failure) return;
    const records = indices.length === batch.records.length ? batch.records : indices.map((i) => batch.records[i]!);
    const positions = indices.length === batch.positions.length ? batch.positions : indices.map((i) => batch.positions[i]!);
    const policy = sink.plan.retry;
    let error: unknown;
    let attempted = 0;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (attempt > 1) {
        if (!isRetryable(error)) break;
        await this.backoff(sink, batch, attempt - 1, error);
      }
      attempted = attempt;
      await sink.throttle.take(this.o.abort.signal);
      await sink.sem.acquire();
      const info = new AttemptInfo({}, attempt, this.o.abort.signal);
      const started = this.o.clock.now();
      try {
        const result = await this.withTimeout(
          sink.instance.write(records, { seq: batch.seq, positions, attempt, signal: info.signal }),
          sink.plan.timeoutMs,
          info,
        );
        sink.latency.add(this.o.clock.now() - started);
        const rejected = (result as WriteResult | undefined)?.rejected ?? [];
        for (const { index, error: why } of rejected) {
          this.recordFailed(sink, batch, why, attempt, positions[index]!, records[index], undefined, firstFailure(failedIndices, indices[index]!));
        }
        this.addStep(batch, sink.plan.id, sink.counters, 'out', records.length - rejected.length);
        return;
      } catch (caught) {
        error = caught;
      } finally {
        sink.sem.release();
      }
    }
    // A refusal of the data itself: split the batch until the bad records stand alone.
    if (!isRetryable(error) && indices.length > 1) {
      const half = Math.ceil(indices.length / 2);
      await this.writeIndices(sink, batch, indices.slice(0, half), failedIndices);
      await this.writeIndices(sink, batch, indices.slice(half), failedIndices);
      return;
    }
    for (const [k, i] of indices.entries()) {
      this.recordFailed(sink, batch, error, attempted, positions[k]!, records[k], undefined, firstFailure(failedIndices, i));
      if (this.failure) return;
    }
  }

  private requestCheckpoint(): void {
    if (!this.o.checkpointing) return;
    this.checkpointWanted = true;
    this.checkpointLoop ??= (async () => {
      try {
        while (this.checkpointWanted && !this.failure) {
          this.checkpointWanted = false;
          await this.saveCheckpoint(false);
        }
      } catch (error) {
        this.fail(error);
      } finally {
        this.checkpointLoop = undefined;
      }
    })();
  }

  /** Snapshot first, then make the sinks durable, then save: the snapshot never runs ahead of the data. */
  private async saveCheckpoint(done: boolean): Promise<void> {
    const watermark = this.watermark;
    if (!watermark) return;
    const steps: Record<string, StepCounters> = {};
    for (const [id, counts] of this.committedSteps) steps[id] = { ...counts };
    const checkpoint: Checkpoint = {
      version: 1,
      job: this.plan.name,
      fingerprint: this.plan.fingerprint,
      seq: watermark.seq,
      cursor: watermark.cursor,
      batchSize: this.batchSize,
      sinks: watermark.sinks,
      deadLetter: watermark.deadLetter,
      counters: { ...this.committed },
      steps,
      done,
      updatedAt: new Date(this.o.clock.now()).toISOString(),
    };
    await Promise.all([...this.o.sinks, this.o.deadLetter].map((s) => s.instance.flush?.()));
    await this.o.store.save(checkpoint);
    const again = this.lastCheckpoint?.seq === watermark.seq;
    this.lastCheckpoint = { seq: watermark.seq, cursor: watermark.cursor, at: this.o.clock.now() };
    // The final save only marks the last checkpoint done: one event per checkpointed batch.
    if (!again) this.o.bus.emit({ type: 'checkpoint', seq: watermark.seq, cursor: watermark.cursor, counters: checkpoint.counters });
  }

  private sinkStates(): Pick<Watermark, 'sinks' | 'deadLetter'> {
    const sinks: Record<string, unknown> = {};
    for (const sink of this.o.sinks) sinks[sink.plan.id] = sink.state;
    return { sinks, deadLetter: this.o.deadLetter.state };
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof RunFailure ? error : new RunFailure(this.o.redact(messageOf(error)), { cause: error });
    this.readStop.abort(this.failure);
    this.o.abort.abort(this.failure);
  }

  private sourceFailure(error: unknown): RunFailure {
    return new RunFailure(`source '${this.o.source.plan.id}' failed: ${this.o.redact(messageOf(error))}`, { cause: error });
  }

  progress(): ProgressSnapshot {
    const now = this.o.clock.now();
    const meter = this.readMeter;
    const dt = (now - meter.at) / 1000;
    if (meter.at === 0) Object.assign(meter, { at: now, last: this.live.read });
    else if (dt >= 0.25) {
      const instant = (this.live.read - meter.last) / dt;
      meter.rate = meter.rate === 0 ? instant : meter.rate + (1 - Math.exp(-dt / 5)) * (instant - meter.rate);
      Object.assign(meter, { at: now, last: this.live.read });
    }
    return {
      job: this.plan.name,
      elapsedMs: now - this.startedAt,
      counters: { ...this.live },
      steps: [this.o.source, ...this.o.steps, ...this.o.sinks].map((s) => snapshotOf(s, now)),
      progress: this.estimate
        ? { done: this.estimate.unit === 'records' ? this.live.read : this.progressDone, total: this.estimate.total, unit: this.estimate.unit }
        : { done: this.live.read, unit: 'records' },
      ...(this.lastCheckpoint ? { checkpoint: this.lastCheckpoint } : {}),
      batchesInFlight: this.inFlight,
      rate: meter.rate,
    };
  }

  private summary(): RunSummary {
    if (!this.failure && this.exhausted) this.checkPercentBudget(true);
    const status = this.failure ? 'failed' : this.stopReason && !this.exhausted && !this.stopReason.startsWith('--limit') ? 'interrupted' : 'done';
    const now = this.o.clock.now();
    return {
      job: this.plan.name,
      status,
      ...(this.failure ? { error: this.failure.message } : status === 'interrupted' ? { error: this.stopReason } : {}),
      durationMs: now - this.startedAt,
      counters: { ...this.live },
      thisRun: { ...this.thisRun },
      steps: [this.o.source, ...this.o.steps, ...this.o.sinks].map((s) => snapshotOf(s, now)),
      ...(this.o.deadLetterPath && this.live.deadLettered > 0 ? { deadLetterPath: this.o.deadLetterPath } : {}),
      ...(this.lastCheckpoint ? { checkpoint: { seq: this.lastCheckpoint.seq, cursor: this.lastCheckpoint.cursor } } : {}),
      dryRun: this.o.dryRun,
      resumed: this.o.resume !== undefined,
    };
  }

  /** The failure that ended the run, if any. */
  get error(): RunFailure | undefined {
    return this.failure;
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

export function formatPosition(position: RecordPosition): string {
  if (typeof position.file === 'string' && position.line !== undefined) return `${position.file}:${String(position.line)}`;
  const parts = Object.entries(position).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length ? parts.join(', ') : 'unknown position';
}

/** Marks record `index` of a batch as failed in some sink; true the first time (that failure counts the record). */
function firstFailure(failed: Set<number>, index: number): boolean {
  if (failed.has(index)) return false;
  failed.add(index);
  return true;
}
