import type { SinkInstance, WriteResult } from '../plugin/types.js';
import { rowsIn, subset, type Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { RunControl } from './failure.js';
import { faults } from './faults.js';
import { writeInfo } from './plugin-info.js';
import { pickPositions } from './positions.js';
import type { SinkStage } from './sink-stage.js';
import { AttemptInfo, type RuntimeSink } from './steps.js';

/** How many batches a sink takes at once: its `pipeline`, at least 1. */
export function pipelineDepth(sink: SinkInstance): number {
  const depth = sink.pipeline;
  return typeof depth === 'number' && Number.isFinite(depth) && depth >= 1 ? Math.floor(depth) : 1;
}

interface Handed {
  /** Resolves when the sink has taken the batch and the next one may be handed over. */
  readonly accepted: Promise<void>;
  /** Resolves with the sink's state right after the batch, once the sink has finished it. */
  readonly finished: Promise<unknown>;
}

const noop = () => undefined;

/**
 * One sink's queue of batches, in source order. A plain sink finishes a batch (retries and halving
 * included) before it gets the next. A pipelined sink (`pipeline: n`) is handed up to n batches
 * before the first finishes; after a failed write the lane stops handing over, lets the writes
 * after it settle, and retries the failed batches one by one in order (see `SinkInstance.pipeline`).
 */
export class SinkLane {
  readonly depth: number;
  private queue: Promise<void> = Promise.resolve();
  /** The sink's state right after the last batch handed over. */
  private last: Promise<unknown>;
  /** First attempts of pipelined writes not settled yet. */
  private readonly outstanding = new Set<Promise<void>>();
  /** Failed pipelined batches, retried one after another in source order. */
  private recovery: Promise<unknown> = Promise.resolve();
  private recovering = 0;
  /** Failed pipelined writes waiting for their retry turn. */
  private readonly failedWrites: Array<{ seq: number; retry: () => Promise<unknown>; resolve: (state: unknown) => void; reject: (error: unknown) => void }> = [];
  /**
   * The first batch whose raw write failed in this recovery: a later batch's write that failed
   * meanwhile most likely failed for it (a sink that keeps batches in order rolls them back), so
   * its write again is no retry either — as on the record path, where neither would have failed.
   */
  private rawFailedAt: number | undefined;
  /** Closed while failed writes are being retried: nothing new is handed over. */
  private gate: { promise: Promise<void>; open: () => void } | undefined;

  constructor(
    readonly sink: RuntimeSink,
    private readonly stage: SinkStage,
    private readonly control: RunControl,
    private readonly clock: Clock,
  ) {
    this.depth = pipelineDepth(sink.instance);
    this.last = Promise.resolve(sink.state);
  }

  /** Queues a batch behind the ones before it; resolves with the sink's state right after it. */
  submit(batch: Batch, ready: Promise<void>, failed: Set<number>): Promise<unknown> {
    let resolve!: (state: unknown) => void;
    let reject!: (error: unknown) => void;
    const result = new Promise<unknown>((yes, no) => ((resolve = yes), (reject = no)));
    this.queue = this.queue
      .then(() => ready)
      .then(async () => {
        if (this.control.failure) return resolve(undefined);
        // A raw page the sink does not take: its records, before it is handed over like any batch.
        if (batch.raw && !this.takesRaw(batch)) await this.stage.materialize(this.sink, batch, false);
        if (this.control.failure) return resolve(undefined);
        const handed = this.hand(batch, failed);
        handed.finished.then(resolve, reject);
        return handed.accepted;
      })
      .catch(reject);
    return result;
  }

  /** Whether the sink writes this raw batch as it is (`SinkInstance.raw.accepts`); a throw is a no. */
  private takesRaw(batch: Batch): boolean {
    const raw = this.sink.instance.raw;
    if (!raw || !batch.raw || !raw.formats.includes(batch.raw.format)) return false;
    try {
      return raw.accepts(batch.raw) === true;
    } catch {
      return false;
    }
  }

  private hand(batch: Batch, failed: Set<number>): Handed {
    const indices = this.stage.select(this.sink, batch, failed);
    const rows = rowsIn(batch);
    // Nothing for this sink in this batch: its state is the one after the batch before.
    if (indices?.length === 0 || rows === 0) return { accepted: Promise.resolve(), finished: this.last };
    const startedAt = this.clock.now();
    const handed =
      this.depth > 1 ? this.writePipelined(batch, indices, failed) : batch.raw ? this.writeRawWhole(batch, failed) : this.writeWhole(batch, indices, failed);
    if (this.control.bus.timed) {
      const timing = () => {
        const error = this.control.failure?.message;
        this.control.bus.emitTiming({ seq: batch.seq, step: this.sink.plan.id, kind: 'sink', records: indices?.length ?? rows, startedAt, ms: this.clock.now() - startedAt, ...(error ? { error } : {}) });
      };
      handed.finished.then(timing, timing);
    }
    this.last = handed.finished.catch(noop);
    return handed;
  }

  /** A plain sink: the whole write, retries and halving included, before the next batch. */
  private writeWhole(batch: Batch, indices: number[] | undefined, failed: Set<number>): Handed {
    const finished = this.stage
      .writeIndices(this.sink, batch, indices, failed)
      .then((state) => (this.sink.state = state !== undefined ? state : this.sink.instance.state?.()));
    return { accepted: finished.then(noop, noop), finished };
  }

  /**
   * A plain sink and a raw batch: one raw attempt; when it fails, the batch's records are made and
   * written as any batch's (retries and halving included), before the next batch.
   */
  private writeRawWhole(batch: Batch, failed: Set<number>): Handed {
    const finished = (async () => {
      const outcome = await this.stage.writeRaw(this.sink, batch);
      let state: unknown;
      if ('error' in outcome) {
        if (this.control.failure) return undefined;
        await this.stage.materialize(this.sink, batch, true);
        state = await this.stage.writeIndices(this.sink, batch, undefined, failed, { error: outcome.error, raw: true });
      } else {
        state = outcome.state;
      }
      return (this.sink.state = state !== undefined ? state : this.sink.instance.state?.());
    })();
    return { accepted: finished.then(noop, noop), finished };
  }

  private writePipelined(batch: Batch, indices: number[] | undefined, failed: Set<number>): Handed {
    const sink = this.sink;
    const signal = this.control.abort.signal;
    /** A raw batch: its first attempt is the raw write; a failed one is retried with the batch's records. */
    const raw = batch.raw;
    let attempt!: Promise<WriteResult | void>;
    let started = 0;
    const accepted = (async () => {
      for (;;) {
        await this.gate?.promise;
        await sink.throttle.take(signal);
        await sink.sem.acquire();
        // A write failed while this one waited: wait for its retries first.
        if (!this.gate) break;
        sink.sem.release();
      }
      const info = AttemptInfo.forBatch(1, signal);
      started = this.clock.now();
      try {
        if (raw) {
          attempt = this.stage.attempts.withTimeout(sink.instance.raw!.write(raw, writeInfo(batch.seq, [], info)), sink.plan.timeoutMs, info);
        } else {
          const records = subset(batch.records, indices);
          attempt = this.stage.attempts.withTimeout(sink.instance.write(records, writeInfo(batch.seq, pickPositions(batch.positions, indices), info)), sink.plan.timeoutMs, info);
        }
      } catch (error) {
        attempt = Promise.reject(error);
      }
      faults?.writing(sink.plan.id, batch.seq, attempt);
      const settled: Promise<void> = attempt.then(noop, noop).then(() => {
        sink.sem.release();
        this.outstanding.delete(settled);
      });
      this.outstanding.add(settled);
    })();
    const finished = accepted.then(() =>
      attempt.then(
        (result) => {
          sink.latency.add(this.clock.now() - started);
          if (raw) this.stage.settledRaw(sink, batch);
          else this.stage.settled(sink, batch, indices, failed, result, 1);
          return (sink.state = result?.state !== undefined ? result.state : sink.instance.state?.());
        },
        (error: unknown) => this.recover(batch, indices, failed, error, raw !== undefined),
      ),
    );
    return { accepted: accepted.catch(noop), finished };
  }

  /**
   * A failed pipelined write: once the writes handed over after it have settled, retry it alone.
   * Retries go in source order, not in the order the writes failed: a later write may fail first
   * (its session is the one cut), and a sink with a "done up to seq N" marker would skip the
   * earlier batch as done once the later one's retry committed.
   */
  private recover(batch: Batch, indices: number[] | undefined, failed: Set<number>, error: unknown, raw = false): Promise<unknown> {
    this.recovering++;
    if (!this.gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.gate = { promise, open };
    }
    let resolve!: (state: unknown) => void;
    let reject!: (error: unknown) => void;
    const result = new Promise<unknown>((yes, no) => ((resolve = yes), (reject = no)));
    if (raw && (this.rawFailedAt === undefined || batch.seq < this.rawFailedAt)) this.rawFailedAt = batch.seq;
    this.failedWrites.push({
      seq: batch.seq,
      retry: async () => {
        // A failed raw write is retried with the batch's records, made now (in its turn).
        if (raw) await this.stage.materialize(this.sink, batch, true);
        const afterRaw = raw || (this.rawFailedAt !== undefined && this.rawFailedAt < batch.seq);
        const state = await this.stage.writeIndices(this.sink, batch, indices, failed, { error, raw: afterRaw });
        return (this.sink.state = state !== undefined ? state : this.sink.instance.state?.());
      },
      resolve,
      reject,
    });
    // One turn per failed write; each turn retries the earliest failed batch waiting.
    this.recovery = this.recovery.then(async () => {
      // A write that failed within a few ticks of its call reports it after it leaves `outstanding`:
      // one macrotask lets every failed write join the queue before the earliest is picked.
      do {
        while (this.outstanding.size > 0) await Promise.all([...this.outstanding]);
        await new Promise((resolve) => setImmediate(resolve));
      } while (this.outstanding.size > 0);
      this.failedWrites.sort((a, b) => a.seq - b.seq);
      const next = this.failedWrites.shift()!;
      await next.retry().then(next.resolve, next.reject);
    });
    return result.finally(() => {
      if (--this.recovering > 0) return;
      this.rawFailedAt = undefined;
      const gate = this.gate;
      this.gate = undefined;
      gate?.open();
    });
  }
}
