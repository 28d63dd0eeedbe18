import type { Clock } from './clock.js';
import type { Rate } from '../job/values.js';

/**
 * How far ahead of its slot a call may start when slots are closer than timers can wake (they fire
 * in whole milliseconds; at 50,000/s calls are 20 µs apart).
 */
const LEAD_MS = 1;
/**
 * A caller waking up to this late keeps the schedule (the next slot does not move back), so late
 * timers cost no rate; slots older than this are dropped, so a stalled process catches up with at
 * most this much of a burst (and never more than rate + 1 in a second: the window).
 */
const CATCH_UP_MS = 250;
/**
 * The one-second window, in 1 ms buckets: 1001 of them cover any closed window [t − 1000, t]; one
 * more keeps a margin for callers whose clock reading lags ours by a millisecond.
 */
const BUCKETS = 1002;

// Layout of the shared state: a lock and the window's total (int32), the next slot, the pause and
// the last bucket advanced to (float64), then the buckets (int32).
const LOCK = 0;
const TOTAL = 1;
const NEXT = 0;
const PAUSED = 1;
const LAST_MS = 2;
const FLOATS_AT = 16;
const BUCKETS_AT = FLOATS_AT + 3 * 8;
const BYTES = BUCKETS_AT + BUCKETS * 4;

/**
 * A step's shared gate: `rateLimit` and a pause the whole step honours (an HTTP 429 with
 * Retry-After pauses every in-flight call of the step, not only the one).
 *
 * The rate is exact from a call per minute to 50,000/s and beyond: calls get evenly spaced slots
 * (`next` moves by 1/rate per call, not by the time a caller happened to wake), at high rates a call
 * may start up to 1 ms before its slot so that sub-millisecond spacing needs no sub-millisecond
 * timers, and a
 * sliding one-second window (1 ms buckets) refuses any call that would put more than rate + 1 in a
 * second — so a caller that woke late never catches up in a burst.
 *
 * The state lives in a `SharedArrayBuffer` behind an `Atomics` lock, so limiters built over the
 * same `buffer` (`new StepThrottle(clock, rate, buffer)`, e.g. one per worker thread) share one
 * rate. The clock must be the same for all of them (`Date.now()` is).
 */
export class StepThrottle {
  readonly buffer: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;
  private readonly buckets: Int32Array;
  private readonly intervalMs: number;
  private readonly leadMs: number;
  /**
   * At high rates (slots closer than timers) late timers are the rule and the window bounds any
   * burst; at low rates a quarter of the spacing keeps calls well apart at the other end too.
   */
  private readonly catchUpMs: number;
  /** Most calls any closed one-second window may hold. */
  private readonly perWindow: number;
  /** The slot the caller at the head of this instance's queue holds. */
  private reserved: number | undefined;
  /** Callers of this instance waiting for a turn, served in order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    private readonly rate?: Rate,
    shared?: SharedArrayBuffer,
  ) {
    this.buffer = shared ?? StepThrottle.sharedState();
    if (this.buffer.byteLength !== BYTES) throw new Error(`a limiter's shared state is ${BYTES} bytes, not ${this.buffer.byteLength}`);
    this.ints = new Int32Array(this.buffer, 0, 2);
    this.floats = new Float64Array(this.buffer, FLOATS_AT, 3);
    this.buckets = new Int32Array(this.buffer, BUCKETS_AT, BUCKETS);
    this.intervalMs = rate ? 1000 / rate.perSecond : 0;
    this.leadMs = this.intervalMs < 10 * LEAD_MS ? LEAD_MS : 0;
    this.catchUpMs = this.leadMs > 0 ? CATCH_UP_MS : Math.min(CATCH_UP_MS, Math.max(10, this.intervalMs / 4));
    this.perWindow = rate ? Math.floor(rate.perSecond) + 1 : Infinity;
  }

  /** Milliseconds callers of this instance spent waiting in `take`, summed over callers (metrics). */
  waitedMs = 0;

  /** Fresh state for limiters that will share it (all zeros is a valid, idle state). */
  static sharedState(): SharedArrayBuffer {
    return new SharedArrayBuffer(BYTES);
  }

  get limited(): boolean {
    return this.rate !== undefined || this.floats[PAUSED]! > this.clock.now();
  }

  /** Pauses every caller of this step until `ms` from now (longest pause wins). */
  pauseFor(ms: number): void {
    const until = this.clock.now() + ms;
    this.locked(() => {
      if (until > this.floats[PAUSED]!) this.floats[PAUSED] = until;
    });
  }

  /**
   * Waits for the pause to end and for a slot. Resolves at once when nothing limits the step. The
   * value is the clock's time when the slot was granted: the instant the window counted this call
   * at, which is what "at most rate + 1 in a second" is about (a caller the OS deschedules between
   * the grant and its own next line starts later than that; no limiter can prevent it).
   */
  take(signal?: AbortSignal): Promise<number> {
    if (!this.rate && this.floats[PAUSED]! <= this.clock.now()) return Promise.resolve(this.clock.now());
    const from = this.clock.now();
    const turn = this.queue.then(() => this.wait(signal)).finally(() => (this.waitedMs += this.clock.now() - from));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(signal?: AbortSignal): Promise<number> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      const delay = this.tryTake(now);
      if (delay === 0) return now;
      await this.clock.sleep(delay, signal);
    }
  }

  /**
   * Takes a slot now (0), or says how long to wait before asking again. The caller at the head of
   * this instance's queue reserves the next free slot first, so limiters sharing the state are
   * served in the order they asked, whoever's timer happens to fire first.
   */
  private tryTake(now: number): number {
    return this.locked(() => {
      const f = this.floats;
      if (f[PAUSED]! > now) {
        // The slot is lost in the pause; after it, the schedule starts again from its end.
        this.reserved = undefined;
        return f[PAUSED]! - now;
      }
      if (!this.rate) return 0;
      if (this.reserved !== undefined && this.reserved < now - this.catchUpMs) {
        // Woke far too late (a stalled process): the slots older than the catch-up are dropped, so
        // the callers behind it do not follow back to back.
        this.reserved = now - this.catchUpMs;
        if (f[NEXT]! < this.reserved + this.intervalMs) f[NEXT] = this.reserved + this.intervalMs;
      }
      if (this.reserved === undefined) {
        // Slots stay evenly spaced: a caller that woke a little late does not push the next one
        // back (an idle limiter starts from now, so idling earns no burst).
        this.reserved = f[NEXT]! >= now - this.catchUpMs ? f[NEXT]! : now;
        f[NEXT] = this.reserved + this.intervalMs;
      }
      const early = this.reserved - this.leadMs - now;
      if (early > 0) return early;
      const ms = Math.floor(now);
      this.advance(ms);
      if (this.ints[TOTAL]! >= this.perWindow) return Math.max(this.oldestLeaves(ms) - now, 0.001);
      this.buckets[ms % BUCKETS] = this.buckets[ms % BUCKETS]! + 1;
      this.ints[TOTAL] = this.ints[TOTAL]! + 1;
      this.reserved = undefined;
      return 0;
    });
  }

  /** Empties the buckets that fell out of the window [ms − BUCKETS + 1, ms]. */
  private advance(ms: number): void {
    const last = this.floats[LAST_MS]!;
    if (ms <= last) return;
    const from = Math.max(last + 1, ms - BUCKETS + 1);
    for (let b = from; b <= ms; b++) {
      const i = b % BUCKETS;
      this.ints[TOTAL] = this.ints[TOTAL]! - this.buckets[i]!;
      this.buckets[i] = 0;
    }
    this.floats[LAST_MS] = ms;
  }

  /** When the oldest call in the window leaves it (the window is full, so there is one). */
  private oldestLeaves(ms: number): number {
    for (let b = ms - BUCKETS + 1; b <= ms; b++) {
      if (this.buckets[((b % BUCKETS) + BUCKETS) % BUCKETS]! > 0) return b + BUCKETS;
    }
    return ms + 1;
  }

  /** Runs `fn` holding the lock; the sections are a few operations long, so waiting spins. */
  private locked<T>(fn: () => T): T {
    while (Atomics.compareExchange(this.ints, LOCK, 0, 1) !== 0);
    try {
      return fn();
    } finally {
      Atomics.store(this.ints, LOCK, 0);
    }
  }
}
