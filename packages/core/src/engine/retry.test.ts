import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, RecordError, TransientError } from '../errors/index.js';
import type { DeadLetterEntry, JobCounters, RunEvent } from '../events/types.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { PluginContext, RecordInfo, SluiceRecord, TransformResult } from '../plugin/types.js';
import { backoffDelay } from './backoff.js';
import { VirtualClock } from '../testing/virtual-clock.js';
import { JobRun, type RunOptions } from './run.js';


type Process = (record: SluiceRecord, info: RecordInfo, ctx: PluginContext) => TransformResult | Promise<TransformResult>;

interface Harness {
  readonly registry: PluginRegistry;
  /** Every record the sink wrote, in order. */
  readonly written: SluiceRecord[];
  /** Sequence numbers of the batches the sink wrote. */
  readonly seqs: number[];
  readonly dead: DeadLetterEntry[];
  /** Pages the source has yielded. */
  pagesRead: number;
  /** Every call of the transform: record id, attempt, virtual time. */
  readonly calls: Array<{ id: number; attempt: number; at: number }>;
  /** Every write the sink was asked for, refused ones too: its records' ids and `info.part`. */
  readonly writes: Array<{ seq: number; ids: number[]; part?: { offset: number; of: number } }>;
}

/**
 * Real plugins, defined here: `list` reads `{ id }` records (position `input.jsonl:<line>`, cursor
 * = records done), `fn` runs the test's `process`, `memory` keeps what it is given, `dl` keeps
 * dead letters.
 */
function harness(count: number, process: Process, options: { failSinkAt?: number } = {}): Harness {
  const h: Harness = { registry: new PluginRegistry(), written: [], seqs: [], dead: [], pagesRead: 0, calls: [], writes: [] };
  const records = Array.from({ length: count }, (_, id) => ({ id }));
  const list = defineSource({
    name: 'list',
    description: 'test records',
    schema: { type: 'object' },
    create: () => ({
      async *read({ cursor, batchSize, signal }) {
        for (let at = (cursor as number | undefined) ?? 0; at < records.length; at += batchSize) {
          if (signal.aborted) return;
          const page = records.slice(at, at + batchSize);
          h.pagesRead++;
          yield { records: page, cursor: at + page.length, positions: page.map((r) => ({ file: 'input.jsonl', line: r.id + 1 })) };
        }
      },
    }),
  });
  const fn = defineTransform({
    name: 'fn',
    description: "runs the test's function",
    schema: { type: 'object' },
    create: (_config, ctx) => ({
      process: (record, info) => {
        h.calls.push({ id: record.id as number, attempt: info.attempt, at: ctx.clock.now() });
        return process(record, info, ctx);
      },
    }),
  });
  const memory = defineSink({
    name: 'memory',
    description: 'keeps what it is given',
    schema: { type: 'object' },
    create: () => ({
      async write(batch, info) {
        h.writes.push({ seq: info.seq, ids: batch.map((r) => r.id as number), ...(info.part ? { part: info.part } : {}) });
        if (options.failSinkAt !== undefined && batch.some((r) => r.id === options.failSinkAt)) throw new PermanentError('sink refuses');
        h.written.push(...batch);
        h.seqs.push(info.seq);
      },
    }),
  });
  const dl = defineSink({
    name: 'dl',
    description: 'keeps dead letters',
    schema: { type: 'object' },
    create: () => ({
      async write(entries) {
        h.dead.push(...(entries as unknown as DeadLetterEntry[]));
      },
    }),
  });
  h.registry.add(list, 'test');
  h.registry.add(fn, 'test');
  h.registry.add(memory, 'test');
  h.registry.add(dl, 'test');
  return h;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-retry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const job = (step: string, o: { batch?: string; errors?: string; checkpoint?: string; name?: string; sinkOnError?: string } = {}) => `
version: 1
name: ${o.name ?? 'retry-test'}
batch: ${o.batch ?? '{ size: 10, inFlight: 2 }'}
checkpoint: ${o.checkpoint ?? '{ store: none }'}
source: { use: list }
steps:
  - id: flaky
    use: fn
${step
  .trim()
  .split('\n')
  .map((line) => `    ${line}`)
  .join('\n')}
sink: { use: memory${o.sinkOnError ? `, onError: ${o.sinkOnError}` : ''} }
deadLetter: { use: dl }
${o.errors ? `errors: ${o.errors}` : ''}
`;

async function run(h: Harness, text: string, options: RunOptions = {}) {
  const { plan, diagnostics } = await loadJobText(text, { registry: h.registry, dir, env: {} });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  const clock = (options.clock as VirtualClock | undefined) ?? new VirtualClock();
  const jobRun = new JobRun(plan, { random: () => 0.5, ...options, clock });
  const events: RunEvent[] = [];
  jobRun.bus.on((event) => events.push(event));
  const summary = await jobRun.run();
  return { summary, events, clock, plan };
}

function expectBalanced(c: JobCounters): void {
  expect(c.read + c.produced).toBe(c.written + c.filtered + c.deadLettered + c.skipped);
}

const retryEvents = (events: RunEvent[]) => events.filter((e): e is Extract<RunEvent, { type: 'retry' }> => e.type === 'retry');

describe('retries inside a transform', () => {
  it.each([
    ['thrown synchronously', false],
    ['rejected asynchronously', true],
  ])('a record failing twice (%s) then passing is written, with 2 retries and the computed backoff slept', async (_, async) => {
    const failures = new Map<number, number>();
    const h = harness(5, (record) => {
      const id = record.id as number;
      if (id === 3 && (failures.get(id) ?? 0) < 2) {
        failures.set(id, (failures.get(id) ?? 0) + 1);
        const error = new TransientError('busy');
        if (async) return Promise.reject(error);
        throw error;
      }
      return async ? Promise.resolve({ ...record, ok: true }) : { ...record, ok: true };
    });
    const policy = { attempts: 3, initialDelayMs: 200, maxDelayMs: 30_000, multiplier: 2, jitter: true };
    const { summary, events, clock } = await run(h, job('retry: { attempts: 3, initialDelay: 200ms, maxDelay: 30s, multiplier: 2, jitter: true }\nonError: deadLetter'));

    expect(summary.status).toBe('done');
    expect(h.written.map((r) => r.id)).toEqual([0, 1, 2, 3, 4]);
    expect(h.written.every((r) => r.ok)).toBe(true);
    expect(summary.counters.retries).toBe(2);
    expect(summary.steps.find((s) => s.id === 'flaky')!.retries).toBe(2);
    expect(h.dead).toEqual([]);
    const expected = [backoffDelay(policy, 1, () => 0.5), backoffDelay(policy, 2, () => 0.5)];
    expect(expected).toEqual([100, 200]);
    expect(clock.sleeps).toEqual([
      { at: 0, ms: 100 },
      { at: 100, ms: 200 },
    ]);
    expect(h.calls.filter((c) => c.id === 3)).toEqual([
      { id: 3, attempt: 1, at: 0 },
      { id: 3, attempt: 2, at: 100 },
      { id: 3, attempt: 3, at: 300 },
    ]);
    expect(retryEvents(events).map((e) => ({ attempt: e.attempt, delayMs: e.delayMs, step: e.step, position: e.position }))).toEqual([
      { attempt: 2, delayMs: 100, step: 'flaky', position: { file: 'input.jsonl', line: 4 } },
      { attempt: 3, delayMs: 200, step: 'flaky', position: { file: 'input.jsonl', line: 4 } },
    ]);
    expectBalanced(summary.counters);
  });

  it.each([
    ['a PermanentError', () => new PermanentError('id 2 is not a user')],
    ['a RecordError', () => new RecordError('id 2 is not a user', { field: 'id' })],
    ['an Error with retryable: false', () => Object.assign(new Error('id 2 is not a user'), { retryable: false })],
  ])('%s is dead-lettered after one attempt', async (_, make) => {
    const h = harness(4, async (record) => {
      if (record.id === 2) throw make();
      return record;
    });
    const { summary, clock, events } = await run(h, job('retry: { attempts: 5 }\nonError: deadLetter'));
    expect(summary.status).toBe('done');
    expect(h.calls.filter((c) => c.id === 2)).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(retryEvents(events)).toEqual([]);
    expect(h.written.map((r) => r.id)).toEqual([0, 1, 3]);
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]).toMatchObject({
      job: 'retry-test',
      step: 'flaky',
      kind: 'transform',
      stepIndex: 0,
      attempts: 1,
      error: 'id 2 is not a user',
      position: { file: 'input.jsonl', line: 3 },
      batch: 0,
      record: { id: 2 },
    });
    expect(summary.counters).toMatchObject({ read: 4, written: 3, deadLettered: 1, retries: 0 });
    expect(events.filter((e) => e.type === 'deadLetter')).toEqual([
      { type: 'deadLetter', step: 'flaky', error: 'id 2 is not a user', position: { file: 'input.jsonl', line: 3 } },
    ]);
    expectBalanced(summary.counters);
  });

  it('a transient failure on every attempt is dead-lettered after `attempts` attempts, each retry on the bus', async () => {
    const h = harness(3, (record) => {
      if (record.id === 1) throw new Error('connection reset'); // a plain Error counts as transient
      return record;
    });
    const policy = { attempts: 4, initialDelayMs: 100, maxDelayMs: 250, multiplier: 2, jitter: false };
    const { summary, events, clock } = await run(h, job('retry: { attempts: 4, initialDelay: 100ms, maxDelay: 250ms, jitter: false }\nonError: deadLetter'));
    expect(summary.status).toBe('done');
    expect(h.calls.filter((c) => c.id === 1).map((c) => [c.attempt, c.at])).toEqual([
      [1, 0],
      [2, 100],
      [3, 300],
      [4, 550],
    ]);
    expect(clock.sleeps.map((s) => s.ms)).toEqual([1, 2, 3].map((r) => backoffDelay(policy, r, Math.random)));
    expect(clock.sleeps.map((s) => s.ms)).toEqual([100, 200, 250]);
    expect(retryEvents(events)).toEqual([2, 3, 4].map((attempt, k) => ({
      type: 'retry',
      step: 'flaky',
      attempt,
      delayMs: [100, 200, 250][k],
      error: 'connection reset',
      position: { file: 'input.jsonl', line: 2 },
    })));
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]).toMatchObject({ step: 'flaky', attempts: 4, error: 'connection reset', position: { file: 'input.jsonl', line: 2 }, record: { id: 1 } });
    expect(summary.counters).toMatchObject({ read: 3, written: 2, deadLettered: 1, retries: 3 });
    expect(summary.steps.find((s) => s.id === 'flaky')).toMatchObject({ in: 3, out: 2, failed: 1, retries: 3 });
    expectBalanced(summary.counters);
  });

  it('attempts: 1 never retries', async () => {
    const h = harness(2, (record) => {
      if (record.id === 0) throw new TransientError('busy');
      return record;
    });
    const { summary, clock } = await run(h, job('retry: { attempts: 1 }\nonError: deadLetter'));
    expect(clock.sleeps).toEqual([]);
    expect(h.dead[0]).toMatchObject({ attempts: 1, error: 'busy' });
    expect(summary.counters.retries).toBe(0);
  });

  it.each([
    [1500, '30s', 1500],
    [60_000, '10s', 10_000],
  ])('a TransientError with retryAfterMs %i (maxDelay %s) sleeps %i ms instead of the backoff', async (retryAfterMs, maxDelay, expected) => {
    let failed = false;
    const h = harness(1, (record) => {
      if (!failed) {
        failed = true;
        throw new TransientError('429 too many requests', { retryAfterMs });
      }
      return record;
    });
    const { summary, clock, events } = await run(h, job(`retry: { attempts: 3, initialDelay: 200ms, maxDelay: ${maxDelay} }\nonError: deadLetter`));
    expect(summary.status).toBe('done');
    expect(clock.sleeps[0]).toEqual({ at: 0, ms: expected });
    expect(h.calls.map((c) => [c.attempt, c.at])).toEqual([
      [1, 0],
      [2, expected],
    ]);
    expect(retryEvents(events)[0]).toMatchObject({ delayMs: expected });
    expect(h.written).toEqual([{ id: 0 }]);
  });

  it.each([1, 4])('a Retry-After pauses the whole step (concurrency %i): no other record starts before the pause ends', async (concurrency) => {
    let failed = false;
    const h = harness(10, async (record, _info, ctx) => {
      if (record.id === 0 && !failed) {
        failed = true;
        throw new TransientError('429', { retryAfterMs: 1500 });
      }
      await ctx.clock.sleep(10);
      return record;
    });
    const { summary } = await run(h, job(`concurrency: ${concurrency}\nretry: { attempts: 3 }\nonError: deadLetter`, { batch: '{ size: 10, inFlight: 1 }' }));
    expect(summary.status).toBe('done');
    expect(h.written).toHaveLength(10);
    // Records started alongside the failing one were already running; everything after waits.
    const startedBefore = h.calls.slice(0, concurrency);
    expect(startedBefore.every((c) => c.at === 0)).toBe(true);
    const later = h.calls.slice(concurrency);
    expect(later.length).toBe(10 - concurrency + 1);
    for (const call of later) expect(call.at, `record ${call.id} attempt ${call.attempt} started at ${call.at}`).toBeGreaterThanOrEqual(1500);
  });

  it('a pause is shared by later batches too', async () => {
    let failed = false;
    const h = harness(6, async (record) => {
      if (record.id === 0 && !failed) {
        failed = true;
        throw new TransientError('429', { retryAfterMs: 2000 });
      }
      return record;
    });
    const { summary } = await run(h, job('concurrency: 2\nonError: deadLetter', { batch: '{ size: 2, inFlight: 3 }' }));
    expect(summary.status).toBe('done');
    for (const call of h.calls.filter((c) => c.id >= 2)) expect(call.at).toBeGreaterThanOrEqual(2000);
  });
});

describe('rateLimit through the pipeline', () => {
  it('rateLimit: 20/s at concurrency 8: starts are spaced, never more than 21 in a second, and not slower than the rate', async () => {
    const h = harness(70, async (record, _info, ctx) => {
      await ctx.clock.sleep(30);
      return record;
    });
    const { summary } = await run(h, job('concurrency: 8\nrateLimit: 20/s', { batch: '{ size: 10, inFlight: 4 }' }));
    expect(summary.status).toBe('done');
    const starts = h.calls.map((c) => c.at).sort((a, b) => a - b);
    expect(starts).toHaveLength(70);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(50);
    expect(starts.at(-1)! - starts[0]!).toBeLessThanOrEqual(69 * 50 + 69);
    expect(h.written.map((r) => r.id)).toEqual(range(70));
  });
});

describe('dry runs and rate limits', () => {
  it("a dry run keeps the rate of the transforms it calls, not of the sinks whose destination it never calls", async () => {
    const text = `
version: 1
name: dry
batch: { size: 5, inFlight: 2 }
checkpoint: { store: none }
source: { use: list }
steps:
  - { id: flaky, use: fn, rateLimit: 10/s }
sink: { use: memory, rateLimit: 1/s }
deadLetter: { use: dl }
`;
    // 30 calls at 10/s: 2.9 s of (virtual) time; the sink's 1/s over 6 batch writes would add 5 s.
    const dry = await run(harness(30, (record) => record), text, { dryRun: true });
    expect(dry.summary.status).toBe('done');
    expect(dry.clock.now()).toBeGreaterThanOrEqual(2900);
    expect(dry.clock.now()).toBeLessThan(3500);
    const real = await run(harness(30, (record) => record), text);
    expect(real.clock.now()).toBeGreaterThanOrEqual(5000);
  });
});

describe('stopping and failing while records are in flight', () => {
  it('a graceful stop lets a record waiting for its retry finish', async () => {
    const stop = new AbortController();
    let failed = false;
    const h = harness(30, (record) => {
      if (record.id === 0 && !failed) {
        failed = true;
        stop.abort(new Error('SIGINT'));
        throw new TransientError('busy');
      }
      return record;
    });
    const { summary, clock } = await run(h, job('retry: { attempts: 3, initialDelay: 100ms, jitter: false }\nonError: deadLetter', { batch: '{ size: 10, inFlight: 1 }' }), {
      signal: stop.signal,
    });
    expect(summary.status).toBe('interrupted');
    expect(clock.sleeps).toEqual([{ at: 0, ms: 100 }]);
    expect(h.calls.filter((c) => c.id === 0).map((c) => [c.attempt, c.at])).toEqual([
      [1, 0],
      [2, 100],
    ]);
    expect(h.written.map((r) => r.id)).toEqual(range(10));
    expect(h.pagesRead).toBe(1);
    expect(summary.counters).toMatchObject({ read: 10, written: 10, retries: 1 });
  });

  it.each([
    ['synchronously', false],
    ['asynchronously', true],
  ])('a run failing %s aborts the attempts in flight and starts no new one', async (_, async) => {
    const signals: AbortSignal[] = [];
    const h = harness(10, (record, info) => {
      if (record.id === 0) {
        signals.push(info.signal);
        return new Promise((_resolve, reject) => info.signal.addEventListener('abort', () => reject(info.signal.reason as Error)));
      }
      if (record.id === 1) {
        if (async) return Promise.reject(new PermanentError('broken'));
        throw new PermanentError('broken');
      }
      return record;
    });
    const { summary } = await run(h, job('concurrency: 2\nonError: fail', { batch: '{ size: 10, inFlight: 1 }' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/step 'flaky' failed at input\.jsonl:2: broken/);
    expect(signals[0]!.aborted).toBe(true);
    expect(h.calls.map((c) => c.id)).toEqual([0, 1]);
    expect(h.written).toEqual([]);
    // Records never started are not counted through any door.
    expect(summary.counters).toMatchObject({ read: 10, written: 0, filtered: 0, deadLettered: 0, skipped: 0 });
  });
});

describe('per-attempt timeout', () => {
  it('an attempt that never settles is timed out and its signal aborted', async () => {
    const signals: AbortSignal[] = [];
    const h = harness(2, (record, info) => {
      if (record.id === 1) {
        signals.push(info.signal);
        return new Promise<never>(() => {});
      }
      return record;
    });
    const { summary } = await run(h, job('timeout: 30ms\nretry: { attempts: 2, initialDelay: 50ms, jitter: false }\nonError: deadLetter'));
    expect(summary.status).toBe('done');
    expect(signals).toHaveLength(2);
    for (const signal of signals) {
      expect(signal.aborted).toBe(true);
      expect(String((signal.reason as Error).message)).toMatch(/timed out after 30ms/);
    }
    expect(h.dead).toHaveLength(1);
    expect(h.dead[0]).toMatchObject({ step: 'flaky', attempts: 2, position: { file: 'input.jsonl', line: 2 } });
    expect(h.dead[0]!.error).toMatch(/timed out after 30ms/);
    expect(h.written).toEqual([{ id: 0 }]);
  });

  it('the signal is aborted even when the plugin reads it only after the timeout', async () => {
    let seen: ((signal: AbortSignal) => void) | undefined;
    const read = new Promise<AbortSignal>((resolve) => (seen = resolve));
    const h = harness(1, async (_record, info) => {
      await new Promise((resolve) => setTimeout(resolve, 80)); // real time, past the timeout
      seen!(info.signal);
      return new Promise<never>(() => {});
    });
    const { summary } = await run(h, job('timeout: 20ms\nretry: { attempts: 1 }\nonError: deadLetter'));
    expect(summary.counters.deadLettered).toBe(1);
    const signal = await read;
    expect(signal.aborted).toBe(true);
  });
});

describe('onError and the error budget', () => {
  it('onError: skip counts skipped records and writes the rest', async () => {
    const h = harness(25, (record) => {
      if ((record.id as number) % 5 === 0) throw new RecordError('bad');
      return record;
    });
    const { summary, events } = await run(h, job('onError: skip'));
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ read: 25, written: 20, skipped: 5, deadLettered: 0 });
    expect(events.filter((e) => e.type === 'skip')).toHaveLength(5);
    expect(h.dead).toEqual([]);
    expect(h.written.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => i).filter((i) => i % 5 !== 0));
    expectBalanced(summary.counters);
  });

  it('onError: fail fails the run, names the step and position, and the checkpoint stays before the failing batch', async () => {
    const h = harness(100, (record) => {
      if (record.id === 47) throw new RecordError('amount is negative');
      return record;
    });
    const { summary } = await run(h, job('onError: fail', { name: 'fail-test', checkpoint: '{ store: file, path: ckpt-fail }', batch: '{ size: 10, inFlight: 2 }' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toContain("step 'flaky'");
    expect(summary.error).toContain('input.jsonl:48');
    expect(summary.error).toContain('amount is negative');
    // Batch 4 holds record 47: neither it nor anything after it reached the sink or the checkpoint.
    expect(Math.max(...h.seqs)).toBeLessThan(4);
    expect(h.written.every((r) => (r.id as number) < 40)).toBe(true);
    const checkpoint = JSON.parse(await readFile(join(dir, 'ckpt-fail', 'fail-test.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.seq).toBeLessThan(4);
    expect(checkpoint.cursor).toBe((checkpoint.seq + 1) * 10);
    expect(checkpoint.done).toBe(false);
    expect(checkpoint.counters.written).toBe((checkpoint.seq + 1) * 10);
  });

  it('the default onError of a transform is fail', async () => {
    const h = harness(5, (record) => {
      if (record.id === 2) throw new PermanentError('nope');
      return record;
    });
    const { summary } = await run(h, job('retry: { attempts: 2 }'));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/step 'flaky' failed at input\.jsonl:3: nope/);
  });

  it('a sink failing with onError: fail fails the run and the checkpoint stays before that batch', async () => {
    const h = harness(60, (record) => record, { failSinkAt: 33 });
    const { summary } = await run(h, job('onError: deadLetter', { name: 'sink-fail', checkpoint: '{ store: file, path: ckpt-sink }', sinkOnError: 'fail' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toContain("step 'sink'");
    expect(summary.error).toContain('sink refuses');
    const checkpoint = JSON.parse(await readFile(join(dir, 'ckpt-sink', 'sink-fail.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.seq).toBeLessThan(3);
    // Batch 3 was halved to isolate record 33; its other records may have reached the sink.
    expect(h.seqs.every((seq) => seq <= 3)).toBe(true);
    expect(h.written.some((r) => r.id === 33)).toBe(false);
    expect(h.written.some((r) => (r.id as number) >= 40)).toBe(false);
  });

  it('a halved batch: each part says where it lies in the whole write (offset, of), nested halves too, so a sink can tell the halves of one seq apart', async () => {
    const h = harness(10, (record) => record, { failSinkAt: 7 });
    const { summary } = await run(h, job('with: {}', { batch: '{ size: 10, inFlight: 1 }', sinkOnError: 'deadLetter' }));
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ written: 9, deadLettered: 1 });
    expect(h.writes).toEqual([
      { seq: 0, ids: range(10) },
      { seq: 0, ids: [0, 1, 2, 3, 4], part: { offset: 0, of: 10 } },
      { seq: 0, ids: [5, 6, 7, 8, 9], part: { offset: 5, of: 10 } },
      { seq: 0, ids: [5, 6, 7], part: { offset: 5, of: 10 } },
      { seq: 0, ids: [5, 6], part: { offset: 5, of: 10 } },
      { seq: 0, ids: [7], part: { offset: 7, of: 10 } },
      { seq: 0, ids: [8, 9], part: { offset: 8, of: 10 } },
    ]);
    expect(h.dead.map((d) => d.record)).toEqual([{ id: 7 }]);
  });

  it('errors.maxFailed: 2 stops the run at the third failure', async () => {
    const failing = new Set([2, 5, 8, 11, 14]);
    const h = harness(40, (record) => {
      if (failing.has(record.id as number)) throw new RecordError(`bad ${String(record.id)}`);
      return record;
    });
    const { summary } = await run(h, job('onError: deadLetter', { batch: '{ size: 1, inFlight: 1 }', errors: '{ maxFailed: 2 }' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/error budget spent: 3 records failed \(errors\.maxFailed: 2\); last: bad 8/);
    // Two failures are within the budget and were dead-lettered; the third stopped everything.
    expect(h.dead.map((d) => d.record)).toEqual([{ id: 2 }, { id: 5 }]);
    expect(h.calls.some((c) => c.id === 11)).toBe(false);
    expect(h.written.map((r) => r.id)).toEqual([0, 1, 3, 4, 6, 7]);
    expect(h.pagesRead).toBeLessThanOrEqual(10);
  });

  it('errors.maxFailed: 2 lets exactly two failures through', async () => {
    const h = harness(40, (record) => {
      if (record.id === 2 || record.id === 30) throw new RecordError('bad');
      return record;
    });
    const { summary } = await run(h, job('onError: deadLetter', { errors: '{ maxFailed: 2 }' }));
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ written: 38, deadLettered: 2 });
  });

  it('errors.maxFailed: "10%" fails a run where 20% of records fail', async () => {
    const h = harness(300, (record) => {
      if ((record.id as number) % 5 === 0) throw new RecordError('bad');
      return record;
    });
    const { summary } = await run(h, job('onError: skip', { errors: '{ maxFailed: "10%" }' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/error budget spent: \d+ of \d+ records failed \(20\.0% > errors\.maxFailed: 10%\)/);
    expect(h.pagesRead).toBeLessThan(30);
  });

  it('errors.maxFailed: "10%" lets a run with 5% failures finish', async () => {
    const h = harness(300, (record) => {
      if ((record.id as number) % 20 === 0) throw new RecordError('bad');
      return record;
    });
    const { summary } = await run(h, job('onError: deadLetter', { errors: '{ maxFailed: "10%" }' }));
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ read: 300, deadLettered: 15, written: 285 });
  });

  it('errors.maxFailed: "10%" is checked at the end of a short run too', async () => {
    const h = harness(20, (record) => {
      if ((record.id as number) < 3) throw new RecordError('bad');
      return record;
    });
    const { summary } = await run(h, job('onError: deadLetter', { errors: '{ maxFailed: "10%" }' }));
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/3 of 20 records failed \(15\.0% > errors\.maxFailed: 10%\)/);
  });
});
