import { emptyJobCounters, type JobCounters, type JobPlan, type ProgressSnapshot, type RunSummary, type StepSnapshot } from '@sluice/core/internal';
import { describe, expect, it } from 'vitest';
import { CombinedRun } from './combined.js';

const step = (id: string, kind: StepSnapshot['kind'], use: string) => ({ id, kind, use });
/** Only what the combined view reads of a plan. */
const plan = (maxFailed?: JobPlan['maxFailed']) =>
  ({
    name: 'import',
    source: step('source', 'source', 'file'),
    steps: [step('clean', 'transform', 'map')],
    sinks: [step('sink', 'sink', 'file')],
    ...(maxFailed ? { maxFailed } : {}),
  }) as unknown as JobPlan;

const counters = (c: Partial<JobCounters>): JobCounters => ({ ...emptyJobCounters(), ...c });
const row = (id: string, kind: StepSnapshot['kind'], use: string, n: number, extra: Partial<StepSnapshot> = {}): StepSnapshot => ({
  id,
  kind,
  use,
  in: kind === 'source' ? 0 : n,
  out: n,
  filtered: 0,
  failed: 0,
  retries: 0,
  retrying: 0,
  active: 1,
  rate: 10,
  p95Ms: undefined,
  ...extra,
});
const rows = (n: number, p95 = 1) => [row('source', 'source', 'file', n), row('clean', 'transform', 'map', n, { p95Ms: p95 }), row('sink', 'sink', 'file', n, { p95Ms: p95 * 10 })];
const snapshot = (read: number, done: number, total: number, p95 = 1): ProgressSnapshot => ({
  job: 'import',
  elapsedMs: 1000,
  counters: counters({ read, written: read }),
  steps: rows(read, p95),
  progress: { done, total, unit: 'bytes' },
  batchesInFlight: 2,
  rate: 100,
});
const summary = (read: number, status: RunSummary['status'] = 'done', thisRun = read): RunSummary => ({
  job: 'import',
  status,
  durationMs: 1000,
  counters: counters({ read, written: read }),
  thisRun: counters({ read: thisRun, written: thisRun }),
  steps: rows(read),
  dryRun: false,
  resumed: thisRun !== read,
});

describe('CombinedRun', () => {
  it('sums counters and steps by id; rates and in-flight only of running partitions; the slowest p95', () => {
    let now = 0;
    const run = new CombinedRun(plan(), ['a', 'b', 'c'], () => now);
    const [a, b, c] = run.parts;
    a!.status = 'running';
    a!.snapshot = snapshot(300, 3000, 10_000, 2);
    b!.status = 'done';
    b!.snapshot = snapshot(400, 9000, 9000);
    b!.summary = summary(500);
    c!.status = 'running';
    c!.snapshot = snapshot(100, 1000, 11_000, 5);
    now = 2500;

    const p = run.progress();
    expect(p.counters).toMatchObject({ read: 900, written: 900 });
    expect(p.rate).toBe(200);
    expect(p.batchesInFlight).toBe(4);
    expect(p.elapsedMs).toBe(2500);
    // Every partition estimated its bytes: the totals add up, a done partition counts whole.
    expect(p.progress).toEqual({ done: 3000 + 9000 + 1000, total: 30_000, unit: 'bytes' });
    expect(p.steps.map((s) => [s.id, s.in, s.out, s.rate, s.active, s.p95Ms])).toEqual([
      ['source', 0, 900, 20, 2, undefined],
      ['clean', 900, 900, 20, 2, 5],
      ['sink', 900, 900, 20, 2, 50],
    ]);
  });

  it('without every estimate the progress is records read; steps keep the plan order before anyone reports', () => {
    const run = new CombinedRun(plan(), ['a', 'b']);
    expect(run.progress().steps.map((s) => s.id)).toEqual(['source', 'clean', 'sink']);
    run.parts[0]!.status = 'running';
    run.parts[0]!.snapshot = snapshot(50, 10, 100);
    expect(run.progress().progress).toEqual({ done: 50, unit: 'records' });
  });

  it("this run's share: done before this start counts nothing, a resumed partition only what it did since", () => {
    const run = new CombinedRun(plan(), ['a', 'b', 'c']);
    const [a, b, c] = run.parts;
    a!.status = 'done';
    a!.summary = summary(500);
    a!.earlier = true;
    b!.status = 'done';
    b!.summary = summary(500, 'done', 200);
    b!.startCounters = counters({ read: 100, written: 100 });
    c!.status = 'done';
    c!.summary = summary(500, 'done', 300);
    const s = run.summary('done');
    expect(s.counters).toMatchObject({ read: 1500, written: 1500 });
    // b: 500 - 100 at its first start seen here; c: its own summary's share.
    expect(s.thisRun).toMatchObject({ read: 400 + 300, written: 400 + 300 });
    expect(s.resumed).toBe(true);
  });

  it('a running partition shows its live snapshot, not the summary of an earlier attempt', () => {
    const run = new CombinedRun(plan(), ['a']);
    const [a] = run.parts;
    a!.summary = summary(200, 'interrupted');
    expect(run.counters().read).toBe(200);
    a!.status = 'running';
    a!.snapshot = snapshot(350, 0, 1);
    expect(run.counters().read).toBe(350);
    a!.status = 'done';
    a!.summary = summary(500);
    expect(run.counters().read).toBe(500);
  });

  it.each([
    { budget: { count: 5 }, deadLettered: [3, 3], read: [100, 100], final: false, spent: /6 records failed across the partitions \(errors.maxFailed: 5\)/ },
    { budget: { count: 6 }, deadLettered: [3, 3], read: [100, 100], final: false, spent: undefined },
    { budget: { percent: 2 }, deadLettered: [3, 2], read: [100, 100], final: false, spent: /5 of 200 records failed/ },
    { budget: { percent: 2 }, deadLettered: [1, 1], read: [20, 20], final: false, spent: undefined },
    { budget: { percent: 2 }, deadLettered: [1, 1], read: [20, 20], final: true, spent: /2 of 40 records failed/ },
  ])('error budget $budget over partitions: $spent', ({ budget, deadLettered, read, final, spent }) => {
    const run = new CombinedRun(plan(budget), ['a', 'b']);
    run.parts.forEach((part, i) => {
      part.status = 'running';
      part.snapshot = { ...snapshot(read[i]!, 0, 1), counters: counters({ read: read[i], written: read[i]! - deadLettered[i]!, deadLettered: deadLettered[i] }) };
    });
    const result = run.budgetSpent(final);
    if (spent) expect(result).toMatch(spent);
    else expect(result).toBeUndefined();
  });
});
