import type { Clock } from './clock.js';
import type { Rate } from '../job/values.js';

/**
 * A step's shared gate: a token bucket for `rateLimit`, and a pause the whole step honours
 * (an HTTP 429 with Retry-After pauses every in-flight call of the step, not only the one).
 */
export class StepThrottle {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly capacity: number;
  /** Callers waiting for a token, served in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly clock: Clock,
    private readonly rate?: Rate,
  ) {
    // No bursts: calls are spaced evenly, so any one-second window sees at most rate + 1 calls.
    this.capacity = rate ? 1 : Infinity;
    this.tokens = rate ? 1 : Infinity;
    this.last = clock.now();
  }

  get limited(): boolean {
    return this.rate !== undefined || this.pausedUntil > this.clock.now();
  }

  /** Pauses every caller of this step until `ms` from now (longest pause wins). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  /** Waits for the pause to end and for a token. Resolves at once when nothing limits the step. */
  take(signal?: AbortSignal): Promise<void> {
    if (!this.rate && this.pausedUntil <= this.clock.now()) return Promise.resolve();
    const turn = this.queue.then(() => this.wait(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      if (this.pausedUntil > now) {
        await this.clock.sleep(this.pausedUntil - now, signal);
        continue;
      }
      if (!this.rate) return;
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000), signal);
    }
  }
}
