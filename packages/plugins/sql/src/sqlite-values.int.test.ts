// Numeric text bound as a number (sqlite-values.ts) must store exactly what SQLite stores for the
// text itself: same value, same type, for every declared type the sink sees as integer or real —
// and where SQLite would keep the text (a TEXT or BLOB affinity), the text must stay.
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { dialectOf, type ColumnInfo } from './dialect.js';
import { asNumber, convertibleColumns } from './sqlite-values.js';
import { openSink, write } from '../test/harness.js';
import { createDatabase, type TestDatabase } from '../test/services.js';

// Declared types: integer and real kinds of every affinity SQLite gives them, and a few that only
// look numeric to the sink (`decimal_text` is TEXT affinity to SQLite, `numeric blob` BLOB).
const TYPES = ['integer', 'int', 'bigint', 'serial', 'real', 'double precision', 'float', 'numeric', 'decimal(10,2)', 'floating point', 'decimal_text', 'numeric blob', 'real clob'];
const VALUES = ['0', '-0', '007', '-12', '123456789012345', '999999999999999', '1234567890123456', '123456789012345678', '12.50', '-0.0', '0.1', '00.5', '1234567890123.45', '12.0', '9.99999999999999', '4.35', '0.000001', '-3.14159265358979', '1e3', ' 5', '5.', '.5', 'abc', ''];

const columnsOf = (types: readonly string[]): ColumnInfo[] => types.map((type, i) => ({ name: `c${i}`, type, kind: dialectOf('better-sqlite3').kindOf(type), nullable: true }));

/** Every row of `table` as `quote(value):typeof(value)` per column. */
function contents(db: Database.Database, table: string): string[][] {
  return db
    .prepare(`select ${TYPES.map((_, i) => `quote(c${i}) || ':' || typeof(c${i})`).join(', ')} from ${table} order by rowid`)
    .raw()
    .all() as string[][];
}

it('SQLite: numeric text bound as a number stores what the text itself stores, in every numeric affinity; TEXT and BLOB affinity keep the text', () => {
  const columns = columnsOf(TYPES);
  const convert = new Set(convertibleColumns(columns));
  // The integer and real kinds SQLite converts numeric text in; not decimal_text, numeric blob, real clob.
  expect([...convert].map((k) => TYPES[k])).toEqual(['integer', 'int', 'bigint', 'serial', 'real', 'double precision', 'float', 'numeric', 'decimal(10,2)', 'floating point']);
  const db = new Database(':memory:');
  const ddl = TYPES.map((t, i) => `c${i} ${t}`).join(', ');
  db.exec(`create table as_text (${ddl}); create table as_bound (${ddl})`);
  const insert = (table: string) => db.prepare(`insert into ${table} values (${TYPES.map(() => '?').join(', ')})`);
  let numbers = 0;
  for (const v of VALUES) {
    insert('as_text').run(TYPES.map(() => v));
    const bound = columns.map((c, k) => (convert.has(k) ? asNumber(v, c.kind === 'int') : v));
    numbers += bound.filter((b) => typeof b === 'number').length;
    insert('as_bound').run(bound);
  }
  // The conversion happens (else this test would compare text with text).
  expect(numbers).toBeGreaterThan(60);
  expect(typeof asNumber('12.50', false)).toBe('number');
  expect(typeof asNumber('123', true)).toBe('number');
  // Longer digits, exponents, spaces and half-written numbers stay text.
  for (const v of ['1234567890123456', '1e3', ' 5', '5.', '.5', '12.5']) expect(asNumber(v, true)).toBe(v);
  expect(contents(db, 'as_bound')).toEqual(contents(db, 'as_text'));
  db.close();
});

let test: TestDatabase | undefined;
afterEach(async () => {
  await test?.drop();
  test = undefined;
});

it('SQLite sink: records of numeric text land as the same values and types as the text inserted by hand', async () => {
  test = await createDatabase('better-sqlite3');
  const ddl = TYPES.map((t, i) => `c${i} ${t}`).join(', ');
  await test.knex.raw(`create table t (id integer primary key, ${ddl})`);
  await test.knex.raw(`create table expected (id integer primary key, ${ddl})`);
  // Only values every integer column takes (the sink refuses the others as not integers).
  const values = VALUES.filter((v) => /^-?\d+$/.test(v) || v === '12.0');
  const records = values.map((v, i) => ({ id: String(i + 1), ...Object.fromEntries(TYPES.map((_, k) => [`c${k}`, v])) }));
  const { sink, close } = await openSink(test, { table: 't' });
  expect(await write(sink, records, 0)).toEqual({});
  await close();
  const db = new Database(test.url);
  const insert = db.prepare(`insert into expected values (?, ${TYPES.map(() => '?').join(', ')})`);
  for (const r of records) insert.run(Object.values(r));
  expect(values.length).toBeGreaterThan(6);
  expect(contents(db, 't')).toEqual(contents(db, 'expected'));
  db.close();
});
