// COPY data written straight into Buffers must be byte for byte the text the field encoder makes.
import { describe, expect, it } from 'vitest';
import type { PreparedBatch } from './batch.js';
import { copyChunks, copyField } from './copy-text.js';
import type { ColumnInfo, ColumnKind } from './dialect.js';

/** COPY data as it was made before it was written into Buffers: a string per row, encoded at the end. */
function reference(batch: PreparedBatch, positions: number[], extra?: (p: number) => number): Buffer {
  let text = '';
  for (const p of positions) {
    const fields = batch.columns.map((c, i) => copyField(c.kind, batch.records[p]![batch.fields[i]!]));
    if (extra) fields.push(String(extra(p)));
    text += `${fields.join('\t')}\n`;
  }
  return Buffer.from(text);
}

const column = (name: string, kind: ColumnKind): ColumnInfo => ({ name, type: kind, kind, nullable: true });

describe('copyChunks', () => {
  const columns = [column('a', 'text'), column('b', 'int'), column('c', 'json'), column('d', 'timestamptz'), column('e', 'array'), column('f', 'bool')];
  const fields = ['fa', 'fb', 'fc', 'fd', 'fe', 'ff'];
  const values: unknown[][] = [
    ['plain', 1, { x: 'y\nz' }, new Date('2024-01-02T03:04:05Z'), ['a', null], true],
    ['tab\there\\ and\r\nlines', -2.5, 'just text', '2024-01-02', ['b"c'], false],
    ['ünïcødé \\ then\ttab', Number.NaN, [1, 2], null, null, null],
    ['emoji 😀 and lone \ud800 surrogate\n', Number.POSITIVE_INFINITY, null, undefined, [], 'x'],
    ['', 12345678901234567890n, 'ü\t', 'ünï\\', ['ü'], 0],
    ['x'.repeat(70_000), 0, 'y'.repeat(30_000), 'ü'.repeat(40_000), ['\\'], 1],
    ['ascii first then ü\\\t', 1, null, null, null, null],
  ];

  it('writes the bytes the field encoder makes, in chunks of at most 64 KiB unless a field is longer', () => {
    const records = Array.from({ length: 400 }, (_, i) => Object.fromEntries(fields.map((f, c) => [f, values[i % values.length]![c]])));
    const batch: PreparedBatch = { columns, fields, records, index: records.map((_, i) => i) };
    const positions = records.map((_, i) => i).filter((i) => i % 5 !== 3);
    for (const extra of [undefined, (p: number) => p * 7]) {
      const chunks = [...copyChunks(batch, positions, extra)];
      expect(Buffer.concat(chunks).equals(reference(batch, positions, extra))).toBe(true);
      expect(chunks.length).toBeGreaterThan(10);
      expect(chunks.every((c) => c.length > 0 && (c.length <= 64 * 1024 || c.length <= 3 * 70_000 + 1))).toBe(true);
    }
  });

  it('writes every number as String writes it (integers, fractions of up to 6 decimals, and the rest)', () => {
    let seed = 12_345;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const sign = () => (random() < 0.5 ? -1 : 1);
    const edges = [0, -0, 0.5, -0.5, 1e-6, 1e-7, 9.999999e-7, 0.1 + 0.2, 1.005, 2.675, 1e15 - 1, 1e15, 1e15 + 1, 999_999_999_999_999.9, 99_999_999_999_999.99, 1e21, 2 ** 53, -(2 ** 53), Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON, 123_456_789.123456, 2 ** 31 - 1, 2 ** 31, -(2 ** 31 - 1), -(2 ** 31), 21_474_836.47, 21_474_836.48, -21_474_836.48, 2147.483648, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const kinds = [
      () => Math.floor(random() * 2 ** 53) * sign(),
      () => (Math.floor(random() * 10 ** Math.floor(random() * 17)) / 10 ** Math.floor(random() * 9)) * sign(),
      () => random() * 10 ** (Math.floor(random() * 40) - 15),
      () => Math.round(random() * 1e8) / 100,
      () => Number((random() * 1000).toFixed(Math.floor(random() * 8))),
    ];
    const numbers = [...edges, ...Array.from({ length: 200_000 }, (_, i) => kinds[i % kinds.length]!())];
    const records = numbers.map((n) => ({ n, j: n }));
    const batch: PreparedBatch = { columns: [column('n', 'float'), column('j', 'json')], fields: ['n', 'j'], records, index: records.map((_, i) => i) };
    const got = Buffer.concat([...copyChunks(batch, batch.index)]);
    const want = reference(batch, batch.index);
    if (!got.equals(want)) {
      const gotRows = got.toString().split('\n');
      const wantRows = want.toString().split('\n');
      const row = wantRows.findIndex((w, i) => gotRows[i] !== w);
      expect({ value: numbers[row], got: gotRows[row] }).toEqual({ value: numbers[row], got: wantRows[row] });
    }
    expect(got.equals(want)).toBe(true);
  });

  it('writes nothing for no rows', () => {
    expect([...copyChunks({ columns, fields, records: [], index: [] }, [])]).toEqual([]);
  });
});
