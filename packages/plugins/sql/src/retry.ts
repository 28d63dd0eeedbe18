import type { Clock, Logger } from '@sluice/core';
import { classify, describeError } from './errors.js';

/** A step's retry policy (as `ctx.step.retry` gives it). */
export interface RetryPolicy {
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: boolean;
}

/** What a connection's own work (the checkpoint store) retries with when no step says more: the job default. */
export const DEFAULT_POLICY: RetryPolicy = { attempts: 3, initialDelayMs: 200, maxDelayMs: 30_000, multiplier: 2, jitter: true };

export interface RetryContext {
  readonly policy: RetryPolicy;
  /** Default: real time. */
  readonly clock?: Pick<Clock, 'sleep'>;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** Says what was being done, where: `source 'orders' reading orders on connection 'db'`. */
  readonly what: string;
  /** Scrubs the connection's URL and password from a message. */
  readonly scrub: (text: string) => string;
}

const realTime = { sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };

/**
 * Runs `fn`, and again after a backoff while it fails on a lost or refused connection (or another
 * transient database error: deadlock, serialization, pool timeout), up to the policy's attempts.
 * The last error names what was being done, on which connection, and how many attempts it took.
 */
export async function withRetry<T>(ctx: RetryContext, fn: () => Promise<T>): Promise<T> {
  const { policy } = ctx;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const message = ctx.scrub(describeError(error));
      if (classify(error) !== 'transient' || attempt >= policy.attempts || ctx.signal?.aborted) {
        throw new Error(`${ctx.what} failed${attempt > 1 ? ` after ${attempt} attempts` : ''}: ${message}`, { cause: error });
      }
      const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
      const delay = policy.jitter ? Math.floor(Math.random() * exp) : exp;
      ctx.logger?.warn(`${ctx.what}: ${message}; retrying in ${delay}ms (attempt ${attempt + 1} of ${policy.attempts})`);
      await (ctx.clock ?? realTime).sleep(delay, ctx.signal);
    }
  }
}
