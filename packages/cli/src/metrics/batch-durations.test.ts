import { createRequire } from 'node:module';
import type { BatchTiming } from '@sluice/core/internal';
import type { Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BatchDurations } from './batch-durations.js';

const prom = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
const NAME = 'sluice_batch_duration_seconds';
const HELP = 'Time a batch spent in a step.';
const BOUNDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Timings of two jobs over two attempts, on bucket bounds, between them, below the first and above the last. */
function timings(): Array<{ job: string; attempt: number; timing: BatchTiming }> {
  const ms = [0, 0.4, 1, 1.0000001, 5, 7.3, 10, 99.9, 100, 250, 999, 1000, 2500, 4999, 10_000, 30_000, 59_999, 60_000, 300_000, 300_001, 1_234_567];
  const steps = [undefined, 'filter', 'key-s3cr3t', 'out'];
  const out: Array<{ job: string; attempt: number; timing: BatchTiming }> = [];
  let seq = 0;
  for (const job of ['orders', 'job "quoted"\\n']) {
    for (const attempt of [1, 2]) {
      for (const [i, m] of ms.entries()) {
        const step = steps[(i + attempt) % steps.length];
        out.push({ job, attempt, timing: { seq: seq++, ...(step ? { step } : {}), records: 1000, startedAt: 0, ms: m } });
      }
    }
  }
  return out;
}

const redact = (text: string) => text.replaceAll('s3cr3t', '***');

describe('BatchDurations', () => {
  // What it replaces: prom-client's Histogram observed per timing, as registry.ts did. Same
  // timings into both, each in its own registry: the scraped text and the JSON must be the same.
  it('exposes exactly what a prom-client Histogram observed with the same timings exposes', async () => {
    const before = new prom.Registry();
    const histogram = new prom.Histogram({ name: NAME, help: HELP, labelNames: ['job', 'step'], buckets: BOUNDS, registers: [before] });
    const after = new prom.Registry();
    const durations = new BatchDurations(NAME, HELP, BOUNDS);
    after.registerMetric(durations as unknown as Metric);
    // One listener per (job, attempt), as a worker subscribes per partition attempt.
    const listeners = new Map<string, (t: BatchTiming) => void>();
    for (const { job, attempt, timing } of timings()) {
      histogram.labels({ job, step: redact(timing.step ?? '*') }).observe(timing.ms / 1000);
      const key = `${job}/${attempt}`;
      if (!listeners.has(key)) listeners.set(key, durations.listener(job, redact));
      listeners.get(key)!(timing);
    }
    const text = await after.metrics();
    expect(text).toBe(await before.metrics());
    expect(text).toContain('le="+Inf",job="orders",step="*"');
    expect(text).not.toContain('s3cr3t');
    expect(await after.getMetricsAsJSON()).toEqual(await before.getMetricsAsJSON());
  });

  it('shows nothing before the first timing, and nothing after reset', async () => {
    const registry = new prom.Registry();
    const durations = new BatchDurations(NAME, HELP, BOUNDS);
    registry.registerMetric(durations as unknown as Metric);
    const empty = new prom.Registry();
    new prom.Histogram({ name: NAME, help: HELP, labelNames: ['job', 'step'], buckets: BOUNDS, registers: [empty] });
    expect(await registry.metrics()).toBe(await empty.metrics());
    durations.listener('j', redact)({ seq: 0, records: 1, startedAt: 0, ms: 3 });
    expect(await registry.metrics()).toContain(`${NAME}_count{job="j",step="*"} 1`);
    durations.reset();
    expect(await registry.metrics()).toBe(await empty.metrics());
  });
});
