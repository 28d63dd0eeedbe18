import { EventBus, emptyJobCounters, type JobCounters, type ProgressSnapshot, type RunSummary } from '@sluice/core/internal';
import { describe, expect, it } from 'vitest';
import { budgetUse, EtaMeter, RunWatch, type RunInfo } from './watch.js';

const info: RunInfo = {
  job: 'import',
  source: 'file data/in.jsonl',
  checkpoint: '.sluice/checkpoints/import.json',
  checkpointing: true,
  redact: (t) => t.split('hunter2').join('***'),
};

/** A watch over a bus, with a clock and a snapshot the test moves by hand. */
function harness(over: Partial<RunInfo> = {}) {
  const bus = new EventBus();
  let now = 1_000_000;
  let snapshot: ProgressSnapshot = {
    job: 'import',
    elapsedMs: 0,
    counters: emptyJobCounters(),
    steps: [],
    progress: { done: 0, total: 1000, unit: 'bytes' },
    batchesInFlight: 0,
    rate: 0,
  };
  const watch = new RunWatch(bus, () => snapshot, { ...info, ...over }, () => now);
  return {
    bus,
    watch,
    advance(ms: number, change: { read?: number; done?: number; counters?: Partial<JobCounters> } = {}) {
      now += ms;
      snapshot = {
        ...snapshot,
        elapsedMs: snapshot.elapsedMs + ms,
        counters: { ...snapshot.counters, ...(change.read !== undefined ? { read: change.read } : {}), ...change.counters },
        progress: { ...snapshot.progress!, ...(change.done !== undefined ? { done: change.done } : {}) },
      };
    },
  };
}

describe('RunWatch', () => {
  it('follows the phase from start to end', () => {
    const { bus, watch } = harness();
    expect(watch.view().phase).toBe('starting');
    bus.emit({ type: 'start', job: 'import', fingerprint: 'f', resumed: true, counters: emptyJobCounters(), dryRun: false });
    expect(watch.view()).toMatchObject({ phase: 'running', resumed: true });
    bus.emit({ type: 'stopping', reason: 'stopped by q' });
    expect(watch.view()).toMatchObject({ phase: 'stopping', reason: 'stopped by q' });
    const summary: RunSummary = {
      job: 'import',
      status: 'interrupted',
      error: 'stopped by q',
      durationMs: 2000,
      counters: { ...emptyJobCounters(), read: 500, written: 500 },
      thisRun: { ...emptyJobCounters(), read: 400, written: 400 },
      steps: [],
      dryRun: false,
      resumed: true,
    };
    bus.emit({ type: 'end', summary });
    expect(watch.view()).toMatchObject({ phase: 'interrupted', elapsedMs: 2000, rate: 200, counters: { read: 500 } });
  });

  it('keeps the last three errors, oldest first, redacted', () => {
    const { bus, watch, advance } = harness();
    for (let i = 1; i <= 5; i++) {
      advance(1000);
      bus.emit({ type: 'deadLetter', step: 'check', error: `bad record ${i} (password hunter2)`, position: { file: 'in.jsonl', line: i } });
    }
    bus.emit({ type: 'log', level: 'info', message: 'not an error' });
    const { errors } = watch.view();
    expect(errors.map((e) => [e.atMs, e.step, e.kind, e.text])).toEqual([
      [3000, 'check', 'dead letter', 'in.jsonl:3: bad record 3 (password ***)'],
      [4000, 'check', 'dead letter', 'in.jsonl:4: bad record 4 (password ***)'],
      [5000, 'check', 'dead letter', 'in.jsonl:5: bad record 5 (password ***)'],
    ]);
    bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 200, error: 'HTTP 503' });
    bus.emit({ type: 'log', level: 'warn', message: 'estimate failed: EACCES' });
    expect(watch.view().errors.map((e) => `${e.step} ${e.kind} ${e.text}`)).toEqual([
      'check dead letter in.jsonl:5: bad record 5 (password ***)',
      'geo retry attempt 2 in 200ms: HTTP 503',
      ' warning estimate failed: EACCES',
    ]);
  });

  it('estimates the time left from the recent pace, and the fraction done', () => {
    const { watch, advance } = harness();
    expect(watch.view().etaMs).toBeUndefined();
    for (let i = 1; i <= 4; i++) {
      advance(500, { done: i * 50 });
      watch.view();
    }
    // 150 bytes in 1.5 s since the first sample: 100 B/s, 800 left.
    expect(watch.view()).toMatchObject({ total: { done: 200, total: 1000, fraction: 0.2 } });
    expect(watch.view().etaMs).toBeCloseTo(8000, -1);
  });

  it('tells the checkpoint and its age', () => {
    const { bus, watch, advance } = harness();
    bus.emit({ type: 'checkpoint', seq: 7, cursor: { name: 'in.jsonl', offset: 800, token: 'hunter2' }, counters: { ...emptyJobCounters(), read: 8000 } });
    advance(2500);
    expect(watch.view().checkpoint).toEqual({ seq: 7, cursor: 'name=in.jsonl offset=800 token=***', ageMs: 2500, read: 8000 });
  });

  it('calls many retries against few records a storm, and says when it is over', () => {
    const { bus, watch, advance } = harness();
    watch.view();
    for (let i = 0; i < 12; i++) {
      advance(100, { read: 100 + i });
      bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 100, error: 'HTTP 503' });
      watch.view();
    }
    expect(watch.view().notices).toEqual([{ kind: 'retryStorm', text: 'retry storm in geo: 12 retries in the last 10s (last: HTTP 503)' }]);
    advance(11_000, { read: 500 });
    expect(watch.view().notices).toEqual([]);
  });

  it('does not call a few retries among many records a storm', () => {
    const { bus, watch, advance } = harness();
    watch.view();
    for (let i = 0; i < 12; i++) {
      advance(500, { read: (i + 1) * 10_000 });
      bus.emit({ type: 'retry', step: 'geo', attempt: 2, delayMs: 100, error: 'HTTP 503' });
      watch.view();
    }
    expect(watch.view().notices).toEqual([]);
  });

  it('warns when the error budget is nearly spent', () => {
    const { watch, advance } = harness({ maxFailed: { count: 10 } });
    advance(100, { counters: { read: 100, deadLettered: 7 } });
    expect(watch.view().notices).toEqual([]);
    advance(100, { counters: { read: 100, deadLettered: 6, skipped: 2 } });
    expect(watch.view().notices).toEqual([{ kind: 'budget', text: 'error budget 80% spent: 8 of 10 failed records allowed (errors.maxFailed)' }]);
  });
});

describe('budgetUse', () => {
  const c = (read: number, failed: number): JobCounters => ({ ...emptyJobCounters(), read, deadLettered: failed });
  it.each([
    [{ count: 100 }, 0.5, c(1000, 50)],
    [{ count: 0 }, 1, c(1000, 1)],
    [{ percent: 1 }, 0.9, c(1000, 9)],
    [{ percent: 1 }, undefined, c(50, 9)],
  ] as const)('case %#: %o is %s spent', (budget, share, counters) => {
    const use = budgetUse(budget, counters);
    if (share === undefined) expect(use).toBeUndefined();
    else expect(use?.share).toBeCloseTo(share);
  });
});

describe('EtaMeter', () => {
  it('forgets samples older than ten seconds, so the ETA follows a change of pace', () => {
    const meter = new EtaMeter();
    for (let t = 0; t <= 20_000; t += 500) meter.sample(t < 10_000 ? t / 10 : 1000 + (t - 10_000) / 100, t);
    // Now at 1,100 of 2,100, at 10 units a second.
    expect(meter.eta(2100)).toBeCloseTo(100_000, -3);
  });
});
