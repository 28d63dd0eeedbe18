import { isRetryable } from '../errors/index.js';
import type { SluiceRecord, TransformResult } from '../plugin/types.js';
import type { Attempts } from './attempts.js';
import type { Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import type { RunControl } from './failure.js';
import type { FailureRouter } from './failures.js';
import { batchInfo } from './plugin-info.js';
import { pickPositions } from './positions.js';
import { AttemptInfo, type RuntimeTransform } from './steps.js';

const PASS = Symbol('pass');
const FAILED = Symbol('failed');

/**
 * Runs a batch through the transforms, one step after another. Inside a step records run at once
 * up to its `concurrency`, each with its own retries, timeout and rate token; a synchronous result
 * takes a fast path with no promise per record.
 */
export class TransformStage {
  constructor(
    private readonly steps: readonly RuntimeTransform[],
    private readonly control: RunControl,
    private readonly counters: RunCounters,
    private readonly failures: FailureRouter,
    private readonly attempts: Attempts,
    private readonly clock: Clock,
  ) {}

  async run(batch: Batch): Promise<void> {
    for (const step of this.steps) {
      if (this.control.failure) return;
      const startedAt = this.clock.now();
      const records = batch.records.length;
      await this.runStep(step, batch);
      if (this.control.bus.timed) this.control.bus.emitTiming({ seq: batch.seq, step: step.plan.id, kind: 'transform', records, startedAt, ms: this.clock.now() - startedAt });
    }
  }

  private async runStep(step: RuntimeTransform, batch: Batch): Promise<void> {
    const { records, positions, entry } = batch;
    const n = records.length;
    const signal = this.control.abort.signal;
    const started = this.clock.now();
    if (step.instance.processBatch && !step.when && !entry && !step.throttle.limited && n > 0) {
      const whole = this.runBatch(step, batch, started);
      if (whole) {
        if (whole.pending) await Promise.all(whole.pending);
        if (signal.aborted) return;
        this.collect(step, batch, whole.results);
        return;
      }
    }
    const results: Array<TransformResult | typeof PASS | typeof FAILED> = new Array(n);
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
          this.failures.recordFailed(step, batch, new Error(`when: ${(error as Error).message}`, { cause: error }), 1, positions.at(i)!, record);
          continue;
        }
        if (!matches) {
          results[i] = PASS;
          continue;
        }
      }
      if (!step.throttle.limited && step.sem.tryAcquire()) {
        const info = new AttemptInfo(positions, i, 1, signal);
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
    if (syncCount > 0) step.latency.add((this.clock.now() - started) / syncCount);
    if (pending) await Promise.all(pending);
    // A failed run commits nothing more; what this batch did is not counted.
    if (signal.aborted) return;
    this.collect(step, batch, results);
  }

  /**
   * The whole batch in one `processBatch` call; the records it reports failed are retried (or
   * routed to onError) one by one. Undefined when the call itself threw: the caller goes record by
   * record, so each record meets its own fate.
   */
  private runBatch(step: RuntimeTransform, batch: Batch, started: number): { results: unknown[]; pending?: Promise<void>[] } | undefined {
    let outcome;
    try {
      outcome = step.instance.processBatch!(batch.records, batchInfo(batch.positions, this.control.abort.signal));
    } catch {
      return undefined;
    }
    const results = outcome.results as unknown[];
    step.latency.add((this.clock.now() - started) / batch.records.length);
    if (!outcome.failed || outcome.failed.length === 0) return { results };
    const pending: Promise<void>[] = [];
    for (const { index, error } of outcome.failed) {
      results[index] = FAILED;
      pending.push(this.retryRecord(step, batch, index, results, error, 2));
    }
    return { results, pending };
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
      results[i] = await this.attempts.withTimeout(promise, step.plan.timeoutMs, info);
      step.latency.add(this.clock.now() - started);
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
    const positions = batch.positions;
    const policy = step.plan.retry;
    const signal = this.control.abort.signal;
    let error = lastError;
    let attempted = from - 1;
    try {
      for (let attempt = from; attempt <= policy.attempts; attempt++) {
        if (attempt > 1) {
          if (!isRetryable(error)) break;
          await this.attempts.backoff(step, batch, attempt - 1, error, positions.at(i));
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
        const info = new AttemptInfo(positions, i, attempt, signal);
        const started = this.clock.now();
        try {
          results[i] = await this.attempts.withTimeout(step.instance.process(record, info), step.plan.timeoutMs, info);
          step.latency.add(this.clock.now() - started);
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
      if (!this.control.failure) this.control.fail(aborted);
      return;
    }
    results[i] = FAILED;
    this.failures.recordFailed(step, batch, error, attempted, positions.at(i)!, record);
  }

  /**
   * Gathers a transform's results into the batch's next records, counting each door. The results
   * array becomes the next records (the engine owns it: see `processBatch`), compacted in place.
   * While every record maps to one record the positions (and replay entries) stay as they are;
   * from the first record that was dropped, failed or became several, the indices of the input
   * records left are kept instead (numbers: positions are made only when one is asked for).
   */
  private collect(step: RuntimeTransform, batch: Batch, results: unknown[]): void {
    const { records, entry } = batch;
    const n = results.length;
    let out: unknown[] = results;
    let kept: number[] | undefined;
    let count = 0;
    let processed = 0;
    let passed = 0;
    let filtered = 0;
    let produced = 0;
    for (let i = 0; i < n; i++) {
      const result = results[i];
      if (result === PASS || (result !== FAILED && result !== null && result !== undefined && !Array.isArray(result))) {
        if (result !== PASS) {
          processed++;
          passed++;
        }
        // count <= i while writing in place: the slot written was read already.
        out[count++] = result === PASS ? records[i] : result;
        kept?.push(i);
        continue;
      }
      // From here on the output no longer lines up with the input.
      if (!kept) kept = Array.from({ length: count }, (_, k) => k);
      processed++;
      if (result === FAILED) continue;
      if (result === null || result === undefined) {
        filtered++;
        continue;
      }
      const many = result as SluiceRecord[];
      if (many.length === 0) filtered++;
      else produced += many.length - 1;
      // Several records may outrun the input: the rest of the results is still to be read.
      if (out === results && count + many.length > i + 1) out = results.slice(0, count);
      for (const r of many) {
        out[count++] = r;
        kept.push(i);
      }
      passed += many.length;
    }
    out.length = count;
    batch.records = out as SluiceRecord[];
    if (kept) {
      batch.positions = pickPositions(batch.positions, kept);
      if (entry) batch.entry = kept.map((i) => entry[i]!);
    }
    this.counters.addStep(batch, step, 'in', processed);
    this.counters.addStep(batch, step, 'out', passed);
    this.counters.addStep(batch, step, 'filtered', filtered);
    this.counters.add(batch, 'filtered', filtered);
    this.counters.add(batch, 'produced', produced);
  }
}
