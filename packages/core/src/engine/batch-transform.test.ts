import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordError, TransientError } from '../errors/index.js';
import type { DeadLetterEntry } from '../events/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { SluiceRecord } from '../plugin/types.js';
import { JobRun } from './run.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-batch-transform-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What the batch transform saw. */
interface Seen {
  batches: number[];
  records: number[];
  process: Array<{ id: number; attempt: number }>;
}

/** Doubles `id` into `twice`; drops ids divisible by 7; id 5 fails for good, id 11 once (then passes through `process`). */
function doubler(seen: Seen) {
  const one = (record: SluiceRecord) => ((record.id as number) % 7 === 0 ? null : { ...record, twice: (record.id as number) * 2 });
  return defineTransform({
    name: 'doubler',
    description: 'test',
    schema: { type: 'object' },
    create: () => ({
      process(record, info) {
        seen.process.push({ id: record.id as number, attempt: info.attempt });
        if (record.id === 5) throw new RecordError('five is bad');
        return one(record);
      },
      processBatch(records) {
        seen.batches.push(records.length);
        const results = records.map((r) => {
          seen.records.push(r.id as number);
          return one(r);
        });
        const failed = [];
        for (const [index, r] of records.entries()) {
          if (r.id === 5) failed.push({ index, error: new RecordError('five is bad') });
          if (r.id === 11) failed.push({ index, error: new TransientError('eleven, not yet') });
        }
        return { results, failed };
      },
    }),
  });
}

describe('a transform with processBatch', () => {
  it('is called once per batch; the records it fails are retried through process, then follow onError', async () => {
    const seen: Seen = { batches: [], records: [], process: [] };
    const out: SluiceRecord[] = [];
    const dead: DeadLetterEntry[] = [];
    const registry = new PluginRegistry();
    registry.add(
      defineSource({
        name: 'list',
        description: 'ids 0…29',
        schema: { type: 'object' },
        create: () => ({
          async *read({ batchSize }) {
            for (let at = 0; at < 30; at += batchSize) {
              const records = Array.from({ length: batchSize }, (_, i) => ({ id: at + i }));
              yield { records, cursor: at + batchSize, positions: records.map((r) => ({ line: r.id + 1 })) };
            }
          },
        }),
      }),
      'test',
    );
    registry.add(doubler(seen), 'test');
    registry.add(defineSink({ name: 'mem', description: 'test', schema: { type: 'object' }, create: () => ({ write: async (records) => void out.push(...records) }) }), 'test');
    registry.add(
      defineSink({ name: 'dl', description: 'test', schema: { type: 'object' }, create: () => ({ write: async (e) => void dead.push(...(e as unknown as DeadLetterEntry[])) }) }),
      'test',
    );
    const { plan, diagnostics } = await loadJobText(
      `
version: 1
name: batch-transform
batch: { size: 10, inFlight: 2 }
checkpoint: { store: none }
source: { use: list }
steps:
  - { use: doubler, onError: deadLetter, retry: { attempts: 3, initialDelay: 1ms } }
sink: { use: mem }
deadLetter: { use: dl }
`,
      { registry, dir, env: {} },
    );
    if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
    const summary = await new JobRun(plan).run();
    expect(summary.status).toBe('done');
    expect(seen.batches).toEqual([10, 10, 10]);
    expect(seen.records).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Only the record that failed retryably went through process, for its second attempt; id 5's
    // error is permanent, so it went straight to onError.
    expect(seen.process).toEqual([{ id: 11, attempt: 2 }]);
    const kept = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 7 !== 0 && i !== 5);
    expect(out.map((r) => r.id)).toEqual(kept);
    expect(out.every((r) => r.twice === (r.id as number) * 2)).toBe(true);
    expect(dead.map((d) => [d.position, d.error])).toEqual([[{ line: 6 }, 'five is bad']]);
    expect(summary.counters).toMatchObject({ read: 30, written: kept.length, filtered: 5, deadLettered: 1, retries: 1 });
    expect(summary.steps.find((s) => s.id === 'doubler')).toMatchObject({ in: 30, out: kept.length, filtered: 5, failed: 1, retries: 1 });
  });
});
