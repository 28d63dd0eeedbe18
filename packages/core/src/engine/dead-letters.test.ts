import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { RecordError } from '../errors/index.js';
import type { DeadLetterEntry } from '../events/types.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { SluiceRecord, WriteResult } from '../plugin/types.js';
import { SAFE_DEPTH, safeDeadLetter } from './dead-letters.js';
import { JobRun } from './run.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-dead-letters-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

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

/**
 * A dead-letter sink that writes JSON text the way the file sink did before it knew BigInts:
 * `JSON.stringify` each entry, refusing what it cannot write. `refuseAll` refuses every entry.
 */
function strictDeadLetters(lines: string[], refuseAll = false) {
  return defineSink({
    name: 'strict',
    description: 'test',
    schema: { type: 'object' },
    create: () => {
      let records = 0;
      return {
        async write(entries): Promise<WriteResult> {
          const rejected: Array<{ index: number; error: Error }> = [];
          entries.forEach((entry, index) => {
            try {
              if (refuseAll) throw new Error('disk says no');
              lines.push(JSON.stringify(entry));
              records++;
            } catch (error) {
              rejected.push({ index, error: error as Error });
            }
          });
          return { rejected, state: { records } };
        },
      };
    },
  });
}

async function runJob(lines: string[], refuseAll: boolean) {
  const registry = new PluginRegistry();
  registry.add(
    defineSource({
      name: 'odd',
      description: 'three records, two a JSON writer cannot take',
      schema: { type: 'object' },
      create: () => ({
        async *read() {
          yield { records: [{ id: 1, x: nested(5000) }, { id: 2, big: 10n }, { id: 3 }], cursor: 3, positions: [{ line: 1 }, { line: 2 }, { line: 3 }] };
        },
      }),
    }),
    'test',
  );
  registry.add(
    defineTransform({
      name: 'picky',
      description: 'refuses ids 1 and 2',
      schema: { type: 'object' },
      create: () => ({
        process: (record: SluiceRecord) => {
          if (record.id !== 3) throw new RecordError('not this one');
          return record;
        },
      }),
    }),
    'test',
  );
  registry.add(defineSink({ name: 'mem', description: 'test', schema: { type: 'object' }, create: () => ({ write: async () => undefined }) }), 'test');
  registry.add(strictDeadLetters(lines, refuseAll), 'test');
  const { plan, diagnostics } = await loadJobText(
    `
version: 1
name: dead-letters
source: { use: odd }
steps:
  - { use: picky, onError: deadLetter }
sink: { use: mem }
deadLetter: { use: strict }
`,
    { registry, dir, env: {} },
  );
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  const store = new MemoryStore();
  const summary = await new JobRun(plan, { checkpointStores: { file: () => store } }).run();
  return { summary, store };
}

describe('dead letters the dead-letter sink refuses', () => {
  it('are written again in a safe form: BigInt as digits, nesting cut, with a note; the counts match what is written', async () => {
    const lines: string[] = [];
    const { summary, store } = await runJob(lines, false);
    expect(summary.status).toBe('done');
    expect(summary.counters).toMatchObject({ read: 3, written: 1, deadLettered: 2 });
    const entries = lines.map((line) => JSON.parse(line) as DeadLetterEntry);
    expect(entries.map((e) => (e.record as { id: number }).id)).toEqual([1, 2]);
    expect(entries[1]!.record).toEqual({ id: 2, big: '10' });
    expect(entries[1]!.note).toMatch(/BigInt as its digits/);
    expect(entries[0]!.note).toMatch(new RegExp(`nesting cut at ${SAFE_DEPTH} levels`));
    expect(JSON.stringify(entries[0]!.record)).toContain(`[nested deeper than ${SAFE_DEPTH} levels]`);
    expect(store.saved.at(-1)).toMatchObject({ deadLetter: { records: 2 }, counters: { deadLettered: 2 } });
  });

  it('a dead-letter sink that refuses even the safe form fails the run; no checkpoint counts them', async () => {
    const { summary, store } = await runJob([], true);
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/^cannot write dead letters: the dead-letter sink refused 2 of them even in a safe form \(step 'picky' at line 1: disk says no\)/);
    expect(store.saved).toEqual([]);
  });

  it('safeDeadLetter leaves a plain record as it was, and keeps __proto__ a field', () => {
    const record = JSON.parse('{"id":1,"__proto__":{"a":1},"list":[1,"x",null]}') as SluiceRecord;
    const entry = { job: 'j', step: 's', kind: 'sink', stepIndex: 1, error: 'e', attempts: 1, position: {}, batch: 0, at: '', record } as DeadLetterEntry;
    const safe = safeDeadLetter(entry, 'why');
    expect(JSON.stringify(safe.record)).toBe(JSON.stringify(record));
    expect(safe.note).toMatch(/refused this entry \(why\).*copied as plain JSON/);
  });
});
