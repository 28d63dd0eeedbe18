import { retryAfterOf } from '../errors/index.js';
import type { EventBus } from '../events/bus.js';
import type { RecordPosition } from '../plugin/types.js';
import { backoffDelay } from './backoff.js';
import type { BatchCounts, RunCounters } from './counters.js';
import type { Clock } from './clock.js';
import { messageOf } from './failure.js';
import type { AttemptInfo, RuntimeStep } from './steps.js';

/** What transform and sink stages share around one attempt: the wait before a retry, and the timeout. */
export class Attempts {
  constructor(
    private readonly counters: RunCounters,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly signal: AbortSignal,
    private readonly redact: (text: string) => string,
  ) {}

  /** Counts retry `retry` of a step and waits its backoff (a Retry-After pauses the whole step). */
  async backoff(step: RuntimeStep<unknown>, batch: BatchCounts, retry: number, error: unknown, position?: RecordPosition): Promise<void> {
    const retryAfter = retryAfterOf(error);
    const delay = backoffDelay(step.plan.retry, retry, this.random, retryAfter);
    // A server asking us to wait asks the whole step, not only this call.
    if (retryAfter !== undefined) step.throttle.pauseFor(delay);
    this.counters.add(batch, 'retries', 1);
    this.counters.addStep(batch, step, 'retries', 1);
    this.bus.emit({
      type: 'retry',
      step: step.plan.id,
      attempt: retry + 1,
      delayMs: delay,
      error: this.redact(messageOf(error)),
      ...(position ? { position } : {}),
    });
    step.retrying++;
    try {
      await this.clock.sleep(delay, this.signal);
    } finally {
      step.retrying--;
    }
  }

  /** Rejects with an `ETIMEDOUT` error (and aborts the attempt's signal) when `value` outlives `ms`. */
  withTimeout<T>(value: T | Promise<T>, ms: number, info: AttemptInfo): Promise<T> {
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
}
