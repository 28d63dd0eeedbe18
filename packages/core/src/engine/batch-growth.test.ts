import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCheckpointStore } from '../checkpoint/file-store.js';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { SluiceRecord } from '../plugin/types.js';
import type { EnginePage } from './batch.js';
import { positionsArray } from './positions.js';
import { BatchCutter, DEFAULT_GROWTH, pageBytes, targetItems } from './batch-growth.js';
import { JobRun, type RunOptions } from './run.js';

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** Pages of `{ id }` records (ids from `from`), `size` each, `total` in all; cursor = records done. */
async function* pagesOf(total: number, size: number, from = 0, record = (id: number): SluiceRecord => ({ id })): AsyncGenerator<EnginePage> {
  for (let at = from; at < total; at += size) {
    const records = range(Math.min(size, total - at), at).map(record);
    yield { records, cursor: at + records.length, positions: records.map((r) => ({ line: (r.id as number) + 1 })) };
  }
}

async function cut(pages: AsyncGenerator<EnginePage>, options: { firstSeq?: number; room?: number; growth?: typeof DEFAULT_GROWTH; pageSize?: number } = {}) {
  const cutter = new BatchCutter(pages, options.pageSize ?? 1000, options.growth ?? DEFAULT_GROWTH);
  const batches: EnginePage[] = [];
  for (let seq = options.firstSeq ?? 0; ; seq++) {
    const next = await cutter.next(seq, options.room, () => false);
    if (next === 'stopped' || next.done) break;
    batches.push(next.value);
  }
  return batches;
}

describe('BatchCutter', () => {
  it('merges pages into batches that double from the page size up to the cap, cursor and positions of the merged pages', async () => {
    const batches = await cut(pagesOf(45_000, 1000));
    const sizes = [1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 3000];
    expect(batches.map((b) => b.records.length)).toEqual(sizes);
    expect(batches.map((b) => b.cursor)).toEqual(sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0)));
    expect(batches.flatMap((b) => b.records.map((r) => r.id))).toEqual(range(45_000));
    expect(positionsArray(batches[2]!.positions)).toEqual(range(4000, 3000).map((id) => ({ line: id + 1 })));
  });

  it('cuts from a resumed seq and cursor exactly as the run that went through', async () => {
    const whole = await cut(pagesOf(60_000, 1000));
    // Resume after batch 3 (cursor 12,000): batch 4 onwards must hold the same records.
    const resumed = await cut(pagesOf(60_000, 1000, 12_000), { firstSeq: 4 });
    expect(resumed.map((b) => b.records.map((r) => r.id))).toEqual(whole.slice(4).map((b) => b.records.map((r) => r.id)));
  });

  it('stops merging at the byte budget: wide records keep batches of one page', async () => {
    const wide = (id: number) => ({ id, text: 'x'.repeat(10_000) });
    const batches = await cut(pagesOf(5000, 1000, 0, wide));
    expect(batches.map((b) => b.records.length)).toEqual([1000, 1000, 1000, 1000, 1000]);
    expect(pageBytes(batches[0]!.records)).toBeGreaterThan(DEFAULT_GROWTH.bytes);
  });

  it('stops merging where --limit leaves no room, and keeps record errors in order', async () => {
    async function* withErrors(): AsyncGenerator<EnginePage> {
      for (let p = 0; p < 6; p++) yield { records: [{ id: p }], errors: [{ error: new Error(`bad ${p}`) }], cursor: p + 1 };
    }
    const batches = await cut(withErrors(), { pageSize: 2, room: 2 });
    // Room for 2 records: the first batch stops after 2 pages although its target is more.
    expect(batches[0]!.records.map((r) => r.id)).toEqual([0]);
    expect(batches[1]!.records.map((r) => r.id)).toEqual([1, 2]);
    expect(batches[1]!.errors!.map((e) => e.error.message)).toEqual(['bad 1', 'bad 2']);
  });

  it('drops a batch being gathered when the run stops: no batch is cut short by a stop', async () => {
    const pages = pagesOf(20_000, 1000);
    const cutter = new BatchCutter(pages, 1000, DEFAULT_GROWTH);
    let reads = 0;
    const first = await cutter.next(0, undefined, () => false);
    expect(first !== 'stopped' && !first.done && first.value.records.length).toBe(1000);
    // Stop after the second page of batch 1 (whose target is two pages).
    const second = await cutter.next(1, undefined, () => ++reads >= 2);
    expect(second).toBe('stopped');
  });

  it('as an iterable: ends when the run stops mid-batch and closes the source; reads seq as each batch is asked for', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<EnginePage> {
      try {
        yield* pagesOf(50_000, 1000);
      } finally {
        closed = true;
      }
    }
    let seq = 0;
    let stop = false;
    const sizes: number[] = [];
    for await (const batch of new BatchCutter(source(), 1000, DEFAULT_GROWTH).batches(() => seq, () => undefined, () => stop)) {
      sizes.push(batch.records.length);
      seq++;
      if (seq === 3) stop = true;
    }
    expect(sizes).toEqual([1000, 2000, 4000]);
    expect(closed).toBe(true);
  });

  it('targets: the page size at least, doubling per seq, capped', () => {
    expect([0, 1, 2, 3, 4, 5, 100].map((seq) => targetItems(seq, 1000, DEFAULT_GROWTH))).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000]);
    expect(targetItems(0, 50_000, DEFAULT_GROWTH)).toBe(50_000);
  });
});

// ---------- through the engine ----------

function registry(options: { written: Map<number, number[]>; failAtSeq?: number }) {
  const r = new PluginRegistry();
  const source = defineSource({
    name: 'list',
    description: 'records 0…n-1',
    schema: { type: 'object', properties: { count: { type: 'integer' } }, required: ['count'] },
    create: (config) => ({
      read: ({ cursor, batchSize }) => pagesOf(config.count as number, batchSize, (cursor as number | undefined) ?? 0),
    }),
  });
  const sink = defineSink({
    name: 'memory',
    description: 'notes which records each batch seq held',
    schema: { type: 'object' },
    create: () => ({
      bulk: true,
      async write(records, info) {
        if (info.seq === options.failAtSeq) throw new Error(`disk gone at batch ${info.seq}`);
        options.written.set(info.seq, records.map((x) => x.id as number));
      },
    }),
  });
  const plain = defineSink({
    name: 'plain',
    description: 'a sink that does not write in bulk',
    schema: { type: 'object' },
    create: () => ({
      async write(records, info) {
        options.written.set(info.seq, records.map((x) => x.id as number));
      },
    }),
  });
  const double = defineTransform({
    name: 'double',
    description: 'a whole-batch transform',
    schema: { type: 'object' },
    create: () => ({
      process: (record) => ({ ...record, twice: (record.id as number) * 2 }),
      processBatch: (records) => ({ results: records.map((record) => ({ ...record, twice: (record.id as number) * 2 })), failed: [] }),
    }),
  });
  for (const plugin of [source, sink, plain, double]) expect(r.add(plugin, 'test')).toEqual([]);
  return r;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-growth-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runJob(text: string, written: Map<number, number[]>, options: RunOptions & { failAtSeq?: number } = {}) {
  const { plan, diagnostics } = await loadJobText(text, { registry: registry({ written, failAtSeq: options.failAtSeq }), dir, env: {} });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return new JobRun(plan, options).run();
}

const job = (name: string, extra = '') => `
version: 1
name: ${name}
${extra}
checkpoint: { store: file, path: ckpt }
source: { use: list, with: { count: 40000 } }
steps:
  - use: double
sink: { use: memory }
deadLetter: { use: memory }
`;

describe('batches of a job without batch.size', () => {
  it('grow from one page to 5,000 records into bulk sinks; the checkpoint pins how; batch.size, a rate limit or a sink not in bulk keep one page per batch', async () => {
    const written = new Map<number, number[]>();
    const summary = await runJob(job('grows'), written);
    expect(summary.status).toBe('done');
    expect([...written.values()].map((ids) => ids.length)).toEqual([1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000, 3000]);
    const saved = (await new FileCheckpointStore(join(dir, 'ckpt'), 'grows').load())!;
    expect(saved).toMatchObject({ seq: 9, cursor: 40_000, batchSize: 1000, batchGrowth: DEFAULT_GROWTH });

    const fixed = new Map<number, number[]>();
    await runJob(job('fixed', 'batch: { size: 1000 }'), fixed);
    expect(fixed.size).toBe(40);
    const limited = new Map<number, number[]>();
    await runJob(job('limited').replace('sink: { use: memory }\n', 'sink: { use: memory, rateLimit: 1000/s }\n'), limited);
    expect(limited.size).toBe(40);
    const notBulk = new Map<number, number[]>();
    await runJob(job('not-bulk').replace('sink: { use: memory }\n', 'sink: { use: plain }\n'), notBulk);
    expect(notBulk.size).toBe(40);
  });

  it('a run that failed past its checkpoint resumes with the same batch numbers for the same records', async () => {
    const whole = new Map<number, number[]>();
    await runJob(job('whole'), whole);

    // The first run writes batches 0…3 and fails at 4: batches may be written past the checkpoint,
    // and a sink keeping per-batch markers would skip those numbers on the resume.
    const first = new Map<number, number[]>();
    const saves: Checkpoint[] = [];
    const failing = await runJob(job('resumed'), first, {
      failAtSeq: 4,
      checkpointStores: {
        file: ({ job: name }): CheckpointStore => {
          const inner = new FileCheckpointStore(join(dir, 'ckpt'), name);
          // Checkpoints stop at batch 1: batches 2 and 3 are written but not checkpointed.
          return Object.assign(Object.create(inner) as CheckpointStore, {
            save: async (c: Checkpoint) => {
              if (c.seq > 1) return;
              saves.push(c);
              await inner.save(c);
            },
          });
        },
      },
    });
    expect(failing.status).toBe('failed');
    expect([...first.keys()]).toEqual([0, 1, 2, 3]);
    const last = saves.at(-1)!;
    expect(last.seq).toBeLessThanOrEqual(1);
    expect(last.batchGrowth).toEqual(DEFAULT_GROWTH);

    const second = new Map<number, number[]>();
    const resumed = await runJob(job('resumed'), second);
    expect(resumed.status).toBe('done');
    for (const [seq, ids] of [...first, ...second]) expect(ids).toEqual(whole.get(seq));
    expect([...second.keys()]).toEqual(range(9 - last.seq, last.seq + 1));
  });

  it('a checkpoint saved without batchGrowth (an earlier version) resumes with one page per batch', async () => {
    const store = new FileCheckpointStore(join(dir, 'ckpt'), 'old');
    const { plan } = await loadJobText(job('old'), { registry: registry({ written: new Map() }), dir, env: {} });
    await store.save({
      version: 1,
      job: 'old',
      fingerprint: plan!.fingerprint,
      seq: 4,
      cursor: 5000,
      batchSize: 1000,
      sinks: {},
      deadLetter: undefined,
      counters: { read: 5000, produced: 0, written: 5000, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 },
      steps: {},
      done: false,
      updatedAt: new Date().toISOString(),
    } as Checkpoint);
    const written = new Map<number, number[]>();
    const summary = await runJob(job('old'), written);
    expect(summary.status).toBe('done');
    expect([...written.keys()]).toEqual(range(35, 5));
    expect(written.get(5)).toEqual(range(1000, 5000));
  });
});
