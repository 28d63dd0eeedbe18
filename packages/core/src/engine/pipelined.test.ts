import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { RecordError, TransientError } from '../errors/index.js';
import type { DeadLetterEntry, RunSummary } from '../events/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { SinkInstance, SluiceRecord, WriteResult } from '../plugin/types.js';
import { JobRun } from './run.js';

// Pipelined sinks (`SinkInstance.pipeline`), driven by hand: every write returns a promise the
// test settles itself, so "batch N+1 was handed over while N was pending" is a fact, not a timing.

/** One `write` call the test has not settled yet. */
interface PendingWrite {
  readonly seq: number;
  readonly attempt: number;
  readonly ids: number[];
  resolve(result?: WriteResult): void;
  reject(error: Error): void;
  settled: boolean;
}

/** A sink whose writes wait for the test; `pipeline` as given. */
function handSink(name: string, pipeline: number | undefined, calls: PendingWrite[], written: number[]) {
  return defineSink({
    name,
    description: 'writes when the test says so',
    schema: { type: 'object' },
    create: (): SinkInstance => ({
      ...(pipeline !== undefined ? { pipeline } : {}),
      write(records, info) {
        return new Promise<WriteResult | void>((resolve, reject) => {
          const call: PendingWrite = {
            seq: info.seq,
            attempt: info.attempt,
            ids: records.map((r) => r.id as number),
            resolve: (result) => {
              call.settled = true;
              const refused = new Set((result?.rejected ?? []).map((r) => r.index));
              written.push(...call.ids.filter((_, i) => !refused.has(i)));
              resolve({ ...result, state: { seq: info.seq } });
            },
            reject: (error) => {
              call.settled = true;
              reject(error);
            },
            settled: false,
          };
          calls.push(call);
        });
      },
    }),
  });
}

function listSource(count: number) {
  return defineSource({
    name: 'list',
    description: 'records 0…count-1',
    schema: { type: 'object' },
    create: () => ({
      async *read({ cursor, batchSize }) {
        for (let at = (cursor as number | undefined) ?? 0; at < count; at += batchSize) {
          const records: SluiceRecord[] = [];
          for (let id = at; id < Math.min(count, at + batchSize); id++) records.push({ id });
          yield { records, cursor: at + records.length, positions: records.map((r) => ({ line: (r.id as number) + 1 })) };
        }
      },
    }),
  });
}

class MemoryStore implements CheckpointStore {
  readonly saved: Checkpoint[] = [];
  readonly location = 'memory';
  async load() {
    return undefined;
  }
  async save(checkpoint: Checkpoint) {
    this.saved.push(checkpoint);
  }
  async clear() {}
}

/** Lets the engine run until `ready()` holds (no clock involved: only queued work runs). */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (ready()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

/** Settles nothing for a while: proves something does *not* happen while the engine idles. */
async function idle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-pipelined-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(count: number, sinks: Array<{ name: string; pipeline?: number }>, options: { inFlight?: number; retry?: string; onError?: string } = {}) {
  const calls: Record<string, PendingWrite[]> = {};
  const written: Record<string, number[]> = {};
  const dead: DeadLetterEntry[] = [];
  const registry = new PluginRegistry();
  registry.add(listSource(count), 'test');
  for (const sink of sinks) registry.add(handSink(sink.name, sink.pipeline, (calls[sink.name] = []), (written[sink.name] = [])), 'test');
  registry.add(
    defineSink({
      name: 'dl',
      description: 'keeps dead letters',
      schema: { type: 'object' },
      create: () => ({
        async write(entries) {
          dead.push(...(entries as unknown as DeadLetterEntry[]));
        },
      }),
    }),
    'test',
  );
  const sinkLines = sinks
    .map((s) => `  - { id: ${s.name}, use: ${s.name}${options.retry ? `, retry: ${options.retry}` : ''}${options.onError ? `, onError: ${options.onError}` : ''} }`)
    .join('\n');
  const text = `
version: 1
name: pipelined
batch: { size: 10, inFlight: ${options.inFlight ?? 4} }
source: { use: list }
sinks:
${sinkLines}
deadLetter: { use: dl }
`;
  const { plan, diagnostics } = await loadJobText(text, { registry, dir, env: {} });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  const store = new MemoryStore();
  const run = new JobRun(plan, { checkpointStores: { file: () => store } });
  const done: Promise<RunSummary> = run.run();
  return { calls, written, dead, store, done };
}

describe('pipelined sinks', () => {
  it('a sink with pipeline: 2 is handed batch N+1 while batch N is pending; a plain sink next to it is not', async () => {
    const { calls, store, done } = await start(40, [
      { name: 'fast', pipeline: 2 },
      { name: 'plain' },
    ]);
    await until(() => calls.fast!.length === 2, 'the pipelined sink gets batch 1 before batch 0 finished');
    expect(calls.fast!.map((c) => [c.seq, c.settled])).toEqual([
      [0, false],
      [1, false],
    ]);
    // The plain sink got batch 0 only; the pipelined one takes no third batch while two are pending.
    await idle();
    expect(calls.plain!.map((c) => c.seq)).toEqual([0]);
    expect(calls.fast!).toHaveLength(2);

    // Batch 1 finishes first everywhere it can: the checkpoint must not pass batch 0.
    calls.fast![1]!.resolve();
    calls.plain![0]!.resolve();
    await until(() => calls.fast!.length === 3 && calls.plain!.length === 2, 'the sinks get the next batches');
    await idle();
    expect(store.saved).toEqual([]);

    calls.fast![0]!.resolve();
    await until(() => store.saved.length > 0, 'a checkpoint once batch 0 is finished everywhere');
    expect(store.saved.at(-1)!.seq).toBe(0);
    expect(store.saved.at(-1)!.sinks).toEqual({ fast: { seq: 0 }, plain: { seq: 0 } });

    // The rest, in order; the final checkpoint covers everything.
    for (;;) {
      const open = [...calls.fast!, ...calls.plain!].filter((c) => !c.settled);
      if (open.length === 0 && calls.fast!.length === 4 && calls.plain!.length === 4) break;
      for (const call of open) call.resolve();
      await idle();
    }
    const summary = await done;
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ read: 40, written: 40 });
    expect(calls.fast!.map((c) => c.seq)).toEqual([0, 1, 2, 3]);
    expect(store.saved.at(-1)).toMatchObject({ seq: 3, done: true, sinks: { fast: { seq: 3 }, plain: { seq: 3 } } });
  });

  it('a failed pipelined write: nothing new is handed over, the later writes settle, then the failed batch is retried before them', async () => {
    const { calls, written, store, done } = await start(40, [{ name: 'fast', pipeline: 3 }], { retry: '{ attempts: 3, initialDelay: 1ms }' });
    const fast = () => calls.fast!;
    await until(() => fast().length === 3, 'three batches handed over');
    // Batch 0 fails; the sink, whose output depends on order, fails the ones it holds after it.
    fast()[0]!.reject(new TransientError('connection reset'));
    await idle();
    expect(fast()).toHaveLength(3);
    fast()[1]!.reject(new TransientError('an earlier write failed'));
    await idle();
    // Batch 2 is still pending: no retry yet, and no batch 3.
    expect(fast()).toHaveLength(3);
    fast()[2]!.reject(new TransientError('an earlier write failed'));
    await until(() => fast().length === 4, 'batch 0 retried');
    expect(fast().map((c) => [c.seq, c.attempt])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
      [0, 2],
    ]);
    fast()[3]!.resolve();
    await until(() => fast().length === 5, 'batch 1 retried');
    expect(fast()[4]).toMatchObject({ seq: 1, attempt: 2 });
    fast()[4]!.resolve();
    await until(() => fast().length === 6, 'batch 2 retried');
    expect(fast()[5]).toMatchObject({ seq: 2, attempt: 2 });
    fast()[5]!.resolve();
    await until(() => fast().length === 7, 'batch 3 handed over once every failed batch went through');
    expect(fast()[6]).toMatchObject({ seq: 3, attempt: 1 });
    fast()[6]!.resolve();
    const summary = await done;
    expect(summary.status).toBe('done');
    expect(written.fast).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(summary.counters).toMatchObject({ read: 40, written: 40, retries: 3 });
    expect(store.saved.at(-1)).toMatchObject({ seq: 3, done: true });
  });

  it('a later pipelined write that fails first is still retried after the earlier one: retries go in source order', async () => {
    const { calls, written, done } = await start(40, [{ name: 'fast', pipeline: 3 }], { retry: '{ attempts: 3, initialDelay: 1ms }' });
    const fast = () => calls.fast!;
    await until(() => fast().length === 3, 'three batches handed over');
    // The session of batch 2 is cut first; batches 1 and 0 fail after it (a "done up to seq N"
    // sink that retried 2 first would mark 1 and 0 as done and skip them).
    fast()[2]!.reject(new TransientError('connection lost'));
    await idle();
    fast()[1]!.reject(new TransientError('connection lost'));
    await idle();
    fast()[0]!.reject(new TransientError('connection lost'));
    for (let retried = 0; retried < 3; retried++) {
      await until(() => fast().length === 4 + retried, `retry ${retried + 1}`);
      await idle();
      expect(fast()).toHaveLength(4 + retried);
      fast()[3 + retried]!.resolve();
    }
    expect(fast().slice(3).map((c) => [c.seq, c.attempt])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    for (;;) {
      await idle();
      const open = fast().filter((c) => !c.settled);
      if (open.length === 0 && fast().length === 7) break;
      for (const call of open) call.resolve();
    }
    const summary = await done;
    expect(summary.status).toBe('done');
    expect(written.fast).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it("a pipelined write's refused records are dead-lettered, and a batch it refuses whole is halved", async () => {
    const { calls, dead, done } = await start(20, [{ name: 'fast', pipeline: 2 }], { onError: 'deadLetter' });
    const fast = () => calls.fast!;
    await until(() => fast().length === 2, 'two batches handed over');
    // Batch 0: record 3 refused in the result. Batch 1: refused whole, then halved down to id 17.
    fast()[0]!.resolve({ rejected: [{ index: 3, error: new Error('too long') }] });
    fast()[1]!.reject(new RecordError('bad row somewhere'));
    for (;;) {
      await idle();
      const open = fast().filter((c) => !c.settled);
      if (open.length === 0) break;
      for (const call of open) {
        if (call.ids.includes(17)) call.reject(new RecordError('id 17 is bad'));
        else call.resolve();
      }
    }
    const summary = await done;
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ read: 20, written: 18, deadLettered: 2 });
    expect(dead.map((d) => [d.position, d.error])).toEqual([
      [{ line: 4 }, 'too long'],
      [{ line: 18 }, 'id 17 is bad'],
    ]);
  });
});
