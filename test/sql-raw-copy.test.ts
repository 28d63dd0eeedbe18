// Raw CSV pages (COPY … FORMAT csv into PostgreSQL, read by the sink for SQLite; no records made)
// must load exactly what the record path loads: a corpus of tricky CSV files goes into each database
// twice, raw pages on and off (SLUICE_RAW_PAGES=0), and the tables (every column, NULL vs ''; for
// SQLite every value with its type), the reports' counts and the dead letters (step, line,
// raw text, error) must be the same. Each file is also checked to have gone in raw at least partly,
// so the comparison is not two runs of the record path.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { tempDir } from './support/cli.js';
import { runRawOrRecords, type RawRunReport } from './support/raw-pages.js';

const services = await availability();

const HEADER = 'id,t,n,x,v';
const DDL = 'create table loaded (id integer, t text, n integer, x numeric, v varchar(8))';

const long = 'L'.repeat(100_000);
/** Plain rows around the tricky ones, so pages before and after them can go in raw. */
const plain = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${from + i},text ${from + i},${from + i},${(from + i) / 4},v${(from + i) % 1000}`);

/** name → file body (after the header). Pages are 4 rows (batch.size 4): tricky rows land in pages of their own kind. */
const corpus: Record<string, string> = {
  whitespace_and_empties: [
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
  ].join('\n'),
  quotes: [
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
  ].join('\n'),
  unicode: [
    ...plain(1, 4),
    '5,ção,1,1,é',
    '6,😀 emoji,2,2,日本',
    '7,\ufeffbom inside,3,3,x',
    '8,Ω≈ç√,4,4,ü',
    ...plain(9, 8),
  ].join('\n'),
  long_fields: [...plain(1, 4), `5,${long},1,1,x`, `6,${long}b,2,2,y`, '7,short,3,3,z', '8,x,4,4,w', ...plain(9, 4)].join('\n'),
  numbers: [
    ...plain(1, 4),
    '5,n,+5,1e3,a',
    '6,n,-0,-0.0,b',
    '7,n,0042,.5,c',
    '8,n,12,NaN,d',
    ...plain(9, 4),
    '13,n,2147483648,1,e', // integer overflow: refused by the database
    '14,n,1,1x,f', // not a number: refused
    '15,n,3,3,g',
    '16,n,4,4,h',
    ...plain(17, 4),
  ].join('\n'),
  bad_rows: [
    ...plain(1, 4),
    '5,too,few',
    '6,too,many,1,2,3',
    '7,ok,1,1,a',
    '8,ok,2,2,b',
    ...plain(9, 4),
    '13,ok,1,1,toolongvalue', // longer than varchar(8): the database refuses it mid-batch
    '14,ok,2,2,b',
    '15,ok,3,3,c',
    '16,ok,4,4,d',
    ...plain(17, 4),
    '',
    '',
    ...plain(21, 4),
  ].join('\n'),
  backslashes: [...plain(1, 4), '5,a\\b,1,1,\\N', '6,\\N,2,2,x', '7,\\.,3,3,\\', '8,c:\\dir\\,4,4,x', ...plain(9, 4), '\\.', ...plain(14, 4)].join('\n'),
  crlf: [...plain(1, 4), ...plain(5, 8)].join('\r\n'),
};

/** Each file ends with a line break except this one. */
const noFinalNewline = new Set(['numbers']);

let dir: string;

beforeAll(() => {
  dir = tempDir('sluice-raw-copy-');
  for (const [name, body] of Object.entries(corpus)) {
    // unicode.csv starts with a byte order mark.
    writeFileSync(join(dir, `${name}.csv`), `${name === 'unicode' ? '\ufeff' : ''}${HEADER}\n${body}${noFinalNewline.has(name) ? '' : '\n'}`);
  }
  // Bytes that are not UTF-8 in one row.
  writeFileSync(join(dir, 'invalid_utf8.csv'), Buffer.concat([Buffer.from(`${HEADER}\n${plain(1, 4).join('\n')}\n5,bad `), Buffer.from([0xc3, 0x28]), Buffer.from(`,1,1,x\n${plain(6, 7).join('\n')}\n`)]));
  // A bigger file in the default (growing) batches, with a few refused rows among plain ones.
  const big: string[] = [];
  for (let i = 1; i <= 30_000; i++) {
    if (i % 7919 === 0) big.push(`${i},bad,notanumber,1,x`);
    else if (i % 5003 === 0) big.push(`${i},"quoted, fine",${i},1,x`);
    else big.push(`${i},row ${i},${i},${i / 8},v`);
  }
  writeFileSync(join(dir, 'big.csv'), `${HEADER}\n${big.join('\n')}\n`);
  // Upsert: ids 1–100, each twice in a row (within a batch) and again later (another batch), one refused value.
  const upsert: string[] = [];
  for (let i = 0; i < 400; i++) {
    const id = (Math.floor(i / 2) % 100) + 1;
    upsert.push(i === 250 ? `${id},refused,x,1,v` : `${id},round ${Math.floor(i / 200)} ${id},${i},${i / 2},v${i % 7}`);
  }
  writeFileSync(join(dir, 'upsert.csv'), `${HEADER}\n${upsert.join('\n')}\n`);
});

interface Outcome extends RawRunReport {
  table: string[];
}

/** Loads `file` into a fresh table of a fresh database, raw pages on or off; what ended up where. */
async function load(client: 'pg' | 'better-sqlite3', file: string, raw: boolean, batch: string, args: string[] = [], upsert = false): Promise<Outcome> {
  const db: TestDatabase = await createDatabase(client, dir);
  try {
    if (upsert) {
      // A key, and rows already there: some are updated, some unchanged, some new.
      await db.knex.raw('create table loaded (id integer primary key, t text, n integer, x numeric, v varchar(8))');
      const old =
        client === 'pg'
          ? `insert into loaded select g, 'old ' || g, g, g, 'old' from generate_series(1, 200, 3) g`
          : `with recursive g(g) as (select 1 union all select g + 3 from g where g + 3 <= 200) insert into loaded select g, 'old ' || g, g, g, 'old' from g`;
      await db.knex.raw(old);
    } else {
      await db.knex.raw(DDL);
    }
    const out = join(dir, `${client}-${file}-${raw ? 'raw' : 'records'}${args.length ? '-threads' : ''}${upsert ? '-upsert' : ''}`);
    const job = { name: `raw-${file.replaceAll('_', '-')}`, client, url: db.url, batch, file, mode: upsert ? 'upsert' : 'insert' } as const;
    const report = await runRawOrRecords(out, job, raw, /as they are \((COPY FORMAT csv|read by the sink)/, args);
    // Every value as text with its type (SQLite: quote() tells 12 from 12.0 and '12').
    const query =
      client === 'pg'
        ? `select id, t, n, x::text as x, v, t is null as tn, v is null as vn from loaded order by id, t, n, x, v`
        : `select quote(id) as id, quote(t) as t, quote(n) as n, quote(x) as x, quote(v) as v from loaded order by id, t, n, x, v`;
    return { ...report, table: (await rows(db.knex, query)).map((r) => JSON.stringify(r)) };
  } finally {
    await db.drop();
  }
}

for (const client of ['pg', 'better-sqlite3'] as const) {
  const { up, skip } = services[client];
  describe.skipIf(skip)(`raw CSV pages into ${LABEL[client]} load what the record path loads`, () => {
    afterEach(() => requireUp(client, up));

    const files = [...Object.keys(corpus), 'invalid_utf8'];
    it.each(files)('%s: same table, counts and dead letters with raw pages on and off', async (file) => {
      const batch = 'batch: { size: 4, inFlight: 3 }';
      const records = await load(client, file, false, batch);
      const raw = await load(client, file, true, batch);
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
      const records = await load(client, 'big', false, 'batch: { inFlight: 4 }');
      const raw = await load(client, 'big', true, 'batch: { inFlight: 4 }');
      expect(raw.raw).toBe(true);
      expect(raw.table).toEqual(records.table);
      expect(raw.counters).toEqual(records.counters);
      expect(raw.counters).toMatchObject({ read: 30_000, deadLettered: 3, written: 29_997 });
      expect(raw.dead).toEqual(records.dead);
    }, 240_000);

    it('upsert (PostgreSQL: through the staging table): keys repeated within and across batches, rows already there, a refused row: same table, counts and dead letters', async () => {
      const records = await load(client, 'upsert', false, 'batch: { size: 25, inFlight: 3 }', [], true);
      const raw = await load(client, 'upsert', true, 'batch: { size: 25, inFlight: 3 }', [], true);
      expect(raw.raw).toBe(true);
      expect(raw.table).toEqual(records.table);
      expect(raw.counters).toEqual(records.counters);
      expect(raw.steps).toEqual(records.steps);
      expect(raw.dead).toEqual(records.dead);
      expect(raw.counters).toMatchObject({ read: 400, deadLettered: 1 });
    }, 240_000);

    it('the same file on two threads (byte-range partitions, positions by offset): same table, counts and dead letters', async () => {
      const records = await load(client, 'big', false, 'batch: { size: 1000, inFlight: 4 }', ['--threads', '2']);
      const raw = await load(client, 'big', true, 'batch: { size: 1000, inFlight: 4 }', ['--threads', '2']);
      expect(raw.raw).toBe(true);
      expect(raw.table).toEqual(records.table);
      expect(raw.counters).toEqual(records.counters);
      expect(raw.counters).toMatchObject({ read: 30_000, deadLettered: 3, written: 29_997 });
      const byPosition = (dead: unknown[]) => [...dead].map((d) => JSON.stringify(d)).sort();
      expect(byPosition(raw.dead)).toEqual(byPosition(records.dead));
    }, 240_000);
  });
}
