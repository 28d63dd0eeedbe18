import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCheckpointStore } from '../checkpoint/file-store.js';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { PermanentError, RecordError, TransientError } from '../errors/index.js';
import type { DeadLetterEntry, JobCounters, RunEvent } from '../events/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { RecordInfo, SinkInstance, SluiceRecord, TransformResult, WriteInfo, WriteResult } from '../plugin/types.js';
import { CheckpointMismatchError, JobRun, type RunOptions } from './run.js';

// ---------- a small kit of real plugins ----------

/** A seeded PRNG (mulberry32), so "random" delays are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const ids = (records: readonly SluiceRecord[]) => records.map((r) => r.id as number);
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

interface SourceLog {
  /** Pages yielded so far. */
  pages: number;
}

/**
 * `list`: `{ id }` records from `records`, a page per `batchSize`; cursor = records done;
 * position `input.jsonl:<id + 1>`. `beforeYield(page)` runs before each page is handed out.
 */
function listSource(count: number, log: SourceLog = { pages: 0 }, beforeYield?: (page: number) => void | Promise<void>) {
  return defineSource({
    name: 'list',
    description: 'test records',
    schema: { type: 'object' },
    create: () => ({
      async *read({ cursor, batchSize, signal }) {
        for (let at = (cursor as number | undefined) ?? 0; at < count; at += batchSize) {
          if (signal.aborted) return;
          const records = range(Math.min(batchSize, count - at), at).map((id) => ({ id }));
          await beforeYield?.(at / batchSize);
          log.pages++;
          yield { records, cursor: at + records.length, positions: records.map((r) => ({ file: 'input.jsonl', line: r.id + 1 })) };
        }
      },
    }),
  });
}

function transform(name: string, process: (record: SluiceRecord, info: RecordInfo) => TransformResult | Promise<TransformResult>) {
  return defineTransform({ name, description: 'test transform', schema: { type: 'object' }, create: () => ({ process }) });
}

/** What one memory sink saw. */
interface SinkLog {
  /** Every `write` call, failed ones included. */
  calls: Array<{ seq: number; ids: number[]; attempt: number }>;
  /** Records of the calls that succeeded, in order. */
  written: SluiceRecord[];
  /** Sequence numbers of successful writes. */
  seqs: number[];
  /** At each flush: the last seq and record count written before it. */
  flushes: Array<{ seq: number; count: number }>;
  /** What the last flush made durable. */
  durable: { seq: number; count: number };
}
const sinkLog = (): SinkLog => ({ calls: [], written: [], seqs: [], flushes: [], durable: { seq: -1, count: 0 } });

/**
 * A file-like sink over an in-memory "disk" (`disks[path]`): appends, reports `{ seq, count }` as
 * its state, and on a resume truncates to the count it saved, as the file sink does.
 */
function memorySink(
  name: string,
  logs: Record<string, SinkLog>,
  options: {
    disks?: Map<string, SluiceRecord[]>;
    delay?: () => number;
    write?: (records: SluiceRecord[], info: WriteInfo) => WriteResult | void | Promise<WriteResult | void>;
  } = {},
) {
  const disks = options.disks ?? new Map<string, SluiceRecord[]>();
  return defineSink({
    name,
    description: 'keeps what it is given',
    schema: { type: 'object', properties: { log: { type: 'string' } }, required: ['log'] },
    create: (config, ctx): SinkInstance => {
      const key = config.log as string;
      const log = (logs[key] ??= sinkLog());
      const saved = ctx.state as { seq: number; count: number } | undefined;
      const disk = disks.get(key) ?? [];
      disk.length = saved ? saved.count : 0;
      disks.set(key, disk);
      let last = saved ?? { seq: -1, count: 0 };
      return {
        async write(records, info) {
          log.calls.push({ seq: info.seq, ids: ids(records), attempt: info.attempt });
          const delay = options.delay?.() ?? 0;
          if (delay > 0) await pause(delay);
          const result = await options.write?.(records, info);
          const rejected = new Set((result?.rejected ?? []).map((r) => r.index));
          const kept = records.filter((_, i) => !rejected.has(i));
          disk.push(...kept);
          log.written.push(...kept);
          log.seqs.push(info.seq);
          last = { seq: info.seq, count: disk.length };
          return result ?? undefined;
        },
        state: () => last,
        async flush() {
          log.flushes.push({ ...last });
          log.durable = { ...last };
        },
      };
    },
  });
}

function deadLetterSink(dead: DeadLetterEntry[]) {
  return defineSink({
    name: 'dl',
    description: 'keeps dead letters',
    schema: { type: 'object' },
    create: () => ({
      async write(entries) {
        dead.push(...(entries as unknown as DeadLetterEntry[]));
      },
    }),
  });
}

/** A tiny file-like sink named `file`, so a job's default dead letter (`use: file`, `path`) works. */
function jsonLinesFile() {
  return defineSink({
    name: 'file',
    description: 'appends JSON lines to with.path',
    schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
    create: (config, ctx) => {
      const path = ctx.resolvePath(config.path as string);
      return {
        async write(records) {
          await mkdir(dirname(path), { recursive: true });
          await appendFile(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
        },
      };
    },
  });
}

// `unknown`: checking a define* result against AnyPluginDefinition can hit TS2589.
function registryOf(...plugins: unknown[]): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of plugins) expect(registry.add(plugin, 'test')).toEqual([]);
  return registry;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-pipeline-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function planOf(registry: PluginRegistry, text: string) {
  const { plan, diagnostics } = await loadJobText(text, { registry, dir, env: {} });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return plan;
}

async function run(registry: PluginRegistry, text: string, options: RunOptions = {}) {
  const plan = await planOf(registry, text);
  const jobRun = new JobRun(plan, options);
  const events: RunEvent[] = [];
  jobRun.bus.on((event) => events.push(event));
  const summary = await jobRun.run();
  return { summary, events, plan };
}

function expectBalanced(c: JobCounters): void {
  expect(c.read + c.produced).toBe(c.written + c.filtered + c.deadLettered + c.skipped);
}

/** A store that checks every checkpoint against what the sinks had made durable before it. */
class CheckingStore implements CheckpointStore {
  readonly saved: Checkpoint[] = [];
  readonly violations: string[] = [];
  constructor(
    private readonly inner: CheckpointStore,
    private readonly logs: Record<string, SinkLog>,
    private readonly recordsPerPage: number,
    private readonly saveDelay: () => number = () => 0,
  ) {}
  get location() {
    return this.inner.location;
  }
  load() {
    return this.inner.load();
  }
  clear() {
    return this.inner.clear();
  }
  async save(checkpoint: Checkpoint): Promise<void> {
    const previous = this.saved.at(-1);
    if (previous && checkpoint.seq < previous.seq) this.violations.push(`seq went back from ${previous.seq} to ${checkpoint.seq}`);
    for (const [id, log] of Object.entries(this.logs)) {
      if (checkpoint.seq > log.durable.seq) this.violations.push(`checkpoint seq ${checkpoint.seq} is past what ${id} flushed (${log.durable.seq})`);
      if ((checkpoint.cursor as number) > log.durable.count) {
        this.violations.push(`checkpoint cursor ${String(checkpoint.cursor)} is past what ${id} flushed (${log.durable.count} records)`);
      }
      // The sink state saved must be the state right after the watermark batch, not a later one.
      const state = checkpoint.sinks[id] as { seq: number; count: number } | undefined;
      if (state && (state.seq !== checkpoint.seq || state.count !== (checkpoint.seq + 1) * this.recordsPerPage)) {
        this.violations.push(`checkpoint seq ${checkpoint.seq} saved ${id}'s state of seq ${state.seq} (${state.count} records)`);
      }
    }
    this.saved.push(checkpoint);
    const delay = this.saveDelay();
    if (delay) await pause(delay);
    await this.inner.save(checkpoint);
  }
}

// ---------- the tests ----------

describe('ordering, watermark and checkpoints', () => {
  /** 50 pages of 20, 8 batches in flight, a concurrent transform with a random delay per batch. */
  async function outOfOrderRun(name: string, sinks: string[], options: { sinkDelay?: number; saveDelay?: number; seed?: number } = {}) {
    const random = seeded(options.seed ?? 7);
    const batchDelay = range(50).map(() => Math.floor(random() * 8));
    const finished: number[] = [];
    const logs: Record<string, SinkLog> = {};
    const source: SourceLog = { pages: 0 };
    let maxAhead = 0;
    const sinkRandom = seeded(99);
    let releaseSecond!: () => void;
    const secondDone = new Promise<void>((resolve) => (releaseSecond = resolve));
    const registry = registryOf(
      listSource(1000, source, () => {
        // This page is about to be read: how far is the source ahead of the slowest sink?
        const written = Math.min(...sinks.map((s) => logs[s]?.seqs.length ?? 0));
        maxAhead = Math.max(maxAhead, source.pages + 1 - written);
      }),
      transform('jitter', async (record) => {
        const page = Math.floor((record.id as number) / 20);
        await pause(batchDelay[page]!);
        // Random delays alone may finish in order on a loaded machine (coarse timers): batch 1's
        // last record also waits for batch 2 to finish, so at least one pair is out of order.
        if (record.id === 39) await secondDone;
        if ((record.id as number) % 20 === 19) finished.push(page);
        if (record.id === 59) releaseSecond();
        return { ...record, page };
      }),
      memorySink('memory', logs, { delay: () => (options.sinkDelay ? Math.floor(sinkRandom() * options.sinkDelay) : 0) }),
      jsonLinesFile(),
    );
    const store = { current: undefined as CheckingStore | undefined };
    const { summary, events } = await run(
      registry,
      `
version: 1
name: ${name}
batch: { size: 20, inFlight: 8 }
checkpoint: { store: file, path: ckpt }
source: { use: list }
steps:
  - use: jitter
    concurrency: 16
sinks:
${sinks.map((s) => `  - { id: ${s}, use: memory, with: { log: ${s} } }`).join('\n')}
`,
      {
        checkpointStores: {
          file: ({ config, job, dir: jobDir }) =>
            (store.current = new CheckingStore(new FileCheckpointStore(join(jobDir, String(config.path)), job), logs, 20, () => (options.saveDelay ? Math.floor(sinkRandom() * options.saveDelay) : 0))),
        },
      },
    );
    return { summary, events, logs, finished, maxAhead, store: store.current!, source };
  }

  it('sinks see batches in source order although batches finish out of order', async () => {
    const { summary, logs, finished } = await outOfOrderRun('order', ['out']);
    expect(summary.status).toBe('done');
    // The transform really did finish batches out of order…
    expect(finished).toHaveLength(50);
    expect(finished).not.toEqual([...finished].sort((a, b) => a - b));
    // …and the sink still got them strictly in order, every record once.
    const seqs = logs.out!.seqs;
    expect(seqs).toEqual(range(50));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    expect(ids(logs.out!.written)).toEqual(range(1000));
    expect(summary.counters).toMatchObject({ read: 1000, written: 1000 });
  });

  it('every checkpoint is at or behind what each sink flushed, with the sinks\' states of that batch, and never goes back', async () => {
    const { summary, store, logs, events } = await outOfOrderRun('durable', ['fast', 'slow'], { sinkDelay: 4, saveDelay: 3 });
    expect(summary.status).toBe('done');
    expect(store.violations).toEqual([]);
    expect(store.saved.length).toBeGreaterThan(1);
    const last = store.saved.at(-1)!;
    expect(last).toMatchObject({ seq: 49, cursor: 1000, done: true, counters: { read: 1000, written: 1000 } });
    expect(last.sinks).toEqual({ fast: { seq: 49, count: 1000 }, slow: { seq: 49, count: 1000 } });
    // Each checkpoint came after a flush of every sink.
    for (const log of Object.values(logs)) expect(log.flushes.length).toBeGreaterThanOrEqual(store.saved.length);
    // The events report the same checkpoints, in order, once each (the final save marks the last one done).
    expect(events.filter((e) => e.type === 'checkpoint').map((e) => (e as { seq: number }).seq)).toEqual([...new Set(store.saved.map((c) => c.seq))]);
    // The saved file is the last checkpoint.
    const onDisk = JSON.parse(await readFile(join(dir, 'ckpt', 'durable.json'), 'utf8')) as Checkpoint;
    expect(onDisk).toEqual(last);
  });

  it.each([1, 2, 3])('checkpoints carry the sink states of the watermark batch (seed %i)', async (seed) => {
    const { summary, store } = await outOfOrderRun(`states-${seed}`, ['a', 'b', 'c'], { sinkDelay: 3, saveDelay: 2, seed });
    expect(summary.status).toBe('done');
    expect(store.violations).toEqual([]);
  });

  it('at most batch.inFlight batches are between read and commit: a slow sink holds the source back', async () => {
    const { summary, maxAhead, source } = await outOfOrderRun('bounded', ['slow'], { sinkDelay: 6 });
    expect(summary.status).toBe('done');
    expect(source.pages).toBe(50);
    expect(maxAhead).toBeLessThanOrEqual(8);
    expect(maxAhead).toBeGreaterThanOrEqual(2); // the window is used, not serialised
  });
});

describe('every record leaves through one door', () => {
  it('read + produced = written + filtered + deadLettered + skipped, door by door', async () => {
    const logs: Record<string, SinkLog> = {};
    const dead: DeadLetterEntry[] = [];
    const sinkPositions: string[] = [];
    const registry = registryOf(
      listSource(500),
      transform('shape', (record) => {
        const id = record.id as number;
        if (id % 17 === 0) throw new RecordError('seventeen');
        if (id % 7 === 0) return null;
        if (id % 13 === 0) return [];
        if (id % 11 === 0) return [record, { ...record, copy: 1 }, { ...record, copy: 2 }];
        return record;
      }),
      transform('picky', async (record) => {
        if ((record.id as number) % 19 === 0) throw new PermanentError('nineteen');
        return record;
      }),
      defineTransform({
        name: 'drop',
        description: 'drops records with where (a tiny filter)',
        schema: { type: 'object' },
        create: () => ({ process: (record) => ((record.id as number) % 23 === 0 ? null : record) }),
      }),
      memorySink('memory', logs, {
        write: (records, info) => {
          // Each record's position, after records were dropped, failed and became several.
          records.forEach((r, index) => sinkPositions.push(`${r.id} ${JSON.stringify(info.positions[index])}`));
          return {
            rejected: records.flatMap((r, index) => ((r.id as number) % 29 === 0 && r.copy === undefined ? [{ index, error: new RecordError('twenty-nine') }] : [])),
          };
        },
      }),
      deadLetterSink(dead),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: doors
batch: { size: 25, inFlight: 3 }
checkpoint: { store: none }
source: { use: list }
steps:
  - { id: shape, use: shape, onError: deadLetter }
  - { id: picky, use: picky, onError: skip }
  - { id: drop, use: drop }
sink: { use: memory, with: { log: out }, onError: deadLetter }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');

    // The same doors, worked out by hand.
    const expected = { read: 500, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0 };
    for (const id of range(500)) {
      if (id % 17 === 0) {
        expected.deadLettered++;
        continue;
      }
      if (id % 7 === 0 || id % 13 === 0) {
        expected.filtered++;
        continue;
      }
      const copies = id % 11 === 0 ? 3 : 1;
      expected.produced += copies - 1;
      for (let copy = 0; copy < copies; copy++) {
        if (id % 19 === 0) expected.skipped++;
        else if (id % 23 === 0) expected.filtered++;
        else if (id % 29 === 0 && copy === 0) expected.deadLettered++;
        else expected.written++;
      }
    }
    expect(summary.counters).toMatchObject(expected);
    expectBalanced(summary.counters);
    expect(logs.out!.written).toHaveLength(expected.written);
    expect(dead).toHaveLength(expected.deadLettered);
    expect(dead.filter((d) => d.step === 'sink')).toSatisfy((list: DeadLetterEntry[]) => list.every((d) => d.kind === 'sink' && d.error === 'twenty-nine'));
    const step = (id: string) => summary.steps.find((s) => s.id === id)!;
    expect(step('source').out).toBe(500);
    expect(step('shape')).toMatchObject({ in: 500, failed: 30 });
    expect(step('picky').failed).toBe(expected.skipped);
    expect(step('sink').out).toBe(expected.written);
    // Positions are the source's, whichever door: the sink's info and every dead letter.
    const at = (id: number) => JSON.stringify({ file: 'input.jsonl', line: id + 1 });
    expect(sinkPositions.length).toBeGreaterThan(expected.written);
    for (const seen of sinkPositions) expect(seen).toBe(`${seen.split(' ')[0]} ${at(Number(seen.split(' ')[0]))}`);
    for (const d of dead) expect(d.position).toEqual({ file: 'input.jsonl', line: (d.record as { id: number }).id + 1 });
  });

  it("records the source could not parse follow the source's onError and are counted as read", async () => {
    const logs: Record<string, SinkLog> = {};
    const dead: DeadLetterEntry[] = [];
    const long = `{"id": ${'9'.repeat(12_000)}`;
    const registry = registryOf(
      defineSource({
        name: 'lines',
        description: 'two pages with unparseable lines',
        schema: { type: 'object' },
        create: () => ({
          async *read() {
            yield { records: [{ id: 0 }, { id: 2 }], cursor: 3, errors: [{ error: new Error('Unexpected token } in JSON'), raw: '{"id": 1}}', position: { file: 'in.jsonl', line: 2 } }] };
            yield { records: [{ id: 3 }], cursor: 5, errors: [{ error: new Error('Unterminated string'), raw: long, position: { file: 'in.jsonl', line: 5 } }] };
          },
        }),
      }),
      memorySink('memory', logs),
      deadLetterSink(dead),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: parse-errors
checkpoint: { store: none }
source: { use: lines, onError: deadLetter }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(ids(logs.out!.written)).toEqual([0, 2, 3]);
    expect(summary.counters).toMatchObject({ read: 5, written: 3, deadLettered: 2 });
    expectBalanced(summary.counters);
    expect(dead.map((d) => [d.step, d.kind, d.stepIndex, d.error, d.position, 'record' in d])).toEqual([
      ['source', 'source', -1, 'Unexpected token } in JSON', { file: 'in.jsonl', line: 2 }, false],
      ['source', 'source', -1, 'Unterminated string', { file: 'in.jsonl', line: 5 }, false],
    ]);
    expect(dead[0]!.raw).toBe('{"id": 1}}');
    expect(dead[1]!.raw!.length).toBe(10_001);
  });

  it('a sink returning { rejected } dead-letters those records and writes the rest', async () => {
    const logs: Record<string, SinkLog> = {};
    const dead: DeadLetterEntry[] = [];
    const registry = registryOf(
      listSource(30),
      memorySink('memory', logs, {
        write: (records) => ({
          rejected: records.flatMap((r, index) => (r.id === 4 || r.id === 17 ? [{ index, error: new RecordError(`duplicate key ${String(r.id)}`) }] : [])),
        }),
      }),
      deadLetterSink(dead),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: rejected
batch: { size: 10 }
checkpoint: { store: none }
source: { use: list }
sink: { use: memory, with: { log: out }, onError: deadLetter }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(ids(logs.out!.written)).toEqual(range(30).filter((i) => i !== 4 && i !== 17));
    expect(dead.map((d) => [d.record, d.step, d.kind, d.attempts, d.error, d.position, d.batch])).toEqual([
      [{ id: 4 }, 'sink', 'sink', 1, 'duplicate key 4', { file: 'input.jsonl', line: 5 }, 0],
      [{ id: 17 }, 'sink', 'sink', 1, 'duplicate key 17', { file: 'input.jsonl', line: 18 }, 1],
    ]);
    expect(summary.counters).toMatchObject({ read: 30, written: 28, deadLettered: 2 });
    expect(summary.steps.find((s) => s.id === 'sink')).toMatchObject({ in: 30, out: 28, failed: 2 });
  });

  it('fan-out: a record two sinks refuse gets a dead letter from each but is counted once', async () => {
    const logs: Record<string, SinkLog> = {};
    const dead: DeadLetterEntry[] = [];
    const refuse = (bad: number[]) => (records: SluiceRecord[]) => ({
      rejected: records.flatMap((r, index) => (bad.includes(r.id as number) ? [{ index, error: new RecordError(`refused ${String(r.id)}`) }] : [])),
    });
    const registry = registryOf(
      listSource(30),
      memorySink('first', logs, { write: refuse([4, 7]) }),
      memorySink('second', logs, { write: refuse([4, 9]) }),
      deadLetterSink(dead),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: fan-out-refusals
batch: { size: 10 }
checkpoint: { store: none }
source: { use: list }
sinks:
  - { id: a, use: first, with: { log: a }, onError: deadLetter }
  - { id: b, use: second, with: { log: b }, onError: deadLetter }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(dead.map((d) => [d.step, d.record]).sort((x, y) => String(x).localeCompare(String(y)))).toEqual([
      ['a', { id: 4 }],
      ['a', { id: 7 }],
      ['b', { id: 4 }],
      ['b', { id: 9 }],
    ]);
    // Three records failed somewhere: 4, 7 and 9. 27 reached every sink.
    expect(summary.counters).toMatchObject({ read: 30, written: 27, deadLettered: 3 });
    expectBalanced(summary.counters);
    expect(summary.steps.find((s) => s.id === 'a')).toMatchObject({ in: 30, out: 28, failed: 2 });
    expect(summary.steps.find((s) => s.id === 'b')).toMatchObject({ in: 30, out: 28, failed: 2 });
  });

  it('a sink refusing a batch with a poison record: the batch is halved until the poison stands alone', async () => {
    const logs: Record<string, SinkLog> = {};
    const dead: DeadLetterEntry[] = [];
    const registry = registryOf(
      listSource(16),
      memorySink('memory', logs, {
        write: (records) => {
          if (records.some((r) => r.id === 5)) throw new PermanentError('constraint violated: id 5');
        },
      }),
      deadLetterSink(dead),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: poison
batch: { size: 8, inFlight: 1 }
checkpoint: { store: none }
source: { use: list }
sink: { use: memory, with: { log: out }, onError: deadLetter, retry: { attempts: 3 } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(logs.out!.calls.map((c) => [c.seq, c.ids])).toEqual([
      [0, [0, 1, 2, 3, 4, 5, 6, 7]],
      [0, [0, 1, 2, 3]],
      [0, [4, 5, 6, 7]],
      [0, [4, 5]],
      [0, [4]],
      [0, [5]],
      [0, [6, 7]],
      [1, [8, 9, 10, 11, 12, 13, 14, 15]],
    ]);
    // A permanent refusal is not retried: every call is a first attempt.
    expect(logs.out!.calls.every((c) => c.attempt === 1)).toBe(true);
    expect(ids(logs.out!.written)).toEqual(range(16).filter((i) => i !== 5));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ record: { id: 5 }, step: 'sink', attempts: 1, error: 'constraint violated: id 5', position: { file: 'input.jsonl', line: 6 } });
    expect(summary.counters).toMatchObject({ read: 16, written: 15, deadLettered: 1, retries: 0 });
  });

  it('a sink failing transiently is retried per batch, not halved, and never re-reads the source', async () => {
    const logs: Record<string, SinkLog> = {};
    const source: SourceLog = { pages: 0 };
    let failures = 0;
    const registry = registryOf(
      listSource(8, source),
      memorySink('memory', logs, {
        write: () => {
          if (failures++ < 2) throw new TransientError('deadlock');
        },
      }),
      deadLetterSink([]),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: sink-retry
batch: { size: 4 }
checkpoint: { store: none }
source: { use: list }
sink: { use: memory, with: { log: out }, retry: { attempts: 3, initialDelay: 1ms, maxDelay: 2ms } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(logs.out!.calls.map((c) => [c.seq, c.ids.length, c.attempt])).toEqual([
      [0, 4, 1],
      [0, 4, 2],
      [0, 4, 3],
      [1, 4, 1],
    ]);
    expect(source.pages).toBe(2);
    expect(summary.counters).toMatchObject({ written: 8, retries: 2 });
  });
});

describe('progress', () => {
  it("the source's row has a rate: what it hands on per second", async () => {
    const logs: Record<string, SinkLog> = {};
    // 20 pages of 10, 30 ms apart: about 330 records a second.
    const registry = registryOf(listSource(200, undefined, () => pause(30)), memorySink('memory', logs), deadLetterSink([]));
    const plan = await planOf(registry, `
version: 1
name: source-rate
batch: { size: 10 }
checkpoint: { store: none }
source: { use: list }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`);
    const jobRun = new JobRun(plan);
    const rates: number[] = [];
    const sampler = setInterval(() => {
      const source = jobRun.progress()?.steps.find((s) => s.kind === 'source');
      if (source) rates.push(source.rate);
    }, 100);
    const summary = await jobRun.run();
    clearInterval(sampler);
    expect(summary.status).toBe('done');
    expect(Math.max(...rates)).toBeGreaterThan(50);
  });
});

describe('when:', () => {
  it('a transform sees only matching records; the others pass by untouched', async () => {
    const logs: Record<string, SinkLog> = {};
    const seen: number[] = [];
    const registry = registryOf(
      listSource(20),
      transform('mark', (record) => {
        seen.push(record.id as number);
        return { ...record, marked: true };
      }),
      memorySink('memory', logs),
      deadLetterSink([]),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: when-transform
batch: { size: 6 }
checkpoint: { store: none }
source: { use: list }
steps:
  - { id: mark, use: mark, when: "record.id % 3 === 0" }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(seen.sort((a, b) => a - b)).toEqual([0, 3, 6, 9, 12, 15, 18]);
    expect(logs.out!.written).toEqual(range(20).map((id) => (id % 3 === 0 ? { id, marked: true } : { id })));
    expect(summary.steps.find((s) => s.id === 'mark')).toMatchObject({ in: 7, out: 7 });
    expect(summary.counters).toMatchObject({ read: 20, written: 20, filtered: 0 });
  });

  it('a sink sees only matching records; another sink sees them all', async () => {
    const logs: Record<string, SinkLog> = {};
    const registry = registryOf(listSource(20), memorySink('memory', logs), deadLetterSink([]));
    const { summary } = await run(
      registry,
      `
version: 1
name: when-sink
batch: { size: 6 }
checkpoint: { store: none }
source: { use: list }
sinks:
  - { id: all, use: memory, with: { log: all } }
  - { id: big, use: memory, with: { log: big }, when: "record.id >= 13" }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('done');
    expect(ids(logs.all!.written)).toEqual(range(20));
    expect(ids(logs.big!.written)).toEqual(range(7, 13));
    // Batches 0 and 1 hold no matching record: the sink is not called with an empty batch.
    expect(logs.big!.calls.every((c) => c.ids.length > 0)).toBe(true);
    expect(summary.steps.find((s) => s.id === 'big')).toMatchObject({ in: 7, out: 7 });
    expect(summary.counters).toMatchObject({ read: 20, written: 20 });
    expectBalanced(summary.counters);
  });
});

describe('resume', () => {
  it('a run stopped gracefully resumes from its checkpoint: every record exactly once, counters continue', async () => {
    const logs: Record<string, SinkLog> = {};
    const disks = new Map<string, SluiceRecord[]>();
    const stop = new AbortController();
    const source: SourceLog = { pages: 0 };
    let stopAt = 4;
    const registry = registryOf(
      listSource(200, source, (page) => {
        if (page === stopAt) stop.abort(new Error('interrupted by test'));
      }),
      transform('double', async (record) => {
        await pause((record.id as number) % 3);
        return { ...record, double: (record.id as number) * 2 };
      }),
      transform('drop', (record) => ((record.id as number) % 10 === 9 ? null : record)),
      memorySink('memory', logs, { disks }),
      deadLetterSink([]),
    );
    const text = `
version: 1
name: resumable
batch: { size: 10, inFlight: 3 }
checkpoint: { store: file, path: ckpt-resume }
source: { use: list }
steps:
  - { id: double, use: double }
  - { id: drop, use: drop }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`;
    const first = await run(registry, text, { signal: stop.signal });
    expect(first.summary.status).toBe('interrupted');
    expect(first.summary.error).toBe('interrupted by test');
    const afterFirst = JSON.parse(await readFile(join(dir, 'ckpt-resume', 'resumable.json'), 'utf8')) as Checkpoint;
    expect(afterFirst.done).toBe(false);
    // Stopping drains what was in flight: the checkpoint covers every page read.
    expect(afterFirst.seq + 1).toBe(source.pages);
    expect(afterFirst.cursor).toBe(source.pages * 10);
    expect(source.pages).toBeLessThan(20);
    const firstWritten = disks.get('out')!.length;
    expect(first.summary.counters.written).toBe(firstWritten);

    stopAt = -1;
    const second = await run(registry, text);
    expect(second.summary.status).toBe('done');
    expect(second.summary.resumed).toBe(true);
    expect(second.events.find((e) => e.type === 'start')).toMatchObject({ resumed: true, cursor: afterFirst.cursor });

    // Exactly once, in order, across both runs.
    const all = range(200).filter((id) => id % 10 !== 9);
    expect(ids(disks.get('out')!)).toEqual(all);
    expect(disks.get('out')!.every((r) => r.double === (r.id as number) * 2)).toBe(true);
    // Counts continue from the checkpoint.
    expect(second.summary.counters).toMatchObject({ read: 200, written: 180, filtered: 20 });
    expect(second.summary.thisRun.read).toBe(200 - afterFirst.counters.read);
    expect(second.summary.thisRun.written).toBe(180 - firstWritten);
    const step = (id: string) => second.summary.steps.find((s) => s.id === id)!;
    expect(step('source').out).toBe(200);
    expect(step('double')).toMatchObject({ in: 200, out: 200 });
    expect(step('drop')).toMatchObject({ in: 200, out: 180, filtered: 20 });
    expect(step('sink')).toMatchObject({ in: 180, out: 180 });
    const final = JSON.parse(await readFile(join(dir, 'ckpt-resume', 'resumable.json'), 'utf8')) as Checkpoint;
    expect(final).toMatchObject({ seq: 19, cursor: 200, done: true, counters: { read: 200, written: 180, filtered: 20 } });
    expect(final.steps.source!.out).toBe(200);
  });

  it('a signal aborted before the run starts: nothing is read, the run reports interrupted', async () => {
    const logs: Record<string, SinkLog> = {};
    const source: SourceLog = { pages: 0 };
    const registry = registryOf(listSource(50, source), memorySink('memory', logs), deadLetterSink([]));
    const stop = new AbortController();
    stop.abort(new Error('SIGTERM'));
    const { summary } = await run(
      registry,
      `
version: 1
name: early-stop
checkpoint: { store: file, path: ckpt-early }
source: { use: list }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`,
      { signal: stop.signal },
    );
    expect(summary.status).toBe('interrupted');
    expect(summary.error).toBe('SIGTERM');
    expect(source.pages).toBe(0);
    expect(logs.out?.written ?? []).toEqual([]);
  });

  it('a checkpoint of another version of the job is refused with CheckpointMismatchError; --fresh starts over', async () => {
    const logs: Record<string, SinkLog> = {};
    const registry = registryOf(listSource(10), transform('same', (r) => r), memorySink('memory', logs), deadLetterSink([]));
    const text = (steps: string) => `
version: 1
name: changed
batch: { size: 5 }
checkpoint: { store: file, path: ckpt-changed }
source: { use: list }
steps:
${steps}
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`;
    const first = await run(registry, text('  - use: same'));
    expect(first.summary.status).toBe('done');

    // Settings that change how, not what, keep the fingerprint.
    const tuned = await run(registry, text('  - { use: same, concurrency: 2, retry: { attempts: 5 } }'));
    expect(tuned.summary.status).toBe('done');
    expect(tuned.summary.resumed).toBe(true);

    const changed = await planOf(registry, text('  - use: same\n  - { id: again, use: same }'));
    const attempt = new JobRun(changed);
    const error = await attempt.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toContain('--fresh');
    expect((error as Error).message).toContain(join(dir, 'ckpt-changed', 'changed.json'));

    const fresh = await new JobRun(changed, { fresh: true }).run();
    expect(fresh.status).toBe('done');
    expect(fresh.resumed).toBe(false);
    expect(fresh.counters).toMatchObject({ read: 10, written: 10 });
  });
});

describe('failures outside the records', () => {
  it('a source that throws fails the run, naming the source; the checkpoint covers only what was written', async () => {
    const logs: Record<string, SinkLog> = {};
    const registry = registryOf(
      listSource(100, { pages: 0 }, async (page) => {
        if (page !== 3) return;
        // Fail only once a checkpoint covers two pages, so there is always one to check.
        for (;;) {
          const text = await readFile(join(dir, 'ckpt-source', 'source-fails.json'), 'utf8').catch(() => '');
          if (text && (JSON.parse(text) as Checkpoint).cursor as number >= 20) break;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        throw new Error('connection lost');
      }),
      memorySink('memory', logs),
      deadLetterSink([]),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: source-fails
batch: { size: 10 }
checkpoint: { store: file, path: ckpt-source }
source: { use: list }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe("source 'source' failed: connection lost");
    // Pages 0-2 were read, 0-1 checkpointed; page 2 may or may not have been written, nothing past it exists.
    const written = ids(logs.out?.written ?? []);
    expect(written).toEqual(range(written.length));
    expect([20, 30]).toContain(written.length);
    const saved = JSON.parse(await readFile(join(dir, 'ckpt-source', 'source-fails.json'), 'utf8')) as Checkpoint;
    expect(saved.done).toBe(false);
    expect(saved.cursor as number).toBeGreaterThanOrEqual(20);
    expect(saved.cursor as number).toBeLessThanOrEqual(written.length);
  });

  it('a dead-letter sink that cannot write fails the run, and the batch is not checkpointed', async () => {
    const logs: Record<string, SinkLog> = {};
    const registry = registryOf(
      listSource(30),
      transform('picky', (record) => {
        if (record.id === 15) throw new RecordError('bad');
        return record;
      }),
      memorySink('memory', logs),
      defineSink({
        name: 'dl',
        description: 'a full disk',
        schema: { type: 'object' },
        create: () => ({
          write: () => Promise.reject(new Error('ENOSPC: no space left on device')),
        }),
      }),
    );
    const { summary } = await run(
      registry,
      `
version: 1
name: dl-fails
batch: { size: 10, inFlight: 1 }
checkpoint: { store: file, path: ckpt-dl }
source: { use: list }
steps:
  - { use: picky, onError: deadLetter }
sink: { use: memory, with: { log: out } }
deadLetter: { use: dl }
`,
    );
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe('cannot write dead letters: ENOSPC: no space left on device');
    const checkpoint = JSON.parse(await readFile(join(dir, 'ckpt-dl', 'dl-fails.json'), 'utf8')) as Checkpoint;
    expect(checkpoint.seq).toBe(0);
  });
});
