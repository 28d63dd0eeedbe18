import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../testing/virtual-clock.js';
import { StepThrottle } from './throttle.js';

/** Timers as the real ones fire: whole milliseconds, rounded up, and a little late. */
class LaggyClock extends VirtualClock {
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return super.sleep(Math.ceil(Math.max(ms, 1)) + 0.25, signal);
  }
}

/** `callers` loops taking from `throttle` until `seconds` of clock time passed; the start times. */
async function drive(clock: VirtualClock, throttle: StepThrottle, callers: number, seconds: number): Promise<number[]> {
  const times: number[] = [];
  const end = seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (;;) {
        const granted = await throttle.take();
        const now = clock.now();
        // Nothing deschedules a caller on the virtual clock: it runs at the instant it was granted.
        expect(granted).toBe(now);
        if (now >= end) return;
        times.push(now);
      }
    }),
  );
  return times;
}

/** The most events any closed window [t, t + width] holds. */
function densest(times: number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! > width) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('StepThrottle', () => {
  it('without a rate or a pause it is not limited and resolves at once', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock);
    expect(throttle.limited).toBe(false);
    expect(await Promise.all(Array.from({ length: 50 }, () => throttle.take()))).toEqual(Array(50).fill(0));
    expect(clock.sleeps).toEqual([]);
    expect(clock.now()).toBe(0);
  });

  it('rate 20/s: 100 takes are spaced evenly, no one-second window holds more than 21', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock, { perSecond: 20 });
    expect(throttle.limited).toBe(true);
    const times: number[] = [];
    await Promise.all(Array.from({ length: 100 }, () => throttle.take().then(() => times.push(clock.now()))));
    expect(times).toHaveLength(100);
    expect(densest(times, 1000)).toBeLessThanOrEqual(21);
    // Even spacing (no burst at the start), and no slower than the rate either.
    const sorted = [...times].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(49);
    expect(sorted[0]).toBe(0);
    expect(sorted[99]).toBeLessThanOrEqual(99 * 50 + 100);
  });

  it.each([
    [1, 30, 1],
    [100, 5, 4],
    [2_000, 3, 16],
    [20_000, 2, 32],
    [50_000, 2, 32],
  ])('rate %i/s over %i s at concurrency %i, with timers that fire late: within 3 %%, never more than rate + 1 in a second', async (rate, seconds, callers) => {
    for (const clock of [new VirtualClock(), new LaggyClock()]) {
      const throttle = new StepThrottle(clock, { perSecond: rate });
      const times = await drive(clock, throttle, callers, seconds);
      const delivered = times.length / seconds;
      expect(Math.abs(delivered / rate - 1), `${clock.constructor.name}: ${delivered}/s`).toBeLessThanOrEqual(0.03);
      expect(densest(times, 1000)).toBeLessThanOrEqual(rate + 1);
    }
  });

  it('limiters over one shared buffer (one per worker thread) share the rate', async () => {
    const clock = new VirtualClock();
    const first = new StepThrottle(clock, { perSecond: 1000 });
    const second = new StepThrottle(clock, { perSecond: 1000 }, first.buffer);
    const [a, b] = await Promise.all([drive(clock, first, 8, 3), drive(clock, second, 8, 3)]);
    expect(a.length).toBeGreaterThan(500);
    expect(b.length).toBeGreaterThan(500);
    expect(Math.abs((a.length + b.length) / 3000 - 1)).toBeLessThanOrEqual(0.03);
    expect(densest([...a, ...b], 1000)).toBeLessThanOrEqual(1001);
    // A pause asked through one holds the other.
    first.pauseFor(2000);
    expect(second.limited).toBe(true);
    const at = clock.now();
    await second.take();
    expect(clock.now()).toBeGreaterThanOrEqual(at + 2000);
  });

  it('takes spread over time refill the bucket but never burst above one token', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock, { perSecond: 20 });
    const times: number[] = [];
    await throttle.take();
    times.push(clock.now());
    await clock.sleep(5000); // idle: the bucket must not hold 100 tokens now
    await Promise.all(Array.from({ length: 30 }, () => throttle.take().then(() => times.push(clock.now()))));
    expect(densest(times, 1000)).toBeLessThanOrEqual(21);
  });

  it('pauseFor delays every waiter until the pause ends (longest pause wins)', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock);
    throttle.pauseFor(1500);
    throttle.pauseFor(500);
    expect(throttle.limited).toBe(true);
    const times: number[] = [];
    await Promise.all(Array.from({ length: 5 }, () => throttle.take().then(() => times.push(clock.now()))));
    expect(times).toEqual([1500, 1500, 1500, 1500, 1500]);
    expect(throttle.limited).toBe(false);
    await throttle.take();
    expect(clock.now()).toBe(1500);
  });

  it('a pause also holds a rate-limited step, and the rate resumes after it', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock, { perSecond: 10 });
    await throttle.take(); // t=0
    throttle.pauseFor(2000);
    const times: number[] = [];
    await Promise.all(Array.from({ length: 3 }, () => throttle.take().then(() => times.push(clock.now()))));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(2000);
    const sorted = [...times].sort((a, b) => a - b);
    expect(sorted[1]! - sorted[0]!).toBeGreaterThanOrEqual(100);
    expect(sorted[2]! - sorted[1]!).toBeGreaterThanOrEqual(100);
  });

  it('an aborted waiter rejects and does not hold up the ones behind it', async () => {
    const clock = new VirtualClock();
    const throttle = new StepThrottle(clock);
    throttle.pauseFor(1000);
    const controller = new AbortController();
    const first = throttle.take(controller.signal);
    const second = throttle.take();
    controller.abort(new Error('stop'));
    await expect(first).rejects.toThrow('stop');
    await second;
    expect(clock.now()).toBe(1000);
  });
});
