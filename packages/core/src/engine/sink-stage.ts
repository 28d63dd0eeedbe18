import { isRetryable } from '../errors/index.js';
import type { SluiceRecord, WriteResult } from '../plugin/types.js';
import type { Attempts } from './attempts.js';
import type { Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import { RunFailure, messageOf, type RunControl } from './failure.js';
import type { FailureRouter } from './failures.js';
import { AttemptInfo, type RuntimeSink } from './steps.js';

/** The sinks' states right after a batch: what a checkpoint of that batch saves. */
export interface SinkStates {
  readonly sinks: Record<string, unknown>;
  readonly deadLetter: unknown;
}

/**
 * Writes batches to every sink, then the batch's dead letters. Per sink: retries with backoff, then
 * halving a refused batch until the bad records stand alone; refused records go to onError.
 */
export class SinkStage {
  constructor(
    private readonly sinks: readonly RuntimeSink[],
    private readonly deadLetter: RuntimeSink,
    private readonly control: RunControl,
    private readonly counters: RunCounters,
    private readonly failures: FailureRouter,
    private readonly attempts: Attempts,
    private readonly clock: Clock,
    private readonly redact: (text: string) => string,
  ) {}

  /** The states every sink has now (a resume starts from the checkpoint's). */
  states(): SinkStates {
    const sinks: Record<string, unknown> = {};
    for (const sink of this.sinks) sinks[sink.plan.id] = sink.state;
    return { sinks, deadLetter: this.deadLetter.state };
  }

  /** Writes one batch everywhere; the states after it, or undefined when the run failed meanwhile. */
  async write(batch: Batch): Promise<SinkStates | undefined> {
    if (this.control.failure) return undefined;
    const failedIndices = new Set<number>();
    if (batch.records.length > 0) {
      await Promise.all(this.sinks.map((sink) => this.writeSink(sink, batch, failedIndices)));
    }
    if (this.control.failure) return undefined;
    this.counters.add(batch, 'written', batch.records.length - failedIndices.size);
    if (batch.dead.length > 0) await this.writeDeadLetters(batch);
    if (this.control.failure) return undefined;
    return this.states();
  }

  private async writeDeadLetters(batch: Batch): Promise<void> {
    const dl = this.deadLetter;
    const signal = this.control.abort.signal;
    const records = batch.dead as unknown as SluiceRecord[];
    try {
      await this.attempts.withTimeout(
        dl.instance.write(records, { seq: batch.seq, positions: batch.dead.map((d) => d.position), attempt: 1, signal }),
        dl.plan.timeoutMs,
        new AttemptInfo({}, 1, signal),
      );
      dl.state = dl.instance.state?.();
    } catch (error) {
      throw new RunFailure(`cannot write dead letters: ${this.redact(messageOf(error))}`, { cause: error });
    }
  }

  private async writeSink(sink: RuntimeSink, batch: Batch, failedIndices: Set<number>): Promise<void> {
    let indices: number[];
    if (sink.when) {
      indices = [];
      for (let i = 0; i < batch.records.length; i++) {
        let matches: unknown;
        try {
          matches = sink.when.evaluate(batch.records[i]!);
        } catch (error) {
          this.failures.recordFailed(sink, batch, new Error(`when: ${(error as Error).message}`), 1, batch.positions[i]!, batch.records[i], undefined, firstFailure(failedIndices, i));
          continue;
        }
        if (matches) indices.push(i);
      }
    } else {
      indices = batch.records.map((_, i) => i);
    }
    this.counters.addStep(batch, sink, 'in', indices.length);
    await this.writeIndices(sink, batch, indices, failedIndices);
    sink.state = sink.instance.state?.();
  }

  private async writeIndices(sink: RuntimeSink, batch: Batch, indices: number[], failedIndices: Set<number>): Promise<void> {
    if (indices.length === 0 || this.control.failure) return;
    const records = indices.length === batch.records.length ? batch.records : indices.map((i) => batch.records[i]!);
    const positions = indices.length === batch.positions.length ? batch.positions : indices.map((i) => batch.positions[i]!);
    const policy = sink.plan.retry;
    const signal = this.control.abort.signal;
    let error: unknown;
    let attempted = 0;
    for (let attempt = 1; attempt <= policy.attempts; attempt++) {
      if (attempt > 1) {
        if (!isRetryable(error)) break;
        await this.attempts.backoff(sink, batch, attempt - 1, error);
      }
      attempted = attempt;
      await sink.throttle.take(signal);
      await sink.sem.acquire();
      const info = new AttemptInfo({}, attempt, signal);
      const started = this.clock.now();
      try {
        const result = await this.attempts.withTimeout(
          sink.instance.write(records, { seq: batch.seq, positions, attempt, signal: info.signal }),
          sink.plan.timeoutMs,
          info,
        );
        sink.latency.add(this.clock.now() - started);
        const rejected = (result as WriteResult | undefined)?.rejected ?? [];
        for (const { index, error: why } of rejected) {
          this.failures.recordFailed(sink, batch, why, attempt, positions[index]!, records[index], undefined, firstFailure(failedIndices, indices[index]!));
        }
        this.counters.addStep(batch, sink, 'out', records.length - rejected.length);
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
      this.failures.recordFailed(sink, batch, error, attempted, positions[k]!, records[k], undefined, firstFailure(failedIndices, i));
      if (this.control.failure) return;
    }
  }
}

/** Marks record `index` of a batch as failed in some sink; true the first time (that failure counts the record). */
function firstFailure(failed: Set<number>, index: number): boolean {
  if (failed.has(index)) return false;
  failed.add(index);
  return true;
}
