import { appendFileSync, existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { withDefaults, type SinkInstance, type SluiceRecord } from '@sluice/core';
import { collectSource, createTestContext, writeSink } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';
import { fileSink, partitionPath, sinkCsvOptionsNeedCsv, sinkFormatIsKnown } from './sink.js';
import { fileSource } from './source.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-file-sink-'));

const batches: SluiceRecord[][] = [
  [
    { id: 1, name: 'Ann', tags: ['a', 'b'], ok: true },
    { id: 2, name: 'Bob, "Jr."', tags: [], ok: false },
  ],
  [{ id: 3, name: 'Cy\nline', tags: null, ok: null }],
  [
    { id: 4, name: 'Dé', when: new Date('2024-01-02T03:04:05Z'), ok: true },
    { id: 5, name: 'Ed', nested: { x: 1 }, ok: false },
  ],
];

async function open(dir: string, config: object, state?: unknown): Promise<SinkInstance> {
  return fileSink.create(withDefaults(fileSink.schema, config), createTestContext({ dir, kind: 'sink', state }));
}

async function writeAll(sink: SinkInstance, list: SluiceRecord[][], from = 0): Promise<unknown[]> {
  const states: unknown[] = [];
  for (const [i, records] of list.entries()) {
    await sink.write(records, { seq: from + i, positions: records.map((_, index) => ({ index })), attempt: 1, signal: new AbortController().signal });
    states.push(sink.state!());
  }
  return states;
}

describe('file sink: formats', () => {
  it('writes JSON Lines', async () => {
    const dir = tempDir();
    const { state } = await writeSink(fileSink, { path: 'out/a.jsonl' }, batches, { dir });
    const text = readFileSync(join(dir, 'out/a.jsonl'), 'utf8');
    expect(text).toBe(batches.flat().map((r) => JSON.stringify(r) + '\n').join(''));
    expect(state).toEqual({ size: Buffer.byteLength(text), records: 5 });
  });

  it('writes CSV with a header, the first record’s columns, and plain cells', async () => {
    const dir = tempDir();
    const ctx = createTestContext({ dir, kind: 'sink' });
    const sink = await fileSink.create(withDefaults(fileSink.schema, { path: 'a.csv' }), ctx);
    await writeAll(sink, batches);
    expect(sink.state!()).toMatchObject({ columns: ['id', 'name', 'tags', 'ok'] });
    await sink.close!();
    expect(readFileSync(join(dir, 'a.csv'), 'utf8')).toBe(
      'id,name,tags,ok\n1,Ann,"[""a"",""b""]",true\n2,"Bob, ""Jr.""",[],false\n3,"Cy\nline",,\n4,Dé,,true\n5,Ed,,false\n',
    );
    expect(ctx.logger.lines.filter((l) => l.level === 'warn').map((l) => l.fields?.field)).toEqual(['when', 'nested']);
  });

  it('writes CSV with chosen columns, delimiter and no header', async () => {
    const dir = tempDir();
    await writeSink(fileSink, { path: 'b.csv', csv: { columns: ['name', 'id'], delimiter: ';', header: false } }, batches.slice(0, 1), { dir });
    expect(readFileSync(join(dir, 'b.csv'), 'utf8')).toBe('Ann;1\n"Bob, ""Jr.""";2\n');
  });

  it('writes a JSON array, one element per line, closed at close', async () => {
    const dir = tempDir();
    const { state } = await writeSink(fileSink, { path: 'a.json' }, batches, { dir });
    const text = readFileSync(join(dir, 'a.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(batches.flat())));
    expect(text).toBe('[\n' + batches.flat().map((r) => JSON.stringify(r)).join(',\n') + '\n]\n');
    expect((state as { size: number }).size).toBe(Buffer.byteLength(text) - '\n]\n'.length);
  });

  it('writes an empty JSON array and an empty CSV with known columns', async () => {
    const dir = tempDir();
    await writeSink(fileSink, { path: 'e.json' }, [[]], { dir });
    await writeSink(fileSink, { path: 'e.csv', csv: { columns: ['a', 'b'] } }, [], { dir });
    await writeSink(fileSink, { path: 'e.jsonl' }, [], { dir });
    expect(readFileSync(join(dir, 'e.json'), 'utf8')).toBe('[]\n');
    expect(readFileSync(join(dir, 'e.csv'), 'utf8')).toBe('a,b\n');
    expect(readFileSync(join(dir, 'e.jsonl'), 'utf8')).toBe('');
  });

  it('gzips each batch as its own member when the path ends in .gz', async () => {
    const dir = tempDir();
    await writeSink(fileSink, { path: 'a.jsonl.gz' }, batches, { dir });
    await writeSink(fileSink, { path: 'plain.jsonl.gz', gzip: false }, batches, { dir });
    const gz = readFileSync(join(dir, 'a.jsonl.gz'));
    const members = gz.reduce((n, byte, i) => n + (byte === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8 ? 1 : 0), 0);
    expect(members).toBeGreaterThanOrEqual(3);
    expect(gunzipSync(gz).toString()).toBe(readFileSync(join(dir, 'plain.jsonl.gz'), 'utf8'));
  });

  it('reads back what it wrote, in every format', async () => {
    const dir = tempDir();
    const rows = Array.from({ length: 50 }, (_, i) => ({ id: i, text: `row ${i}, "quoted"\nnext` }));
    for (const path of ['r.jsonl', 'r.json', 'r.csv', 'r.jsonl.gz', 'r.json.gz', 'r.csv.gz']) {
      await writeSink(fileSink, { path }, [rows.slice(0, 20), rows.slice(20)], { dir });
      const pages = await collectSource(fileSource, { path, ...(path.includes('csv') ? { csv: { cast: true } } : {}) }, { dir });
      expect(pages.flatMap((p) => p.records), path).toEqual(rows);
    }
  });

  it('rejects records it cannot serialise and writes the rest (a BigInt is written as its digits)', async () => {
    const dir = tempDir();
    const cyclic: SluiceRecord = { id: 2 };
    cyclic.self = cyclic;
    const sink = await open(dir, { path: 'x.jsonl' });
    const result = await sink.write([{ id: 1 }, cyclic, { id: 3, big: 10n }, { id: 4 }], {
      seq: 0,
      positions: [],
      attempt: 1,
      signal: new AbortController().signal,
    });
    await sink.close!();
    expect(result?.rejected?.map((r) => r.index)).toEqual([1]);
    expect(result?.rejected?.[0].error.message).toMatch(/^cannot write the record as JSON: /);
    expect(readFileSync(join(dir, 'x.jsonl'), 'utf8')).toBe('{"id":1}\n{"id":3,"big":10}\n{"id":4}\n');
  });
});

describe('file sink: exactly once by truncation', () => {
  it.each(['o.jsonl', 'o.csv', 'o.json', 'o.jsonl.gz', 'o.csv.gz', 'o.json.gz'])(
    '%s: a resumed run truncates to the checkpoint and ends byte-identical',
    async (path) => {
      const dir = tempDir();
      await writeSink(fileSink, { path: `whole/${path}` }, batches, { dir });
      const whole = readFileSync(join(dir, 'whole', path));

      // First run: batches 1-3 written, the checkpoint only has batch 2's state; then it stops
      // (close: for JSON that writes the bracket) and a torn write leaves junk at the end.
      const first = await open(dir, { path });
      const states = await writeAll(first, batches);
      await first.close!();
      appendFileSync(join(dir, path), 'torn write');

      const second = await open(dir, { path }, JSON.parse(JSON.stringify(states[1])));
      await writeAll(second, batches.slice(2), 2);
      await second.flush!();
      await second.close!();
      expect(readFileSync(join(dir, path)).equals(whole)).toBe(true);
    },
  );

  it('a CSV resume keeps the column order and writes no second header', async () => {
    const dir = tempDir();
    const first = await open(dir, { path: 'c.csv' });
    const [state] = await writeAll(first, [[{ b: 1, a: 2 }]]);
    await first.close!();
    const second = await open(dir, { path: 'c.csv' }, state);
    await writeAll(second, [[{ a: 3, b: 4 }]], 1);
    await second.close!();
    expect(readFileSync(join(dir, 'c.csv'), 'utf8')).toBe('b,a\n1,2\n4,3\n');
  });

  it('refuses to resume when the output file is missing or shorter than its checkpoint', async () => {
    const dir = tempDir();
    const out = join(dir, 'gone.jsonl');
    await expect(open(dir, { path: 'gone.jsonl' }, { size: 10, records: 1 })).rejects.toThrow(
      `output file ${out} is missing, but its checkpoint says 10 bytes were written; it was changed outside sluice — run with --fresh`,
    );
    writeFileSync(out, '{"a":1}\n');
    await expect(open(dir, { path: 'gone.jsonl' }, { size: 10, records: 1 })).rejects.toThrow(
      `output file ${out} is shorter than its checkpoint (8 < 10 bytes); it was changed outside sluice — run with --fresh`,
    );
    await expect(open(dir, { path: 'gone.jsonl' }, { rows: 3 })).rejects.toThrow(/is not a file sink state/);
  });

  it('truncates a fresh start to zero', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'old.jsonl'), 'old content\n');
    await writeSink(fileSink, { path: 'old.jsonl' }, [[{ a: 1 }]], { dir });
    expect(readFileSync(join(dir, 'old.jsonl'), 'utf8')).toBe('{"a":1}\n');
  });

  it('cuts off a failed write before the next one', async () => {
    const dir = tempDir();
    const sink = await open(dir, { path: 'f.jsonl' });
    await writeAll(sink, [[{ a: 1 }]]);
    // What a write that failed half-way would leave behind.
    appendFileSync(join(dir, 'f.jsonl'), '{"a":2');
    (sink as unknown as { dirty: boolean }).dirty = true;
    await writeAll(sink, [[{ a: 2 }]], 1);
    await sink.close!();
    expect(readFileSync(join(dir, 'f.jsonl'), 'utf8')).toBe('{"a":1}\n{"a":2}\n');
  });
});

describe('file sink: options', () => {
  it('dry run writes nothing, creates nothing and saves no state', async () => {
    const dir = tempDir();
    const { state } = await writeSink(fileSink, { path: 'dry/out.jsonl' }, batches, { dir, dryRun: true });
    expect(state).toBeUndefined();
    expect(existsSync(join(dir, 'dry'))).toBe(false);
  });

  it('creates folders unless mkdir is false', async () => {
    const dir = tempDir();
    await writeSink(fileSink, { path: 'a/b/c.jsonl' }, [[{ a: 1 }]], { dir });
    expect(readFileSync(join(dir, 'a/b/c.jsonl'), 'utf8')).toBe('{"a":1}\n');
    await expect(writeSink(fileSink, { path: 'x/y.jsonl', mkdir: false }, [[{ a: 1 }]], { dir })).rejects.toThrow(
      `cannot create output file ${join(dir, 'x/y.jsonl')} (its folder does not exist; set mkdir: true)`,
    );
  });

  it('needs a format it can tell', async () => {
    const dir = tempDir();
    await expect(writeSink(fileSink, { path: 'out.txt' }, [], { dir })).rejects.toThrow(/cannot tell the format of 'out.txt'/);
    expect(sinkFormatIsKnown({ path: 'out.txt' } as never)).toMatchObject({ path: 'format' });
    expect(sinkFormatIsKnown({ path: 'out.txt', format: 'jsonl' } as never)).toBeUndefined();
    expect(sinkCsvOptionsNeedCsv({ path: 'o.json', csv: { header: false } } as never)).toMatchObject({ path: 'csv' });
  });

  it('an output truncated at a checkpoint stays readable (JSON array: after close)', async () => {
    const dir = tempDir();
    const sink = await open(dir, { path: 't.json' });
    const states = (await writeAll(sink, batches)) as Array<{ size: number }>;
    await sink.close!();
    truncateSync(join(dir, 't.json'), states[0].size);
    const again = await open(dir, { path: 't.json' }, states[0]);
    await again.close!();
    expect(JSON.parse(readFileSync(join(dir, 't.json'), 'utf8'))).toEqual(batches[0]);
  });
});

describe('file sink: partitions of a distributed run', () => {
  const partitioned = (dir: string, index: number, state?: unknown) => {
    const ctx = createTestContext({ dir, kind: 'sink', state });
    return { ...ctx, job: { ...ctx.job, partition: { index, count: 4 } } };
  };

  it.each([
    ['out/users.jsonl', 2, 'out/users.p2.jsonl'],
    ['out.csv.gz', 0, 'out.p0.csv.gz'],
    ['out', 3, 'out.p3'],
    ['a.b/c.d.json', 1, 'a.b/c.d.p1.json'],
    ['dir.x/out', 1, 'dir.x/out.p1'],
    ['.hidden', 1, '.hidden.p1'],
    ['x.GZ', 1, 'x.p1.GZ'],
    ['out/users-{partition}.jsonl', 2, 'out/users-2.jsonl'],
    ['out/{partition}/users.{partition}.jsonl', 3, 'out/3/users.3.jsonl'],
    ['out/users-{partition}.jsonl', undefined, 'out/users-0.jsonl'],
    ['out/users.jsonl', undefined, 'out/users.jsonl'],
  ])('%s in partition %s → %s', (path, index, expected) => {
    expect(partitionPath(path, index === undefined ? undefined : { index })).toBe(expected);
  });

  it('each partition writes its own file, and resumes it by its own state', async () => {
    const dir = tempDir();
    const sink = await fileSink.create(withDefaults(fileSink.schema, { path: 'out/users.jsonl' }), partitioned(dir, 2));
    const [state] = await writeAll(sink, batches.slice(0, 1));
    await writeAll(sink, batches.slice(1), 1);
    await sink.close!();
    expect(existsSync(join(dir, 'out/users.jsonl'))).toBe(false);
    expect(readFileSync(join(dir, 'out/users.p2.jsonl'), 'utf8').trim().split('\n')).toHaveLength(5);
    // Partition 2 resumes after its first batch: its own file is cut back to its own size.
    const again = await fileSink.create(withDefaults(fileSink.schema, { path: 'out/users.jsonl' }), partitioned(dir, 2, state));
    await writeAll(again, batches.slice(1), 1);
    await again.close!();
    const text = readFileSync(join(dir, 'out/users.p2.jsonl'), 'utf8');
    expect(text).toBe(batches.flat().map((r) => JSON.stringify(r) + '\n').join(''));
  });

  it('{partition} in the path is the partition number, or 0 outside a distributed run', async () => {
    const dir = tempDir();
    const sink = await fileSink.create(withDefaults(fileSink.schema, { path: 'out/part-{partition}.csv' }), partitioned(dir, 3));
    await writeAll(sink, batches.slice(0, 1));
    await sink.close!();
    expect(readFileSync(join(dir, 'out/part-3.csv'), 'utf8')).toMatch(/^id,name,tags,ok\n1,Ann/);
    await writeSink(fileSink, { path: 'out/part-{partition}.csv' }, batches.slice(0, 1), { dir });
    expect(existsSync(join(dir, 'out/part-0.csv'))).toBe(true);
    expect(existsSync(join(dir, 'out/part-{partition}.csv'))).toBe(false);
  });
});
