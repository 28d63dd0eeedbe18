import type { RetryPolicy } from '../job/plan.js';

/**
 * Delay before retry number `retry` (1 = the first retry): exponential, capped by `maxDelayMs`,
 * with full jitter (uniform in [0, delay]) when enabled. A `retryAfterMs` from the error (e.g. an
 * HTTP Retry-After) replaces the computed delay, still capped by `maxDelayMs`.
 */
export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(policy.maxDelayMs, retryAfterMs);
  const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (retry - 1));
  return policy.jitter ? Math.floor(random() * exp) : exp;
}
