import { isRetryable } from '../errors/index.js';
import type { DeadLetterEntry } from '../events/types.js';
import type { SluiceRecord, WriteInfo, WriteResult } from '../plugin/types.js';
import type { Attempts } from './attempts.js';
import { rowsIn, subset, type Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import { RunFailure, formatPosition, messageOf, type RunControl } from './failure.js';
import { safeDeadLetter } from './dead-letters.js';
import { faults } from './faults.js';
import type { FailureRouter } from './failures.js';
import { writeInfo } from './plugin-info.js';
import { pickPositions } from './positions.js';
import { SinkLane } from './sink-lane.js';
import { AttemptInfo, type RuntimeSink } from './steps.js';

/** The sinks' states right after a batch: what a checkpoint of that batch saves. */
export interface SinkStates {
  readonly sinks: Record<string, unknown>;
  readonly deadLetter: unknown;
}

/**
 * Writes batches to the sinks, each sink in its own lane (one batch at a time, or several for a
 * sink that opts into `pipeline`), then the batch's dead letters. Per write: retries with backoff,
 * then halving a refused batch until the bad records stand alone; refused records go to onError.
 */
export class SinkStage {
  private readonly lanes: SinkLane[];
  /** Each sink's bit in a replay's sink entry points (see `Batch.entry`). */
  private readonly bits = new Map<RuntimeSink, number>();

  constructor(
    sinks: readonly RuntimeSink[],
    private readonly deadLetter: RuntimeSink,
    private readonly control: RunControl,
    private readonly counters: RunCounters,
    private readonly failures: FailureRouter,
    readonly attempts: Attempts,
    private readonly clock: Clock,
    private readonly redact: (text: string) => string,
    /** Makes a raw batch's records and counts them (the pipeline's, which knows the source). */
    private readonly materializeBatch: (batch: Batch) => Promise<void>,
  ) {
    this.lanes = sinks.map((sink) => new SinkLane(sink, this, control, clock));
    sinks.forEach((sink, k) => this.bits.set(sink, 2 ** k));
  }

  /** The states every sink has now (a resume starts from the checkpoint's). */
  states(): SinkStates {
    const sinks: Record<string, unknown> = {};
    for (const lane of this.lanes) sinks[lane.sink.plan.id] = lane.sink.state;
    return { sinks, deadLetter: this.deadLetter.state };
  }

  /**
   * Hands a batch to every sink once `ready` (its transforms) resolves, each sink taking batches in
   * source order; resolves when every sink has finished it, with the sinks' states right after it
   * (undefined when the run failed meanwhile).
   */
  submit(batch: Batch, ready: Promise<void>): Promise<Record<string, unknown> | undefined> {
    const failed = new Set<number>();
    // The lanes see a failure of the transforms; it is handled where the batch commits.
    ready.catch(() => undefined);
    const finishes = this.lanes.map((lane) => lane.submit(batch, ready, failed));
    faults?.fanOut(batch.seq, finishes);
    return Promise.all([ready, ...finishes]).then(([, ...states]) => {
      if (this.control.failure) return undefined;
      this.counters.add(batch, 'written', rowsIn(batch) - failed.size);
      const sinks: Record<string, unknown> = {};
      this.lanes.forEach((lane, i) => (sinks[lane.sink.plan.id] = states[i]));
      return sinks;
    });
  }

  /**
   * Writes a finished batch's dead letters (batches in source order); the dead-letter sink's state
   * after them. Every dead letter counted must be on disk: entries the sink refuses are written
   * again in a safe form (`safeDeadLetter`), and a refusal of that fails the run, so the batch is
   * not committed and no count claims them.
   */
  async writeDeadLetters(batch: Batch): Promise<unknown> {
    const dl = this.deadLetter;
    if (batch.dead.length === 0) return dl.state;
    const first = await this.writeDeadLetterEntries(batch, batch.dead, 1);
    let state = first?.state;
    const refused = first?.rejected ?? [];
    if (refused.length > 0) {
      const safe = refused.map(({ index, error }) => safeDeadLetter(batch.dead[index]!, this.redact(messageOf(error))));
      const second = await this.writeDeadLetterEntries(batch, safe, 2);
      const again = second?.rejected ?? [];
      if (again.length > 0) {
        const entry = safe[again[0]!.index]!;
        throw new RunFailure(
          `cannot write dead letters: the dead-letter sink refused ${again.length} of them even in a safe form (step '${entry.step}' at ` +
            `${formatPosition(entry.position)}: ${this.redact(messageOf(again[0]!.error))}); the batch is not committed`,
        );
      }
      if (second?.state !== undefined) state = second.state;
    }
    dl.state = state !== undefined ? state : dl.instance.state?.();
    return dl.state;
  }

  private async writeDeadLetterEntries(batch: Batch, entries: readonly DeadLetterEntry[], attempt: number): Promise<WriteResult | undefined> {
    const dl = this.deadLetter;
    const signal = this.control.abort.signal;
    try {
      const writing = dl.instance.write(entries as unknown as SluiceRecord[], { seq: batch.seq, positions: entries.map((d) => d.position), attempt, signal });
      faults?.deadLetter(batch.seq, writing);
      return (await this.attempts.withTimeout(
        writing,
        dl.plan.timeoutMs,
        AttemptInfo.forBatch(attempt, signal),
      )) as WriteResult | undefined;
    } catch (error) {
      throw new RunFailure(`cannot write dead letters: ${this.redact(messageOf(error))}`, { cause: error });
    }
  }

  /**
   * The indices of a batch's records that a sink takes (its `when:`, and in a replay the records
   * meant for it), counted as the sink's `in`; undefined when it takes them all.
   */
  select(sink: RuntimeSink, batch: Batch, failed: Set<number>): number[] | undefined {
    let indices: number[] | undefined;
    const entry = batch.entry;
    if (sink.when || entry) {
      indices = [];
      const bit = this.bits.get(sink)!;
      for (let i = 0; i < batch.records.length; i++) {
        // Replay: a record some sinks refused goes back to those sinks only.
        const sinks = entry ? entry[i]! - sink.index : 0;
        if (sinks > 0 && Math.floor(sinks / bit) % 2 === 0) continue;
        if (!sink.when) {
          indices.push(i);
          continue;
        }
        let matches: unknown;
        try {
          matches = sink.when.evaluate(batch.records[i]!);
        } catch (error) {
          this.failures.recordFailed(sink, batch, new Error(`when: ${(error as Error).message}`), 1, batch.positions.at(i)!, batch.records[i], undefined, firstFailure(failed, i));
          continue;
        }
        if (matches) indices.push(i);
      }
    }
    this.counters.addStep(batch, sink, 'in', indices ? indices.length : rowsIn(batch));
    return indices;
  }

  /**
   * Makes a raw batch's records for `sink`, the one sink of a raw run. `selected`: the sink's `in`
   * was counted from the raw page already (by `select`), and is corrected to the records made.
   */
  async materialize(sink: RuntimeSink, batch: Batch, selected: boolean): Promise<void> {
    const raw = batch.raw;
    if (!raw) return;
    await this.materializeBatch(batch);
    if (selected) this.counters.addStep(batch, sink, 'in', batch.records.length - raw.count);
  }

  /** One attempt at writing a raw batch whole; the error when it failed (the caller then writes its records). */
  async writeRaw(sink: RuntimeSink, batch: Batch): Promise<{ state: unknown } | { error: unknown }> {
    const raw = batch.raw!;
    const signal = this.control.abort.signal;
    await sink.throttle.take(signal);
    await sink.sem.acquire();
    const info = AttemptInfo.forBatch(1, signal);
    const started = this.clock.now();
    try {
      const writing = sink.instance.raw!.write(raw, writeInfo(batch.seq, [], info));
      faults?.writing(sink.plan.id, batch.seq, writing);
      const result = (await this.attempts.withTimeout(writing, sink.plan.timeoutMs, info)) as WriteResult | undefined;
      sink.latency.add(this.clock.now() - started);
      this.settledRaw(sink, batch);
      return { state: result?.state };
    } catch (error) {
      return { error };
    } finally {
      sink.sem.release();
    }
  }

  /** Counts a raw write that succeeded: every row is the sink's `out`. */
  settledRaw(sink: RuntimeSink, batch: Batch): void {
    this.counters.addStep(batch, sink, 'out', batch.raw!.count);
  }

  /** Counts a write that succeeded: its refused records go to onError, the rest are the sink's `out`. */
  settled(sink: RuntimeSink, batch: Batch, indices: readonly number[] | undefined, failed: Set<number>, result: WriteResult | void, attempt: number): void {
    const rejected = result?.rejected ?? [];
    for (const { index, error } of rejected) {
      const at = indices ? indices[index]! : index;
      this.failures.recordFailed(sink, batch, error, attempt, batch.positions.at(at)!, batch.records[at], undefined, firstFailure(failed, at));
    }
    this.counters.addStep(batch, sink, 'out', (indices ? indices.length : batch.records.length) - rejected.length);
  }

  /**
   * Writes some records of a batch to one sink: attempts with backoff, then halves a refused batch.
   * `after` continues a first attempt that already failed (a pipelined write). `after.raw`: that
   * attempt was the batch's raw write (or a write that failed after an earlier batch's raw write
   * failed, see SinkLane); it does not count against the retry policy, and whatever it
   * failed with, a write of the records follows at once (no backoff, no retry counted): that write
   * decides, as on the record path, what is refused and what is retried. Resolves to the `state` the last successful write returned, if any.
   */
  async writeIndices(
    sink: RuntimeSink,
    batch: Batch,
    indices: number[] | undefined,
    failed: Set<number>,
    after?: { error: unknown; raw?: boolean },
    part?: WriteInfo['part'],
  ): Promise<unknown> {
    if (indices?.length === 0 || this.control.failure) return undefined;
    if (batch.records.length === 0) return undefined;
    const records = subset(batch.records, indices);
    const positions = pickPositions(batch.positions, indices);
    const policy = sink.plan.retry;
    const signal = this.control.abort.signal;
    let error: unknown = after?.error;
    let attempted = after ? 1 : 0;
    // The sink is told the attempt it makes (a write after a failed raw write is a retry to it);
    // counts, events and dead letters the attempt of the records' write (the raw one not counted).
    const rawShift = after?.raw ? 1 : 0;
    for (let attempt = attempted + 1; attempt <= policy.attempts + rawShift; attempt++) {
      if (attempt > 1) {
        // The write right after a failed raw write is no retry: it is the batch's first write of its
        // records (counted, waited for and reported as the record path would: not at all).
        const afterRaw = rawShift === 1 && attempt === 2;
        if (!afterRaw) {
          if (!isRetryable(error)) break;
          await this.attempts.backoff(sink, batch, Math.max(1, attempt - 1 - rawShift), error);
        }
      }
      attempted = attempt;
      await sink.throttle.take(signal);
      await sink.sem.acquire();
      const info = AttemptInfo.forBatch(attempt, signal);
      const started = this.clock.now();
      try {
        const writing = sink.instance.write(records, writeInfo(batch.seq, positions, info, part));
        faults?.writing(sink.plan.id, batch.seq, writing);
        const result = (await this.attempts.withTimeout(
          writing,
          sink.plan.timeoutMs,
          info,
        )) as WriteResult | undefined;
        sink.latency.add(this.clock.now() - started);
        this.settled(sink, batch, indices, failed, result, attempt - rawShift);
        return result?.state;
      } catch (caught) {
        error = caught;
      } finally {
        sink.sem.release();
      }
    }
    // A refusal of the data itself: split the batch until the bad records stand alone.
    // Each part says where it lies in the whole write (`WriteInfo.part`): the halves share the
    // batch's seq, and a sink keeping a per-batch marker must tell them apart.
    if (!isRetryable(error) && records.length > 1) {
      const all = indices ?? records.map((_, i) => i);
      const half = Math.ceil(all.length / 2);
      const offset = part?.offset ?? 0;
      const of = part?.of ?? all.length;
      const first = await this.writeIndices(sink, batch, all.slice(0, half), failed, undefined, { offset, of });
      const second = await this.writeIndices(sink, batch, all.slice(half), failed, undefined, { offset: offset + half, of });
      return second ?? first;
    }
    for (let k = 0; k < records.length; k++) {
      this.failures.recordFailed(sink, batch, error, Math.max(1, attempted - rawShift), positions.at(k)!, records[k], undefined, firstFailure(failed, indices ? indices[k]! : k));
      if (this.control.failure) return undefined;
    }
    return undefined;
  }
}

/** Marks record `index` of a batch as failed in some sink; true the first time (that failure counts the record). */
function firstFailure(failed: Set<number>, index: number): boolean {
  if (failed.has(index)) return false;
  failed.add(index);
  return true;
}
