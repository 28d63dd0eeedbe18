import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { positionsArray, withDefaults, type SourcePage } from '@sluice/core';
import { createTestContext } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';
import { castCsvValue } from './csv-cast.js';
import { plainlyQuoted } from './csv-raw.js';
import { fileSource } from './source.js';

async function read(dir: string, config: object, batchSize: number, raw: boolean, cursor?: unknown): Promise<SourcePage[]> {
  const ctx = createTestContext({ dir, kind: 'source' });
  const source = await fileSource.create(withDefaults(fileSource.schema, config) as never, ctx);
  const pages: SourcePage[] = [];
  for await (const page of source.read({ cursor, batchSize, signal: ctx.signal, ...(raw ? { raw: ['csv'], rawCast: true } : {}) })) pages.push(page);
  return pages;
}

/** A page as the record path sees it: a raw page materialised (its cursor and progress are the raw page's). */
async function asRecords(page: SourcePage): Promise<unknown> {
  const made = page.raw ? { ...(await page.raw.materialize()), cursor: page.cursor, progress: page.progress } : page;
  return { records: made.records, positions: positionsArray(made.positions), errors: (made.errors ?? []).map((e) => ({ message: e.error.message, raw: e.raw, position: e.position })), cursor: made.cursor, progress: made.progress };
}

const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${from + i},name ${from + i},${(from + i) * 3}`);

describe('file source: raw CSV pages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-csv-raw-'));
  const body = [
    ...rows(1, 10),
    '11,"quoted, ""x""",1', // plainly quoted: raw
    ...rows(12, 9),
    '21,"two\nlines",2', // a quoted line break: that page is records
    ...rows(22, 9),
    '31,a"b,3', // refused by the reader: records, with its error
    ...rows(32, 8),
    '',
    ...rows(40, 12),
    '52,only two',
    ...rows(53, 3),
  ].join('\n');
  writeFileSync(join(dir, 'in.csv'), `id,name,n\n${body}\n`);
  writeFileSync(join(dir, 'crlf.csv'), `id,name,n\r\n${rows(1, 30).join('\r\n')}\r\n`);

  it('yields the pages the record path yields — same boundaries, cursors, progress; materialised, the same records, positions and errors', async () => {
    for (const batchSize of [1, 4, 10, 1000]) {
      const plain = await read(dir, { path: 'in.csv' }, batchSize, false);
      const raw = await read(dir, { path: 'in.csv' }, batchSize, true);
      expect(raw.length).toBe(plain.length);
      expect(raw.some((p) => p.raw !== undefined), `batch ${batchSize}: some page raw`).toBe(batchSize < 1000);
      expect(plain.every((p) => p.raw === undefined)).toBe(true);
      for (const [i, page] of raw.entries()) {
        expect(await asRecords(page), `batch ${batchSize}, page ${i}`).toEqual(await asRecords(plain[i]!));
        if (page.raw) {
          expect(page.records).toEqual([]);
          expect(page.raw.bytes.toString().split('\n').length - 1).toBe(page.raw.count);
          expect(page.raw.columns).toEqual(['id', 'name', 'n']);
        }
      }
    }
  });

  it('resumes from any page cursor to the same pages', async () => {
    const full = await read(dir, { path: 'in.csv' }, 4, true);
    for (const [i, page] of full.entries()) {
      const rest = await read(dir, { path: 'in.csv' }, 4, true, JSON.parse(JSON.stringify(page.cursor)));
      const expected = full.slice(i + 1);
      expect(rest.map((p) => p.raw !== undefined), `after page ${i}`).toEqual(expected.map((p) => p.raw !== undefined));
      for (const [k, p] of rest.entries()) expect(await asRecords(p)).toEqual(await asRecords(expected[k]!));
    }
  });

  it('with cast: true, yields raw pages that carry the cast and materialise to the cast records', async () => {
    const plain = await read(dir, { path: 'in.csv', csv: { cast: true } }, 4, false);
    const raw = await read(dir, { path: 'in.csv', csv: { cast: true } }, 4, true);
    expect(raw.some((p) => p.raw !== undefined)).toBe(true);
    for (const [i, page] of raw.entries()) {
      if (page.raw) expect(page.raw.cast).toBe(castCsvValue);
      expect(await asRecords(page), `page ${i}`).toEqual(await asRecords(plain[i]!));
    }
    expect((await read(dir, { path: 'in.csv' }, 4, true)).every((p) => p.raw?.cast === undefined)).toBe(true);
    // A sink that takes no cast pages (no rawCast, the sql sink): records, not pages it would decline.
    const ctx = createTestContext({ dir, kind: 'source' });
    const source = await fileSource.create(withDefaults(fileSource.schema, { path: 'in.csv', csv: { cast: true } }) as never, ctx);
    const pages: SourcePage[] = [];
    for await (const page of source.read({ cursor: undefined, batchSize: 4, signal: ctx.signal, raw: ['csv'] })) pages.push(page);
    expect(pages.some((p) => p.raw)).toBe(false);
    expect(pages.length).toBe(raw.length);
  });

  it('yields no raw page for CRLF, or when not asked', async () => {
    expect((await read(dir, { path: 'crlf.csv' }, 4, true)).some((p) => p.raw)).toBe(false);
    expect((await read(dir, { path: 'in.csv' }, 4, false)).some((p) => p.raw)).toBe(false);
  });

  it('plainlyQuoted: quotes that open and close whole fields on the row only', () => {
    const ok = (row: string) => plainlyQuoted(Buffer.from(`${row}\n`), 0, row.length, 0x22, 0x2c);
    expect(ok('1,"a,b",c')).toBe(true);
    expect(ok('"a""b",""')).toBe(true);
    expect(ok('1,""""')).toBe(true);
    expect(ok('1,a"b')).toBe(false);
    expect(ok('1,"ab"c')).toBe(false);
    expect(ok('1,"ab')).toBe(false);
    expect(ok('1,"ab" ,c')).toBe(false);
  });
});
