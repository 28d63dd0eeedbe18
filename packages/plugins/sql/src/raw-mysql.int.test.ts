// Raw CSV pages into MariaDB (LOAD DATA LOCAL INFILE) store what the record path stores, value by
// value: each value goes in once as a one-row raw page and once as a record, into twin tables, and
// either the raw write went in and both tables hold the same text, or it threw a PermanentError
// (the engine then writes the record). The forms of the benchmark's data (and other `…Z` forms,
// unzoned values, the NULL word) must go in raw, not just fall back.
import { PermanentError, type RawPage, type SluiceRecord } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, write } from '../test/harness.js';
import { isZonedDateTime, mysqlUtc } from './dialect.js';
import { dateTimeExpression } from './load-raw-mysql.js';
import { availability, createDatabase, requireUp, rows, type TestDatabase } from '../test/services.js';

const { up, skip } = (await availability()).mysql2;

const COLUMNS = ['id', 'ts', 't6', 'tz', 's', 'n'];
const DDL = (t: string) => `create table ${t} (id integer primary key, ts datetime(3), t6 datetime(6), tz timestamp(3) null, s varchar(40), n integer)`;

/** A raw page of CSV rows (without their line breaks) of COLUMNS. */
function page(lines: string[]): RawPage {
  return {
    format: 'csv',
    bytes: Buffer.from(lines.map((l) => `${l}\n`).join('')),
    count: lines.length,
    columns: COLUMNS,
    delimiter: ',',
    quote: '"',
    materialize: () => {
      throw new Error('not in this test');
    },
  };
}

const info = (seq: number) => ({ seq, positions: [{ index: 0 }], attempt: 1, signal: new AbortController().signal });

/** `…Z` forms rewritten in SQL, and unzoned values kept as they are: these go in raw. */
const RAW = [
  '2023-04-10T06:03:28.039Z',
  '2023-04-10T06:03:28Z',
  '2023-04-10T06:03Z',
  '2023-04-10t06:03:28.1z',
  '2023-04-10 06:03:28.123456Z',
  '2023-04-10T06:03:28.99999Z',
  '2024-02-29T23:59:59.999Z',
  '2000-02-29T00:00:00Z',
  '2023-01-31T00:00:00Z',
  '2023-04-30T00:00:00Z',
  '2023-12-31T23:59:59Z',
  '2024-01-02 03:04:05',
  '2024-01-02T03:04:05.5',
  '2024-01-02',
];
/** Zoned values the record path converts with Date's arithmetic: raw falls back to records. */
const OFFSETS = ['2024-01-02T03:04:05+02:00', '2024-01-02T03:04:05-0530', '2024-01-02T03:04:05+05', '2024-01-02T24:00:00Z'];
/** Values the record path refuses (sent as written): raw must not store them either. */
const REFUSED = ['2023-02-29T10:00:00Z', '1900-02-29T00:00:00Z', '2024-04-31T00:00:00Z', '2024-00-10T10:00:00Z', '2024-13-01T00:00:00Z', '2024-01-02T03:60:00Z', '', 'soon', 'NULL', '2024-01-02T03:04:05Ž'];

describe.skipIf(skip)('raw CSV pages into MariaDB store what records store', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    requireUp('mysql2', up);
    db = await createDatabase('mysql2');
    await db.knex.raw(DDL('raw_t'));
    await db.knex.raw(DDL('rec_t'));
  });
  afterEach(async () => {
    const done = db;
    db = undefined!;
    await done?.drop();
  });

  const table = async (t: string) =>
    (await rows(db.knex, `select id, cast(ts as char) ts, cast(t6 as char) t6, cast(tz as char) tz, s, s is null sn, n from ${t} order by id`)).map((r) => JSON.stringify(r));

  /**
   * Each line once raw and once as its record (`values`, the reader's strings); returns which went
   * in raw, after checking both tables hold the same rows.
   */
  async function compare(lines: string[], values: string[][]): Promise<boolean[]> {
    const raw = await openSink(db, { table: 'raw_t' });
    const rec = await openSink(db, { table: 'rec_t' });
    const went: boolean[] = [];
    try {
      for (const [i, line] of lines.entries()) {
        const p = page([line]);
        expect(raw.sink.raw!.accepts(p)).toBe(true);
        let ok = true;
        try {
          await raw.sink.raw!.write(p, info(i));
        } catch (error) {
          expect(error).toBeInstanceOf(PermanentError);
          ok = false;
        }
        went.push(ok);
        const record: SluiceRecord = Object.fromEntries(COLUMNS.map((c, k) => [c, values[i]![k]!]));
        const refused = await write(rec.sink, [record], i);
        // What the engine does when the raw write failed: the record path writes it.
        if (!ok) await write(raw.sink, [record], i);
        if (ok) expect(refused, `${line}: in raw, so the record path takes it too`).toEqual({});
      }
    } finally {
      await raw.close();
      await rec.close();
    }
    expect(await table('raw_t')).toEqual(await table('rec_t'));
    return went;
  }

  it('the date-time expression gives what mysqlUtc gives for every `…Z` value it rewrites from digits, marks other zoned values, keeps the rest', async () => {
    const values: string[] = [];
    for (const year of ['2023', '2024', '1900', '2000', '0000'])
      for (const month of ['00', '01', '02', '04', '12', '13'])
        for (const day of ['00', '01', '28', '29', '30', '31', '32'])
          for (const time of ['T10:20:30.123Z', 'T23:59:59.999Z', 'T10:20:30.123z', 't10:20:30.123Z', 'T24:20:30.123Z', 'T00:00:00Z', 'T23:59:59.9999z', ' 12:30Z', 't24:00:00Z', 'T10:60:00Z', 'T10:00:60Z', 'T10:00:00.5+01:00', 'T10:00:00', 'X10:00:00Z', 'T10:00:00Z ', ''])
            values.push(`${year}-${month}-${day}${time}`);
    values.push('2024-01-02T03:04:05.123456789Z', '2024-01-02T03:04:05.Z', '2024-1-02T03:04:05Z', '２０２４-01-02T03:04:05Z', '2024-01-02T03:04:05Ｚ', 'Z', '');
    await db.knex.raw('create table vals (i integer primary key, v varchar(64)) character set utf8mb4');
    await db.knex('vals').insert(values.map((v, i) => ({ i, v })));
    // knex reads `?` as a binding: `\\?` is a literal one.
    const got = await rows(db.knex, `select i, ${dateTimeExpression('v').replaceAll('?', '\\?')} as e from vals order by i`);
    const NOT_RAW = 'sluice: this value is written as a record';
    const expected = values.map((v) => {
      if (!isZonedDateTime(v)) return v;
      const m = /^.{11}(\d\d):(\d\d)(?::(\d\d))?/.exec(v)!;
      const digits = /[zZ]$/.test(v) && Number(m[1]) < 24 && Number(m[2]) < 60 && Number(m[3] ?? 0) < 60;
      return digits && mysqlUtc(v) !== undefined ? mysqlUtc(v) : NOT_RAW;
    });
    expect(got.map((r) => r.e)).toEqual(expected);
    // The test covers each branch.
    expect(expected.filter((e) => e === NOT_RAW).length).toBeGreaterThan(100);
    expect(expected.filter((e, i) => e !== NOT_RAW && e !== values[i]).length).toBeGreaterThan(100);
  });

  it('date-times: `…Z` forms and unzoned values go in raw as the record path stores them; offsets and refused values fall back', async () => {
    const all = [...RAW, ...OFFSETS, ...REFUSED];
    // The value in all three date-time columns (datetime(3), datetime(6), timestamp(3)).
    const lines = all.map((v, i) => `${i},${v},${v},${v},x,1`);
    const went = await compare(
      lines,
      all.map((v, i) => [String(i), v, v, v, 'x', '1']),
    );
    expect(went).toEqual(all.map((v) => RAW.includes(v)));
    // Offsets the record path converts are in (through records), refused values are not.
    expect(Number((await rows(db.knex, 'select count(*) n from raw_t'))[0]!.n)).toBeGreaterThan(RAW.length);
    expect((await rows(db.knex, `select id from raw_t where id >= ${RAW.length + OFFSETS.length}`)).length).toBe(0);
  });

  it('the word NULL: unquoted or quoted it is the text NULL, as the reader reads it (refused by an integer or date-time column)', async () => {
    const d = '2023-04-10T06:03:28Z';
    /** s and n of each row (the date-times are `d`): what the reader makes of them. */
    const fields: Array<[string, string, string, string]> = [
      // [s in the file, n in the file, s read, n read]
      ['NULL', '1', 'NULL', '1'],
      ['"NULL"', '2', 'NULL', '2'],
      ['null', '3', 'null', '3'],
      ['\\N', '4', '\\N', '4'],
      ['NULLx', '5', 'NULLx', '5'],
      ['"a,NULL"', '6', 'a,NULL', '6'],
      ['""', '7', '', '7'],
      ['x', 'NULL', 'x', 'NULL'],
    ];
    const lines = fields.map(([s, n], i) => `${i},${d},${d},${d},${s},${n}`);
    lines.push(`${fields.length},NULL,${d},${d},x,1`);
    const values = fields.map(([, , s, n], i) => [String(i), d, d, d, s, n]);
    values.push([String(fields.length), 'NULL', d, d, 'x', '1']);
    const went = await compare(lines, values);
    expect(went).toEqual([true, true, true, true, true, true, true, false, false]);
  });

  it('a raw page of a batch an earlier run committed with a refused row is handed back (its records report the refusal); without refusals it is skipped', async () => {
    const eo = { checkpoint: { store: 'sql' as const, connection: 'db' } };
    const d = '2023-04-10T06:03:28.039Z';
    // Batch 0 with a refused row (n is not a number), batch 1 without: committed, then the run dies before its checkpoint.
    const first = await openSink(db, { table: 'raw_t' }, eo);
    const batch0 = [0, 1, 2].map((i) => ({ id: String(i), ts: d, t6: d, tz: d, s: 'x', n: i === 1 ? 'one' : '1' }));
    const batch1 = [3, 4].map((i) => ({ id: String(i), ts: d, t6: d, tz: d, s: 'x', n: '1' }));
    expect(await write(first.sink, batch0, 0)).toMatchObject({ rejected: [{ index: 1 }] });
    expect(await write(first.sink, batch1, 1)).toEqual({});
    await first.close();
    // The resumed run (no checkpoint) gets the same batches as raw pages.
    const resumed = await openSink(db, { table: 'raw_t' }, eo);
    try {
      const page0 = page(batch0.map((r) => COLUMNS.map((c) => r[c as keyof typeof r]).join(',')));
      const page1 = page(batch1.map((r) => COLUMNS.map((c) => r[c as keyof typeof r]).join(',')));
      await expect(resumed.sink.raw!.write(page0, info(0))).rejects.toBeInstanceOf(PermanentError);
      // What the engine does then: the records, whose write finds the batch done and reports the refusal.
      expect(await write(resumed.sink, batch0, 0)).toMatchObject({ rejected: [{ index: 1 }] });
      expect(await resumed.sink.raw!.write(page1, info(1))).toEqual({ state: { seq: 1 } });
    } finally {
      await resumed.close();
    }
    expect((await rows(db.knex, 'select id from raw_t order by id')).map((r) => Number(r.id))).toEqual([0, 2, 3, 4]);
  });
});
