// Splitting the file source for distributed runs, and reading each partition.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { positionsArray, withDefaults, type SourcePage } from '@sluice/core';
import { collectSource, createTestContext } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';
import { MIN_RANGE_BYTES, type FilePartition } from './partition.js';
import { fileSource } from './source.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-file-part-'));

function put(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** mulberry32: the same "random" files on every run. */
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

const records = (pages: SourcePage[]) => pages.flatMap((p) => p.records);
const positions = (pages: SourcePage[]) => pages.flatMap((p) => positionsArray(p.positions));
const errors = (pages: SourcePage[]) => pages.flatMap((p) => (p.errors ?? []).map((e) => ({ message: e.error.message, raw: e.raw })));

async function partitionsOf(dir: string, config: object, n: number): Promise<FilePartition[]> {
  const ctx = createTestContext({ dir, kind: 'source' });
  const source = await fileSource.create(withDefaults(fileSource.schema, config), ctx);
  try {
    // Specs travel to the workers as JSON.
    return JSON.parse(JSON.stringify(await source.partitions!(n))) as FilePartition[];
  } finally {
    await source.close?.();
  }
}

/** Reads one partition as a worker would: a fresh instance, the spec, maybe a cursor. */
async function readPartition(
  dir: string,
  config: object,
  partition: unknown,
  options: { batchSize?: number; cursor?: unknown } = {},
): Promise<{ pages: SourcePage[]; estimate: number }> {
  const ctx = createTestContext({ dir, kind: 'source' });
  const source = await fileSource.create(withDefaults(fileSource.schema, config), ctx);
  const estimate = source.estimate!(partition);
  // A partition the read refuses fails the estimate too; the read's error is what is tested.
  estimate.catch(() => undefined);
  const pages: SourcePage[] = [];
  try {
    for await (const page of source.read({ cursor: options.cursor, batchSize: options.batchSize ?? 1000, signal: ctx.signal, partition })) pages.push(page);
  } finally {
    await source.close?.();
  }
  return { pages, estimate: (await estimate)!.total };
}

/** ~10k JSON Lines of varied length: a few longer than a 64 KiB scan, CRLF here and there, blank and bad lines. */
function jsonlFixture(): { text: string; ids: number[] } {
  const random = seeded(7);
  const lines: string[] = [];
  const ids: number[] = [];
  for (let id = 0; id < 10_000; id++) {
    const pad = id % 1500 === 700 ? 70_000 : Math.floor(random() * 300);
    const end = random() < 0.1 ? '\r\n' : '\n';
    lines.push(JSON.stringify({ id, pad: 'x'.repeat(pad), é: 'ü' }) + end);
    ids.push(id);
    if (id % 2500 === 1000) lines.push('\n');
    if (id % 3333 === 17) lines.push(`{"broken": ${id}\n`);
  }
  return { text: lines.join(''), ids };
}

describe('file source partitions: byte ranges of one JSON Lines file', () => {
  const dir = tempDir();
  const { text, ids } = jsonlFixture();
  const path = put(dir, 'big.jsonl', text);
  const bytes = readFileSync(path);
  const config = { path: 'big.jsonl' };

  it('the fixture is large enough to be cut 7 ways', () => {
    expect(bytes.length).toBeGreaterThan(7 * MIN_RANGE_BYTES);
  });

  it.each([1, 2, 3, 4, 5, 6, 7])('n = %i: every record exactly once, in order, with exact byte offsets and per-partition progress', async (n) => {
    const whole = await collectSource(fileSource, config, { dir, batchSize: 1000 });
    expect(records(whole).map((r) => r.id)).toEqual(ids);
    const parts = await partitionsOf(dir, config, n);
    expect(parts).toHaveLength(n);
    const got: SourcePage[][] = [];
    let spans = 0;
    for (const part of parts) {
      const { pages, estimate } = await readPartition(dir, config, part, { batchSize: 333 });
      got.push(pages);
      spans += estimate;
      if (pages.length > 0) expect(pages.at(-1)!.progress).toBe(estimate);
    }
    expect(spans).toBe(bytes.length);
    const all = got.flat();
    expect(records(all)).toEqual(records(whole));
    expect(errors(all)).toEqual(errors(whole));
    if (n === 1) {
      expect(positions(all)).toEqual(positions(whole));
      return;
    }
    // Byte ranges report where each record starts, not a line number they cannot know.
    const read = records(all);
    for (const [i, position] of positions(all).entries()) {
      expect(Object.keys(position)).toEqual(['file', 'offset']);
      const at = position.offset as number;
      expect(at === 0 || bytes[at - 1] === 0x0a).toBe(true);
      expect(bytes.subarray(at, at + 20).toString('utf8').startsWith(`{"id":${read[i]!.id},`)).toBe(true);
    }
  });

  it('a hand-made spec cut anywhere (mid-line, on a newline, inside a 70 KB line) still reads every line once', async () => {
    const long = bytes.indexOf('x'.repeat(70_000));
    const newline = bytes.indexOf(0x0a, 200_000);
    const other = bytes.indexOf(0x0a, 400_000) + 1;
    const cuts = [1, 37, newline, newline + 1, long + 5, long + 69_000, other, bytes.length - 2].sort((a, b) => a - b);
    const whole = await collectSource(fileSource, config, { dir });
    // The line starting at or after a byte: a line belongs to the range its first byte is in.
    const lineStart = (at: number) => (at === 0 ? 0 : bytes.indexOf(0x0a, at - 1) + 1);
    const all: SourcePage[] = [];
    for (let k = 0; k <= cuts.length; k++) {
      const slice = { file: 0, name: 'big.jsonl', start: k === 0 ? 0 : cuts[k - 1]!, ...(k < cuts.length ? { end: cuts[k] } : {}) };
      const { pages } = await readPartition(dir, config, { slices: [slice] });
      const [from, to] = [lineStart(slice.start), slice.end === undefined ? bytes.length : lineStart(slice.end)];
      const seen = pages.flatMap((p) => [...positionsArray(p.positions), ...(p.errors ?? []).map((e) => e.position!)]).map((p) => p.offset as number);
      expect(seen.every((at) => at >= from && at < to), `range ${k}`).toBe(true);
      all.push(...pages);
    }
    expect(records(all)).toEqual(records(whole));
    expect(errors(all)).toEqual(errors(whole));
  });

  it('resumes inside a partition from every page cursor: exactly the rest of that partition', async () => {
    const parts = await partitionsOf(dir, config, 3);
    const middle = parts[1]!;
    const { pages: full } = await readPartition(dir, config, middle, { batchSize: 97 });
    expect(full.length).toBeGreaterThan(20);
    for (const [i, page] of full.entries()) {
      if (i % 3 !== 0 && i !== full.length - 1) continue;
      const cursor = JSON.parse(JSON.stringify(page.cursor));
      const { pages: rest } = await readPartition(dir, config, middle, { batchSize: 97, cursor });
      const expected = full.slice(i + 1);
      expect(records(rest), `after page ${i}`).toEqual(records(expected));
      expect(positions(rest), `positions after page ${i}`).toEqual(positions(expected));
      expect(rest.map((p) => p.progress)).toEqual(expected.map((p) => p.progress));
    }
  });

  it('refuses a cursor from another partition', async () => {
    const parts = await partitionsOf(dir, config, 3);
    const { pages } = await readPartition(dir, config, parts[2]!, { batchSize: 50 });
    await expect(readPartition(dir, config, parts[0]!, { cursor: pages[0]!.cursor })).rejects.toThrow(/which this partition does not read/);
  });
});

describe('file source partitions: CSV', () => {
  function csvFixture(crlf: boolean): string {
    const random = seeded(11);
    const eol = crlf ? '\r\n' : '\n';
    const rows = ['id,name,note'];
    for (let id = 0; id < 10_000; id++) {
      const note = random() < 0.2 ? `"say ""hi"", ${'n'.repeat(Math.floor(random() * 80))}"` : 'z'.repeat(Math.floor(random() * 120));
      rows.push(`${id},name ${id},${note}`);
    }
    return rows.join(eol) + eol;
  }

  it.each([false, true])('crlf %s: n = 4 reads every row once with the header in every partition', async (crlf) => {
    const dir = tempDir();
    const bytes = readFileSync(put(dir, 'rows.csv', csvFixture(crlf)));
    const config = { path: 'rows.csv', csv: { cast: true } };
    const whole = await collectSource(fileSource, config, { dir });
    expect(records(whole)).toHaveLength(10_000);
    const parts = await partitionsOf(dir, config, 4);
    expect(parts).toHaveLength(4);
    const all: SourcePage[] = [];
    for (const part of parts) all.push(...(await readPartition(dir, config, part, { batchSize: 512 })).pages);
    expect(records(all)).toEqual(records(whole));
    expect(errors(all)).toEqual([]);
    const offsets = positions(all).map((p) => p.offset as number);
    expect(offsets[0]).toBe(`id,name,note${crlf ? '\r\n' : '\n'}`.length);
    for (const [i, at] of offsets.entries()) {
      expect(bytes.subarray(at, at + 8).toString().startsWith(`${i},`)).toBe(true);
    }
  });

  it.each([false, true])('crlf %s: offsets in a byte range are the line starts of the rows, bad rows and quoted line breaks included', async (crlf) => {
    const dir = tempDir();
    const eol = crlf ? '\r\n' : '\n';
    const rows = ['id,name'];
    for (let i = 0; i < 400; i++) {
      if (i % 50 === 7) rows.push(`${i},"bad" quote`);
      else if (i % 50 === 19) rows.push(`${i}`);
      else if (i % 50 === 31) rows.push(`${i},"two${eol}lines"`);
      else if (i % 50 === 42) rows.push('', `${i},after a blank line`);
      else rows.push(`${i},plain ${i}`);
    }
    const text = rows.join(eol) + eol;
    const bytes = readFileSync(put(dir, 'p.csv', text));
    // Byte offset of the start of each line (1-based), from the bytes themselves.
    const lineOffsets = [0, 0];
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) lineOffsets.push(i + 1);
    const whole = await collectSource(fileSource, { path: 'p.csv' }, { dir });
    const items = (pages: SourcePage[]) =>
      pages.flatMap((p) => [...p.records.map((r, i) => ({ r, at: p.positions!.at(i)! })), ...(p.errors ?? []).map((e) => ({ r: e.raw, at: e.position! }))]);
    const expected = items(whole).map(({ r, at }) => ({ r, at: { file: 'p.csv', offset: lineOffsets[at.line as number] } }));
    expect(expected.filter((e) => typeof e.r === 'string')).toHaveLength(16);
    const sorted = (list: typeof expected) => [...list].sort((x, y) => (x.at.offset as number) - (y.at.offset as number));
    // Ranges that start at a good row (one starting inside a quoted line break reads differently, and
    // the range before it fails: see the next test).
    const good = expected.filter((e) => typeof e.r !== 'string').map((e) => e.at.offset as number);
    expect(good.length).toBeGreaterThan(150);
    for (const start of [0, good[Math.floor(good.length / 3)]! - 1, good[Math.floor((2 * good.length) / 3)]!]) {
      const { pages } = await readPartition(dir, { path: 'p.csv' }, { slices: [{ file: 0, name: 'p.csv', start }] });
      const from = start === 0 ? 0 : bytes.indexOf(0x0a, start - 1) + 1;
      expect(sorted(items(pages)), `from ${start}`).toEqual(sorted(expected.filter((e) => (e.at.offset as number) >= from)));
    }
  });

  it('a quoted field with line breaks across a cut fails the partition and names split: files, which then reads it whole', async () => {
    const dir = tempDir();
    const rows = ['id,text'];
    for (let i = 0; i < 3000; i++) rows.push(`${i},row ${i} ${'p'.repeat(i % 50)}`);
    rows.push(`3000,"${Array.from({ length: 20_000 }, (_, i) => `inner line ${i}`).join('\n')}"`);
    for (let i = 3001; i < 6000; i++) rows.push(`${i},row ${i} ${'p'.repeat(i % 50)}`);
    put(dir, 'multi.csv', rows.join('\n') + '\n');
    const parts = await partitionsOf(dir, { path: 'multi.csv' }, 2);
    expect(parts).toHaveLength(2);
    await expect(readPartition(dir, { path: 'multi.csv' }, parts[0]!)).rejects.toThrow(
      /'multi.csv' is inside a quoted CSV field at byte \d+, where it was split for a distributed run .*; set split: files on this source/,
    );
    const safe = { path: 'multi.csv', split: 'files' };
    const whole = await partitionsOf(dir, safe, 2);
    expect(whole).toEqual([{ slices: [{ file: 0, name: 'multi.csv' }] }]);
    const { pages } = await readPartition(dir, safe, whole[0]!);
    expect(records(pages)).toHaveLength(6000);
    expect((records(pages)[3000]!.text as string).split('\n')).toHaveLength(20_000);
  });
});

describe('file source partitions: by file', () => {
  it('groups the files of a glob into at most n partitions of whole files, in order, with line positions', async () => {
    const dir = tempDir();
    const sizes = [40, 400, 90, 10, 250, 0, 120];
    let id = 0;
    for (const [i, count] of sizes.entries()) {
      put(dir, `in/${String(i).padStart(2, '0')}.jsonl`, Array.from({ length: count }, () => JSON.stringify({ id: id++ }) + '\n').join(''));
    }
    const config = { path: 'in/*.jsonl' };
    const whole = await collectSource(fileSource, config, { dir });
    expect(records(whole)).toHaveLength(id);
    for (const n of [2, 3, 4, 10]) {
      const parts = await partitionsOf(dir, config, n);
      expect(parts.length).toBeGreaterThan(1);
      expect(parts.length).toBeLessThanOrEqual(Math.min(n, sizes.length));
      const slices = parts.flatMap((p) => p.slices);
      expect(slices.every((s) => s.start === undefined && s.end === undefined)).toBe(true);
      expect(slices.map((s) => s.file)).toEqual(sizes.map((_, i) => i));
      const all: SourcePage[] = [];
      for (const part of parts) all.push(...(await readPartition(dir, config, part, { batchSize: 64 })).pages);
      expect(records(all)).toEqual(records(whole));
      expect(positions(all)).toEqual(positions(whole));
    }
    // Balanced by size: with 2 partitions neither holds more than the biggest file beyond half.
    const two = await partitionsOf(dir, config, 2);
    const count = (p: FilePartition) => p.slices.reduce((sum, s) => sum + sizes[s.file]!, 0);
    expect(Math.abs(count(two[0]!) - count(two[1]!))).toBeLessThanOrEqual(400);
  });

  it('.gz files and JSON arrays are split by file only, never by bytes', async () => {
    const dir = tempDir();
    const random = seeded(3);
    // Random text compresses poorly, so the .gz file is big enough that a plain one would be cut.
    const noise = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 36).toString(36)).join('');
    const rows = Array.from({ length: 4000 }, (_, id) => ({ id, noise: noise(200) }));
    put(dir, 'z/a.jsonl.gz', gzipSync(rows.slice(0, 3900).map((r) => JSON.stringify(r) + '\n').join('')));
    put(dir, 'z/b.jsonl.gz', gzipSync(rows.slice(3900).map((r) => JSON.stringify(r) + '\n').join('')));
    put(dir, 'big.json', JSON.stringify(rows, null, 1));
    expect(readFileSync(join(dir, 'z/a.jsonl.gz')).length).toBeGreaterThan(4 * MIN_RANGE_BYTES);

    const one = await partitionsOf(dir, { path: 'z/a.jsonl.gz' }, 4);
    expect(one).toEqual([{ slices: [{ file: 0, name: 'z/a.jsonl.gz' }] }]);
    expect(await partitionsOf(dir, { path: 'big.json' }, 4)).toEqual([{ slices: [{ file: 0, name: 'big.json' }] }]);

    const parts = await partitionsOf(dir, { path: 'z/*.jsonl.gz' }, 4);
    expect(parts).toEqual([{ slices: [{ file: 0, name: 'z/a.jsonl.gz' }] }, { slices: [{ file: 1, name: 'z/b.jsonl.gz' }] }]);
    const all: SourcePage[] = [];
    for (const part of parts) all.push(...(await readPartition(dir, { path: 'z/*.jsonl.gz' }, part)).pages);
    expect(records(all)).toEqual(rows);

    await expect(readPartition(dir, { path: 'z/a.jsonl.gz' }, { slices: [{ file: 0, name: 'z/a.jsonl.gz', start: 0, end: 1000 }] })).rejects.toThrow(
      /byte range of 'z\/a.jsonl.gz', which can only be read whole/,
    );
  });

  it('cuts the biggest file when there are fewer files than partitions', async () => {
    const dir = tempDir();
    const line = (id: number) => JSON.stringify({ id, pad: 'q'.repeat(90) }) + '\n';
    put(dir, 'm/a.jsonl', Array.from({ length: 3000 }, (_, i) => line(i)).join(''));
    put(dir, 'm/b.jsonl', Array.from({ length: 9000 }, (_, i) => line(3000 + i)).join(''));
    const config = { path: 'm/*.jsonl' };
    const parts = await partitionsOf(dir, config, 4);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toEqual({ slices: [{ file: 0, name: 'm/a.jsonl' }] });
    expect(parts.slice(1).map((p) => p.slices.map((s) => s.file))).toEqual([[1], [1], [1]]);
    const all: SourcePage[] = [];
    for (const part of parts) all.push(...(await readPartition(dir, config, part)).pages);
    expect(records(all).map((r) => r.id)).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
  });

  it('a tiny file gives one partition for n = 4, and nothing is lost', async () => {
    const dir = tempDir();
    put(dir, 'tiny.jsonl', '{"a":1}\n{"a":2}\n{"a":3}\n');
    const parts = await partitionsOf(dir, { path: 'tiny.jsonl' }, 4);
    expect(parts).toEqual([{ slices: [{ file: 0, name: 'tiny.jsonl' }] }]);
    const { pages, estimate } = await readPartition(dir, { path: 'tiny.jsonl' }, parts[0]);
    expect(records(pages)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(positions(pages).map((p) => p.line)).toEqual([1, 2, 3]);
    expect(estimate).toBe(24);
  });

  it('refuses a partition naming files this worker does not see', async () => {
    const dir = tempDir();
    put(dir, 'w/a.jsonl', '{"a":1}\n');
    put(dir, 'w/b.jsonl', '{"a":2}\n');
    const parts = await partitionsOf(dir, { path: 'w/*.jsonl' }, 2);
    expect(parts).toHaveLength(2);
    put(dir, 'w/0.jsonl', '{"a":0}\n');
    await expect(readPartition(dir, { path: 'w/*.jsonl' }, parts[1])).rejects.toThrow(
      /reads file #2 'w\/b.jsonl', but here the files matching 'w\/\*.jsonl' have 'w\/a.jsonl' there; every worker must see the same files/,
    );
  });
});
