import type { Clock } from '../engine/clock.js';

/**
 * Virtual time for tests: `sleep` registers a timer; once the process has nothing else to do (a
 * macrotask turn after every microtask), time jumps to the earliest timer and wakes it. A run
 * whose plugins are all in memory then takes no real time, and its timings are exact. `sleeps`
 * lists every sleep asked for (when, and how long).
 */
export class VirtualClock implements Clock {
  private t = 0;
  private order = 0;
  private timers: Array<{ at: number; order: number; wake: () => void }> = [];
  private scheduled = false;
  readonly sleeps: Array<{ at: number; ms: number }> = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push({ at: this.t, ms });
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = {
        at: this.t + Math.max(0, ms),
        order: this.order++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(timer);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.timers.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.wake();
      if (this.timers.length) this.schedule();
    });
  }
}
