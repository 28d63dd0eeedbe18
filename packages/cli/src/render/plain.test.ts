import { PassThrough } from 'node:stream';
import { EventBus, emptyJobCounters, type ProgressSnapshot } from '@sluice/core/internal';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { jsonRenderer } from './json.js';
import { plainRenderer } from './plain.js';
import type { RunReport } from './report.js';
import { RunWatch, type RunInfo } from './watch.js';

const info: RunInfo = {
  job: 'import',
  source: 'file data/in.jsonl',
  maxFailed: { count: 10 },
  checkpoint: '.sluice/checkpoints/import.json',
  checkpointing: true,
  redact: (t) => t.split('hunter2').join('***'),
};

function setup() {
  const bus = new EventBus();
  let snapshot: ProgressSnapshot = {
    job: 'import',
    elapsedMs: 0,
    counters: emptyJobCounters(),
    steps: [],
    progress: { done: 0, total: 10_000, unit: 'bytes' },
    batchesInFlight: 2,
    rate: 0,
  };
  const out = new PassThrough();
  let text = '';
  out.setEncoding('utf8').on('data', (d: string) => (text += d));
  const watch = new RunWatch(bus, () => snapshot, info);
  return {
    bus,
    watch,
    out,
    lines: () => text.split('\n').filter(Boolean),
    set(change: Partial<ProgressSnapshot>) {
      snapshot = { ...snapshot, ...change };
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2025-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('--progress plain', () => {
  it('prints a line every few seconds, and one for each thing worth knowing', () => {
    const s = setup();
    const renderer = plainRenderer(s.watch, s.out, { everyMs: 5000, quietMs: 10_000 });
    s.bus.emit({ type: 'start', job: 'import', fingerprint: 'f', resumed: false, counters: emptyJobCounters(), dryRun: false });
    s.bus.emit({ type: 'estimate', total: 10_000, unit: 'bytes' });
    for (let i = 0; i < 3; i++) s.bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 100, error: 'HTTP 503 (key hunter2)' });
    s.bus.emit({ type: 'deadLetter', step: 'check', error: 'email: must match format "email"', position: { line: 4 } });
    s.bus.emit({ type: 'checkpoint', seq: 0, cursor: {}, counters: { ...emptyJobCounters(), read: 500 } });
    s.bus.emit({ type: 'checkpoint', seq: 1, cursor: {}, counters: { ...emptyJobCounters(), read: 1000 } });
    s.set({ elapsedMs: 5000, counters: { ...emptyJobCounters(), read: 1000, written: 990, deadLettered: 8, retries: 3 }, progress: { done: 2500, total: 10_000, unit: 'bytes' }, rate: 200 });
    vi.advanceTimersByTime(5000);
    vi.advanceTimersByTime(5000);
    // The quiet period has passed: the next retry is noted, with how many went unsaid.
    vi.advanceTimersByTime(1000);
    s.bus.emit({ type: 'retry', step: 'geo', attempt: 3, delayMs: 200, error: 'HTTP 503' });
    s.bus.emit({ type: 'stopping', reason: 'interrupted by SIGINT' });
    renderer.stop();
    expect(s.lines()).toEqual([
      'import: starting — file data/in.jsonl',
      '9.8 KB to read',
      'retrying in geo (attempt 2): HTTP 503 (key ***)',
      'dead-lettered in check: email: must match format "email"',
      'checkpoint: batch 0, 500 records read',
      'warning: error budget 80% spent: 8 of 10 failed records allowed (errors.maxFailed)',
      '0:05  read 1,000 (25.0% of 9.8 KB)  200/s  written 990  filtered 0  dead-lettered 8  retries 3',
      '0:05  read 1,000 (25.0% of 9.8 KB)  200/s  written 990  filtered 0  dead-lettered 8  retries 3',
      'retrying in geo (attempt 3): HTTP 503 (+2 more since the last note)',
      'stopping: interrupted by SIGINT; finishing batches in flight, then saving the checkpoint',
    ]);
  });

  it('says when a retry storm starts and when it is over', () => {
    const s = setup();
    const renderer = plainRenderer(s.watch, s.out, { everyMs: 60_000 });
    s.bus.emit({ type: 'start', job: 'import', fingerprint: 'f', resumed: false, counters: emptyJobCounters(), dryRun: false });
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 20; i++) s.bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 100, error: 'HTTP 429' });
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(12_000);
    renderer.stop();
    expect(s.lines().filter((l) => !l.startsWith('retrying'))).toEqual([
      'import: starting — file data/in.jsonl',
      'warning: retry storm in geo: 20 retries in the last 10s (last: HTTP 429)',
      'retries have calmed down',
    ]);
  });
});

describe('--progress json', () => {
  it('writes one JSON object per line: events, progress snapshots and the end with the report', () => {
    const s = setup();
    const renderer = jsonRenderer(s.watch, s.out, 1000);
    s.bus.emit({ type: 'start', job: 'import', fingerprint: 'f', resumed: false, counters: emptyJobCounters(), dryRun: false });
    s.bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 100, error: 'HTTP 503 for ?key=hunter2', position: { line: 3 } });
    s.bus.emit({ type: 'deadLetter', step: 'check', error: 'bad', position: { line: 4 } });
    s.bus.emit({ type: 'checkpoint', seq: 0, cursor: { offset: 10, token: 'hunter2' }, counters: { ...emptyJobCounters(), read: 500 } });
    s.bus.emit({ type: 'log', level: 'debug', message: 'noise' });
    s.set({ elapsedMs: 1000, counters: { ...emptyJobCounters(), read: 500 }, progress: { done: 5000, total: 10_000, unit: 'bytes' }, rate: 500 });
    vi.advanceTimersByTime(1000);
    renderer.end({ version: 1, job: 'import', status: 'done' } as RunReport);
    const events = s.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.type)).toEqual(['start', 'retry', 'deadLetter', 'checkpoint', 'progress', 'end']);
    expect(events.map((e) => e.time)).toEqual([...Array(4).fill('2025-01-01T00:00:00.000Z'), '2025-01-01T00:00:01.000Z', '2025-01-01T00:00:01.000Z']);
    expect(events[1]).toMatchObject({ step: 'geo', attempt: 2, error: 'HTTP 503 for ?key=***', position: { line: 3 } });
    expect(events[3]).toMatchObject({ seq: 0, cursor: { offset: 10, token: '***' } });
    expect(events[4]).toMatchObject({ job: 'import', phase: 'running', counters: { read: 500 }, total: { done: 5000, total: 10_000, unit: 'bytes', fraction: 0.5 }, checkpoint: { seq: 0 } });
    expect(events[5]).toMatchObject({ report: { version: 1, job: 'import', status: 'done' } });
    expect(s.lines().join('\n')).not.toContain('hunter2');
  });
});
