// The JSON Lines a raw CSV page is transcoded to must be, byte for byte, what the record path
// writes: the page read by the real file source (raw pages asked for), each raw page transcoded,
// and compared with the JSON Lines encoder's text for the same page's records (`materialize`, the
// reader's own records). A page whose records include a record error must be declined.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDefaults, type SourcePage } from '@sluice/core';
import { createTestContext } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';
import { castCsvValue, castMayChange } from './csv-cast.js';
import { csvPageToJsonLines } from './csv-jsonl.js';
import { encodeJsonLines } from './encode.js';
import { fileSource } from './source.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-csv-jsonl-'));

async function pages(file: string, csv: object, batchSize: number): Promise<SourcePage[]> {
  const ctx = createTestContext({ dir, kind: 'source' });
  const source = await fileSource.create(withDefaults(fileSource.schema, { path: file, csv }) as never, ctx);
  const out: SourcePage[] = [];
  for await (const page of source.read({ cursor: undefined, batchSize, signal: ctx.signal, raw: ['csv'], rawCast: true })) out.push(page);
  return out;
}

/** Transcodes every raw page of `file` and compares it with the record path's text; returns the raw pages seen and how many were declined. */
async function compare(file: string, csv: object, batchSize: number): Promise<{ raw: number; declined: number }> {
  let raw = 0;
  let declined = 0;
  const all = await pages(file, csv, batchSize);
  for (const [i, page] of all.entries()) {
    if (!page.raw) continue;
    raw++;
    const made = await page.raw.materialize();
    const got = csvPageToJsonLines(page.raw);
    if (made.errors && made.errors.length > 0) {
      expect(got, `${file} page ${i}: the reader refuses a row, so the page is declined`).toBeUndefined();
      declined++;
      continue;
    }
    const expected = encodeJsonLines(made.records);
    expect(expected.rejected).toEqual([]);
    expect(got?.toString('utf8'), `${file} (batch ${batchSize}, ${JSON.stringify(csv)}) page ${i}`).toBe(expected.text);
    expect(got!.equals(Buffer.from(expected.text, 'utf8'))).toBe(true);
  }
  return { raw, declined };
}

/** A field as CSV: quoted when it must be (or when `quote` says so), inner quotes doubled. */
const field = (value: string, quote = false) => (quote || /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** Every form the cast takes or leaves as text, and text JSON.stringify escapes. */
const VALUES = [
  '1', '0', '-0', '01', '007', '-01', '1.50', '1.5', '-1.5', '.5', '5.', '-.5', '1e5', '1E5', '1e+5', '1e-5', '-1e-7', '1e400', '-1e400', '1e-400',
  '4.9e-324', '0.1', '0.000001', '0.0000001', '123456789012345', '1234567890123456', '9007199254740991', '9007199254740993', '12345678901234567890',
  '123456789012345.6', '0.1000000000000000055511', '1.7976931348623157e308', '0x10', '0b1', '0o7', ' 1', '1 ', '+5', '1_000', '1,5', 'NaN', 'Infinity', '-Infinity', '-',
  '--1', '1-2', '2023-04-10', '2023-04-10T06:03:28.039Z', 'true', 'false', 'TRUE', 'False', 'tRuE', 'truex', 'falsey', 't', 'f', 'tru', 'fals', 'yes', 'null', 'undefined',
  '', 'text', 'a"b', '""', 'back\\slash', '\\', '\\u0041', 'tab\there', 'ctl\u0001\u001f\u007f', '\b\f', 'line\nbreak', 'cr\rhere', 'ção', 'Ω≈ç√', '日本', '😀 astral',
  '\ufeffbom', '\u2028\u2029', 'é', 'tré', 'fé', '1é', '-é', '\u00a0',
];

describe('csvPageToJsonLines: raw CSV pages as the JSON Lines of their records', () => {
  // One value per row in a middle column, unquoted where the reader allows it, then quoted.
  const rows: string[] = [];
  for (const [i, v] of VALUES.entries()) {
    rows.push(`${i},${field(v)},x${i}`);
    rows.push(`${i},${field(v, true)},"q${i}"`);
  }
  writeFileSync(join(dir, 'values.csv'), `id,value,tail\n${rows.join('\n')}\n`);

  it.each([{ cast: false }, { cast: true }])('every value of the corpus, one a row, unquoted and quoted: %o', async (csv) => {
    for (const batch of [1, 3, 1000]) {
      const seen = await compare('values.csv', csv, batch);
      // One page of 1000 holds a row with `\r`: records.
      if (batch < 1000) expect(seen.raw, 'some pages were raw').toBeGreaterThan(40);
    }
  });

  it('column names: integer-like (written first, ascending), duplicates (once, the last value), __proto__, quotes and unicode', async () => {
    writeFileSync(join(dir, 'names.csv'), `b,10,a,2,__proto__,a,"say ""hi""",ünï 😀,constructor,\n${Array.from({ length: 20 }, (_, i) => `${i},x${i},${i * 2},"q,${i}",p${i},last${i},s,u,c${i},e`).join('\n')}\n`);
    for (const cast of [false, true]) {
      const seen = await compare('names.csv', { cast }, 7);
      expect(seen.raw).toBeGreaterThan(0);
    }
    writeFileSync(join(dir, 'noheader.csv'), `${Array.from({ length: 30 }, (_, i) => Array.from({ length: 12 }, (_, k) => `${i * k}`).join(',')).join('\n')}\n`);
    expect((await compare('noheader.csv', { header: false, cast: true }, 4)).raw).toBeGreaterThan(0);
  });

  it('declines a page with a row of another number of fields; other delimiters and quotes', async () => {
    writeFileSync(join(dir, 'counts.csv'), `a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n16,17,18\n`);
    const seen = await compare('counts.csv', { cast: true }, 2);
    expect(seen.declined).toBe(2);
    writeFileSync(join(dir, 'semi.csv'), `a;b\n1;'x;y'\n'it''s';2\n3;4\n`);
    // The last page (one row, fewer than the batch size) is records.
    expect((await compare('semi.csv', { delimiter: ';', quote: "'", cast: true }, 2)).raw).toBe(1);
  });

  it('property: generated CSV (random names, values, quoting, bad rows), cast on and off, any batch size', async () => {
    let state = 12345;
    const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    const ALPHABET = ['a', 'Z', '0', '7', '-', '.', 'e', ' ', ',', '"', '\\', '\t', '\u0001', '\u001f', 'é', '😀', '日', 't', 'f', 'r', 'u'];
    const NAMES = ['id', 'a', 'b', '0', '1', '12', '__proto__', 'x y', 'ü', '"q"', 'a'];
    let raw = 0;
    for (let round = 0; round < 60; round++) {
      const columns = 1 + Math.floor(random() * 5);
      const names = Array.from({ length: columns }, () => pick(NAMES));
      const lines = [names.map((n) => field(n)).join(',')];
      const count = 5 + Math.floor(random() * 40);
      for (let r = 0; r < count; r++) {
        const width = random() < 0.03 ? columns + pick([-1, 1]) : columns;
        const fields = Array.from({ length: Math.max(1, width) }, () => {
          const v = random() < 0.5 ? pick(VALUES) : Array.from({ length: Math.floor(random() * 6) }, () => pick(ALPHABET)).join('');
          return field(v, random() < 0.2);
        });
        lines.push(fields.join(','));
      }
      const name = `gen-${round}.csv`;
      writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
      const batch = pick([1, 2, 5, 50]);
      for (const cast of [false, true]) raw += (await compare(name, { cast }, batch)).raw;
    }
    expect(raw).toBeGreaterThan(100);
  });

  it('castMayChange says false only for fields the cast gives back unchanged', () => {
    const all = [...VALUES, 'x', 'Tx', 'Fx', 'Tru', 'FALSE', 'ture', '\u212aelvin'];
    for (const v of all) {
      const first = v.length === 0 ? -1 : Buffer.from(v)[0]!;
      if (!castMayChange(first)) {
        expect(castCsvValue(v, false)).toBe(v);
        expect(castCsvValue(v, true)).toBe(v);
      }
    }
    // And for every first byte: a 4- or 5-letter field starting with it that could be a boolean or number.
    for (let b = 0; b < 128; b++) {
      const c = String.fromCharCode(b);
      for (const v of [c, `${c}rue`, `${c}alse`, `${c}1`, `${c}.5`]) if (!castMayChange(b)) expect(castCsvValue(v, false)).toBe(v);
    }
  });
});
