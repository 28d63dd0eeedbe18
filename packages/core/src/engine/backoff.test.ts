import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../job/plan.js';
import { backoffDelay } from './backoff.js';

const policy = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  attempts: 10,
  initialDelayMs: 200,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: false,
  ...over,
});
const never = () => {
  throw new Error('random must not be called without jitter');
};

describe('backoffDelay', () => {
  it.each([
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1600],
    [8, 25_600],
  ])('grows exponentially without jitter: retry %i waits %i ms', (retry, expected) => {
    expect(backoffDelay(policy(), retry, never)).toBe(expected);
  });

  it('uses the multiplier', () => {
    expect([1, 2, 3].map((r) => backoffDelay(policy({ initialDelayMs: 100, multiplier: 3 }), r, never))).toEqual([100, 300, 900]);
    expect([1, 2, 3].map((r) => backoffDelay(policy({ initialDelayMs: 100, multiplier: 1 }), r, never))).toEqual([100, 100, 100]);
  });

  it('is capped by maxDelayMs', () => {
    expect(backoffDelay(policy(), 9, never)).toBe(30_000); // 51 200 uncapped
    expect(backoffDelay(policy(), 50, never)).toBe(30_000);
    expect(backoffDelay(policy({ maxDelayMs: 500 }), 2, never)).toBe(400);
    expect(backoffDelay(policy({ maxDelayMs: 500 }), 3, never)).toBe(500);
  });

  it('full jitter: uniform in [0, delay), bounded by the cap', () => {
    const jittered = policy({ jitter: true });
    expect(backoffDelay(jittered, 1, () => 0)).toBe(0);
    expect(backoffDelay(jittered, 20, () => 0)).toBe(0);
    expect(backoffDelay(jittered, 1, () => 0.5)).toBe(100);
    expect(backoffDelay(jittered, 3, () => 0.5)).toBe(400);
    expect(backoffDelay(jittered, 1, () => 0.999)).toBe(199);
    // Past the cap: just under maxDelay, never above it.
    const high = backoffDelay(jittered, 20, () => 0.999);
    expect(high).toBe(29_970);
    expect(high).toBeLessThan(30_000);
    for (let retry = 1; retry <= 30; retry++) {
      for (const r of [0, 0.1, 0.5, 0.9, 0.999999]) {
        const delay = backoffDelay(jittered, retry, () => r);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(30_000, 200 * 2 ** (retry - 1)));
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  it('a retry-after replaces the computed delay, without jitter, capped by maxDelayMs', () => {
    const jittered = policy({ jitter: true });
    expect(backoffDelay(jittered, 1, never, 1500)).toBe(1500);
    expect(backoffDelay(jittered, 7, never, 1500)).toBe(1500);
    expect(backoffDelay(policy(), 1, never, 0)).toBe(0);
    expect(backoffDelay(jittered, 1, never, 45_000)).toBe(30_000);
    expect(backoffDelay(policy({ maxDelayMs: 1000 }), 1, never, 1500)).toBe(1000);
  });
});
