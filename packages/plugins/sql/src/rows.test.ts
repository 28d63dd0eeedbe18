// Records → rows: the shape of each record decides its columns, also when it differs from the record before.
import type { SluiceRecord } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { rowValue, type Rejection } from './batch.js';
import type { ColumnInfo, TableInfo } from './dialect.js';
import { RowShaper } from './rows.js';

const columns: ColumnInfo[] = ['id', 'name', 'email'].map((name) => ({ name, type: 'text', kind: 'text', nullable: true }));
const info = { name: 't', columns, byName: new Map(columns.map((c) => [c.name, c])) } as unknown as TableInfo;

function shape(records: SluiceRecord[], ignoreUnknown = false) {
  const shaper = new RowShaper(undefined, 't', ignoreUnknown, 'postgres');
  const rejected: Rejection[] = [];
  const kept = shaper.refuseBadNames(records, rejected, info);
  const parts = shaper.prepare(records, rejected, info);
  return {
    kept: kept.length,
    parts: parts.map((p) => ({ columns: p.columns.map((c) => c.name), rows: p.records.map((_, r) => p.columns.map((_c, c) => rowValue(p, r, c))), index: p.index })),
    rejected: rejected.map((r) => [r.index, r.error.message.split(';')[0]]),
  };
}

describe('RowShaper', () => {
  it('gives each record the columns of its own fields, whatever the record before had', () => {
    const inherited = Object.create({ email: 'inherited@x' }) as SluiceRecord;
    Object.assign(inherited, { id: 5, name: 'e' });
    const records: SluiceRecord[] = [
      { id: 1, name: 'a', email: 'a@x' },
      { id: 2, name: 'b', email: 'b@x' },
      inherited, // `email` only on the prototype: not a field of the record
      { id: 3, name: 'c' }, // fewer fields
      { name: 'd', id: 4, email: 'd@x' }, // same fields, another order
      { id: 6, name: 'f', email: 'f@x', extra: 1 }, // a field the table lacks
      { id: 7, name: 'g', email: 'g@x' },
      { id: 8, name: 'h', ' bad': 1 }, // a field no database can name exactly
      { id: 9, name: 'i', email: 'i@x' },
    ];
    expect(shape(records)).toEqual({
      kept: 8,
      parts: [
        { columns: ['id', 'name', 'email'], rows: [[1, 'a', 'a@x'], [2, 'b', 'b@x']], index: [0, 1] },
        { columns: ['id', 'name'], rows: [[5, 'e'], [3, 'c']], index: [2, 3] },
        { columns: ['id', 'name', 'email'], rows: [[4, 'd', 'd@x'], [7, 'g', 'g@x'], [9, 'i', 'i@x']], index: [4, 6, 8] },
      ],
      rejected: [
        [7, 'field " bad" cannot be a column of t: it starts with white space'],
        [5, "table t has no column 'extra' (columns: id, name, email)"],
      ],
    });
  });

  it('keeps a batch whose records all have one shape as one part, and refuses them all when the table lacks a field', () => {
    const records: SluiceRecord[] = [1, 2, 3].map((id) => ({ id, name: `n${id}` }));
    expect(shape(records).parts).toEqual([{ columns: ['id', 'name'], rows: [[1, 'n1'], [2, 'n2'], [3, 'n3']], index: [0, 1, 2] }]);
    const extra = [1, 2].map((id) => ({ id, other: 'x' }));
    expect(shape(extra)).toEqual({ kept: 2, parts: [], rejected: [[0, "table t has no column 'other' (columns: id, name, email)"], [1, "table t has no column 'other' (columns: id, name, email)"]] });
  });
});
