// Raw CSV pages into MariaDB (LOAD DATA LOCAL INFILE, no records made) must load exactly what the
// record path loads: a corpus of tricky CSV files goes into MariaDB twice, raw pages on and off
// (SLUICE_RAW_PAGES=0), and the tables (every column, NULL vs '', date-times), the reports' counts
// and the dead letters (step, line, raw text, error) must be the same. Each file is also checked to
// have gone in raw at least partly, so the comparison is not two runs of the record path.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, createDatabase, requireUp, rows, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { tempDir } from './support/cli.js';
import { runRawOrRecords, type RawRunReport } from './support/raw-pages.js';

const services = await availability();
const { up, skip } = services.mysql2;

const HEADER = 'id,t,n,x,v,ts';
const DDL = 'create table loaded (id integer primary key, t text, n integer, x decimal(20,6), v varchar(8), ts datetime(3))';

const long = 'L'.repeat(100_000);
/** A zoned date-time as the benchmark's data has them (`toISOString`). */
const iso = (i: number) => new Date(Date.UTC(2023, 0, 1) + i * 86_400_123).toISOString();
/** Plain rows around the tricky ones, so pages before and after them can go in raw. */
const plain = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${from + i},text ${from + i},${from + i},${(from + i) / 4},v${(from + i) % 1000},${iso(from + i)}`);
/** Rows of five fields get a plain date-time as their sixth; other rows are written as they are. */
const ts = (lines: string[]) => lines.map((l) => (l === '' || l.split(',').length !== 5 ? l : `${l},2024-01-02T03:04:05.678Z`));

/** name → file body (after the header). Pages are 4 rows (batch.size 4): tricky rows land in pages of their own kind. */
const corpus: Record<string, string> = {
  whitespace_and_empties: ts([
    ...plain(1, 8),
    '9, lead,1,1,a',
    '10,trail ,2,2,b ',
    '11,,3,3,',
    '12,"",4,4,""',
    '13,  ,5,5,  ',
    '14,\t tab,6,6,x',
    ...plain(15, 8),
    '23,t,,1,v', // '' into an integer column: refused by the database, a dead letter
    '24,t,7, 8 ,v',
    ...plain(25, 8),
  ]).join('\n'),
  nulls: ts([
    ...plain(1, 4),
    '5,NULL,1,1,a', // the word NULL unquoted: LOAD DATA reads NULL, the reader the text 'NULL'
    '6,"NULL",2,2,b',
    '7,null,3,3,NULL',
    '8,\\N,4,4,"NULL"',
    ...plain(9, 4),
    '13,t,NULL,1,v', // 'NULL' into an integer column: refused
    '14,t,1,NULL,v', // into a decimal: refused
    '15,t,2,2,v',
    '16,t,3,3,v',
    ...plain(17, 4),
    '21,t,1,1,v,NULL', // into a date-time: refused
    '22,NULLNULL,1,1,v',
    '23,"a,NULL",1,1,NULL',
    '24,"NULL,b",1,1,v',
    ...plain(25, 4),
  ]).join('\n'),
  quotes: ts([
    ...plain(1, 8),
    '9,"a, b",1,1,q',
    '10,"say ""hi""",2,2,"x""y"',
    '11,"""",3,3,q',
    '12,"",4,4,q',
    ...plain(13, 8),
    '21,"multi\nline",5,5,q',
    '22,plain,6,6,q',
    '23,a"b,7,7,q', // a quote inside an unquoted field: the reader refuses it
    '24,"ab"c,8,8,q', // text after a closing quote: refused too
    ...plain(25, 8),
    '33,"x\ny",1,1,"a,b"',
    ...plain(34, 7),
  ]).join('\n'),
  unicode: ts([...plain(1, 4), '5,ção,1,1,é', '6,😀 emoji,2,2,日本', '7,\ufeffbom inside,3,3,x', '8,Ω≈ç√,4,4,ü', ...plain(9, 8)]).join('\n'),
  long_fields: ts([...plain(1, 4), `5,${long},1,1,x`, `6,${'l'.repeat(60_000)},2,2,y`, '7,short,3,3,z', '8,x,4,4,w', ...plain(9, 4)]).join('\n'),
  numbers: ts([
    ...plain(1, 4),
    '5,n,+5,1e3,a',
    '6,n,-0,-0.0,b',
    '7,n,0042,.5,c',
    '8,n,12,12.3456789,d', // more decimals than decimal(20,6) keeps: a note, so records
    ...plain(9, 4),
    '13,n,2147483648,1,e', // integer overflow: refused by the database
    '14,n,1,1x,f', // not a number: refused
    '15,n,3,3,g',
    '16,n,4,4,h',
    ...plain(17, 4),
    '21,n,5,123456.125,i',
    '22,n,6,-0.000001,j',
    '23,n,7,99999999999999.999999,k',
    '24,n,8,1.5e-3,l',
    ...plain(25, 4),
  ]).join('\n'),
  timestamps: [
    ...plain(1, 4),
    '5,t,1,1,a,2023-04-10T06:03:28.039Z',
    '6,t,2,2,b,2023-04-10T06:03:28Z',
    '7,t,3,3,c,2023-04-10 06:03:28.123456Z',
    '8,t,4,4,d,2024-02-29T23:59:59.9z',
    ...plain(9, 4),
    '13,t,1,1,a,2024-01-02 03:04:05', // unzoned: as written
    '14,t,2,2,b,2024-01-02T03:04:05.5',
    '15,t,3,3,c,2024-01-02',
    '16,t,4,4,d,"2024-01-02T03:04:05Z"',
    ...plain(17, 4),
    '21,t,1,1,a,2024-01-02T03:04:05+02:00', // offsets: converted by the record path
    '22,t,2,2,b,2024-01-02T03:04:05-05:30',
    '23,t,3,3,c,2024-01-02T24:00:00Z',
    '24,t,4,4,d,2024-01-02T03:04:05Z',
    ...plain(25, 4),
    '29,t,1,1,a,2023-02-29T10:00:00Z', // no such day: refused in both
    '30,t,2,2,b,2024-02-29T10:00:00Z',
    '31,t,3,3,c,',
    '32,t,4,4,d,1900-02-29T00:00:00Z',
    ...plain(33, 4),
    '37,t,1,1,a,2024-04-31T00:00:00Z',
    '38,t,2,2,b,2024-00-10T10:00:00Z',
    '39,t,3,3,c,2024-01-02T03:04:60Z',
    '40,t,4,4,d,soon',
    ...plain(41, 4),
  ].join('\n'),
  bad_rows: ts([
    ...plain(1, 4),
    '5,too,few',
    '6,too,many,1,2,3,4',
    '7,ok,1,1,a',
    '8,ok,2,2,b',
    ...plain(9, 4),
    '13,ok,1,1,toolongvalue', // longer than varchar(8): the database refuses it mid-batch
    '14,ok,2,2,b',
    '15,ok,3,3,c',
    '16,ok,4,4,d',
    ...plain(17, 4),
    '3,dup,1,1,a', // a key an earlier batch wrote
    '21,ok,1,1,a',
    '21,dup,2,2,b', // a key this batch wrote
    '22,ok,3,3,c',
    ...plain(23, 4),
    '',
    '',
    ...plain(27, 4),
  ]).join('\n'),
  backslashes: ts([...plain(1, 4), '5,a\\b,1,1,\\N', '6,\\N,2,2,x', '7,\\.,3,3,\\', '8,c:\\dir\\,4,4,x', ...plain(9, 4), '\\.', ...plain(14, 4)]).join('\n'),
  crlf: [...plain(1, 4), ...plain(5, 8)].join('\r\n'),
};

/** Each file ends with a line break except this one. */
const noFinalNewline = new Set(['numbers']);

let dir: string;

beforeAll(() => {
  dir = tempDir('sluice-raw-load-');
  for (const [name, body] of Object.entries(corpus)) {
    // unicode.csv starts with a byte order mark.
    writeFileSync(join(dir, `${name}.csv`), `${name === 'unicode' ? '\ufeff' : ''}${HEADER}\n${body}${noFinalNewline.has(name) ? '' : '\n'}`);
  }
  // A bigger file in the default (growing) batches, with a few refused rows among plain ones.
  const big: string[] = [];
  for (let i = 1; i <= 30_000; i++) {
    if (i % 7919 === 0) big.push(`${i},bad,notanumber,1,x,${iso(i)}`);
    else if (i % 5003 === 0) big.push(`${i},"quoted, fine",${i},1,x,${iso(i)}`);
    else if (i % 6007 === 0) big.push(`${i},bad day,${i},1,x,2023-02-29T01:02:03.456Z`);
    else big.push(`${i},row ${i},${i},${i / 8},v,${iso(i)}`);
  }
  writeFileSync(join(dir, 'big.csv'), `${HEADER}\n${big.join('\n')}\n`);
});

interface Outcome extends RawRunReport {
  table: string[];
}

/** Loads `file` into a fresh table of a fresh database, raw pages on or off; what ended up where. */
async function load(file: string, raw: boolean, batch: string, args: string[] = [], mode: 'insert' | 'replace' | 'upsert' = 'insert'): Promise<Outcome> {
  const db: TestDatabase = await createDatabase('mysql2', dir);
  try {
    await db.knex.raw(DDL);
    const out = join(dir, `${file}-${raw ? 'raw' : 'records'}${args.length ? '-threads' : ''}-${mode}`);
    const job = { name: `raw-${file.replaceAll('_', '-')}`, client: 'mysql2', url: db.url, batch, file, mode };
    const report = await runRawOrRecords(out, job, raw, /as they are \(LOAD DATA LOCAL INFILE/, args);
    const table = (
      await rows(db.knex, `select id, t, n, cast(x as char) as x, v, cast(ts as char) as ts, t is null as tn, v is null as vn, ts is null as tsn from loaded order by id`)
    ).map((r) => JSON.stringify(r));
    const dead = report.dead.map((entry) => {
      // MariaDB names the column with its database, which is another one in each run.
      if (typeof entry.error === 'string') entry.error = entry.error.replaceAll(/`sluice_t_[0-9a-f]+`\./g, '');
      return entry;
    });
    return { ...report, dead, table };
  } finally {
    await db.drop();
  }
}

describe.skipIf(skip)('raw CSV pages into MariaDB load what the record path loads', () => {
  afterEach(() => requireUp('mysql2', up));

  it.each(Object.keys(corpus))('%s: same table, counts and dead letters with raw pages on and off', async (file) => {
    const batch = 'batch: { size: 4, inFlight: 3 }';
    const records = await load(file, false, batch);
    const raw = await load(file, true, batch);
    expect(records.raw, 'SLUICE_RAW_PAGES=0 writes records').toBe(false);
    // crlf: every page has \r, none goes raw.
    expect(raw.raw, 'some pages went in raw').toBe(file !== 'crlf');
    expect(raw.table).toEqual(records.table);
    expect(raw.counters).toEqual(records.counters);
    expect(raw.steps).toEqual(records.steps);
    expect(raw.dead).toEqual(records.dead);
    expect(records.table.length, 'the file loaded at all').toBeGreaterThan(0);
  }, 120_000);

  it('a 30,000-row file in growing batches, with refused rows among them: same table, counts and dead letters', async () => {
    const records = await load('big', false, 'batch: { inFlight: 4 }');
    const raw = await load('big', true, 'batch: { inFlight: 4 }');
    expect(raw.raw).toBe(true);
    expect(raw.table).toEqual(records.table);
    expect(raw.counters).toEqual(records.counters);
    expect(raw.counters).toMatchObject({ read: 30_000, deadLettered: 7, written: 29_993 });
    expect(raw.dead).toEqual(records.dead);
  }, 240_000);

  it('mode replace (the first transaction empties the table) in batches of 1,000: same table, counts and dead letters', async () => {
    const records = await load('big', false, 'batch: { size: 1000, inFlight: 4 }', [], 'replace');
    const raw = await load('big', true, 'batch: { size: 1000, inFlight: 4 }', [], 'replace');
    expect(raw.raw).toBe(true);
    expect(raw.table).toEqual(records.table);
    expect(raw.counters).toEqual(records.counters);
    expect(raw.counters).toMatchObject({ read: 30_000, deadLettered: 7, written: 29_993 });
    expect(raw.dead).toEqual(records.dead);
  }, 240_000);

  it('the same file on two threads (byte-range partitions, positions by offset): same table, counts and dead letters', async () => {
    const records = await load('big', false, 'batch: { size: 1000, inFlight: 4 }', ['--threads', '2']);
    const raw = await load('big', true, 'batch: { size: 1000, inFlight: 4 }', ['--threads', '2']);
    expect(raw.raw).toBe(true);
    expect(raw.table).toEqual(records.table);
    expect(raw.counters).toEqual(records.counters);
    expect(raw.counters).toMatchObject({ read: 30_000, deadLettered: 7, written: 29_993 });
    const byPosition = (dead: unknown[]) => [...dead].map((d) => JSON.stringify(d)).sort();
    expect(byPosition(raw.dead)).toEqual(byPosition(records.dead));
  }, 240_000);

  it('upsert is not raw (ON DUPLICATE KEY UPDATE, record by record): same table', async () => {
    const raw = await load('timestamps', true, 'batch: { size: 4, inFlight: 3 }', [], 'upsert');
    const records = await load('timestamps', false, 'batch: { size: 4, inFlight: 3 }', [], 'upsert');
    expect(raw.raw).toBe(false);
    expect(raw.table).toEqual(records.table);
  }, 120_000);
});
