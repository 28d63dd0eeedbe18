/** A `take` after `close` finds the counter at least this high: no index is handed out any more. */
const CLOSED = 1 << 30;

/**
 * The partitions of a `--threads` run, handed out in order to whichever thread is free first.
 * The counter lives in shared memory so that a thread takes its next partition itself: asking the
 * main thread would wait until it is between two batches of the partition it runs itself. Each
 * taken partition records its taker, so a thread that dies leaves no partition nobody answers for.
 */
export class PartitionQueue {
  /** [0]: the next index to take; [1 + i]: who took partition i, plus one (0: nobody yet). */
  private readonly state: Int32Array;
  private closedAt: number | undefined;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly count: number,
  ) {
    this.state = new Int32Array(buffer);
  }

  static create(count: number): PartitionQueue {
    return new PartitionQueue(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (1 + count)), count);
  }

  /** The next partition for `thread` (0 = the main thread), or undefined when none is left. */
  take(thread: number): number | undefined {
    const index = Atomics.add(this.state, 0, 1);
    if (index >= this.count) return undefined;
    Atomics.store(this.state, 1 + index, thread + 1);
    return index;
  }

  /** No partition is taken from now on (the run is ending); the ones below the returned count were. */
  close(): number {
    this.closedAt ??= Math.min(Atomics.exchange(this.state, 0, CLOSED), this.count);
    return this.closedAt;
  }

  /** How many partitions have been taken so far (all of them once the queue ran dry). */
  taken(): number {
    return this.closedAt ?? Math.min(Atomics.load(this.state, 0), this.count);
  }

  /** The partitions `thread` has taken. */
  takenBy(thread: number): number[] {
    const out: number[] = [];
    for (let index = 0; index < this.count; index++) if (Atomics.load(this.state, 1 + index) === thread + 1) out.push(index);
    return out;
  }
}
