// What the sql plugin refuses instead of losing or changing data, on SQLite, PostgreSQL and MariaDB:
// source keys that are not unique, column names a database would change, a fresh insert into a
// table that holds rows; and schema evolution (evolve: addColumns) with type conflicts as record errors.
import type { SluiceRecord } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, readAll, write } from '../test/harness.js';
import { availability, createDatabase, LABEL, requireUp, rows, T, type Client, type TestDatabase } from '../test/services.js';

const services = await availability();

describe.each(['better-sqlite3', 'pg', 'mysql2'] as Client[])('sql safety on %s', (client) => {
  const { up, skip } = services[client];
  const t = T[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(async () => {
      requireUp(client, up);
      db = await createDatabase(client);
    });
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    const fill = async (table: string, n: number, row: (i: number) => string) => {
      for (let i = 0; i < n; i += 250) {
        const values = Array.from({ length: Math.min(250, n - i) }, (_, k) => `(${row(i + k)})`);
        await db.knex.raw(`insert into ${table} values ${values.join(', ')}`);
      }
    };

    it('refuses a table key that may be NULL or is not unique, naming it; a key with the primary key in it reads every row', async () => {
      await db.knex.raw(`create table items (id ${t.int} primary key, grp ${t.int}, tag ${t.int} not null)`);
      // grp: 10 rows a value, every 50th NULL; tag: never NULL, not unique.
      await fill('items', 1000, (i) => `${i}, ${i % 50 === 0 ? 'null' : i % 100}, ${i % 7}`);
      await expect(readAll(db, { table: 'items', key: 'grp' }, { batchSize: 100 })).rejects.toThrow(/key column\(s\) grp of table items may hold NULL/);
      await expect(readAll(db, { table: 'items', key: 'tag' }, { batchSize: 100 })).rejects.toThrow(/key \(tag\) of table items is not unique.*key: \[tag, id\]/);
      const pages = await readAll(db, { table: 'items', key: ['tag', 'id'] }, { batchSize: 100 });
      expect(pages.flatMap((p) => p.records).length).toBe(1000);
    });

    it('stops a query source whose key has ties at a page boundary, naming the key, and reads a unique one whole', async () => {
      await db.knex.raw(`create table items (id ${t.int} primary key, grp ${t.int} not null)`);
      await fill('items', 1000, (i) => `${i}, ${i % 100}`);
      // 95 rows a page: the first page ends inside the ten rows with grp 9.
      await expect(readAll(db, { query: 'select id, grp from items', key: 'grp' }, { batchSize: 95 })).rejects.toThrow(/key \(grp\) of the query is not unique: two rows have \(\d+\)/);
      const pages = await readAll(db, { query: 'select id, grp from items', key: 'id' }, { batchSize: 100 });
      expect(pages.flatMap((p) => p.records).length).toBe(1000);
    });

    it('refuses at startup a mapped column name a database would change, quoting it; a field with one is a record error, the rest are written', async () => {
      await expect(openSink(db, { table: 'made', createTable: true, columns: { name: 'name ' } })).rejects.toThrow(/column name "name " \(columns\.name\) cannot be used: it ends with white space/);
      const { sink, close } = await openSink(db, { table: 'made', createTable: true });
      const result = await write(sink, [{ id: 1, 'name ': 'a' }, { id: 2, name: 'b', 'a.b': 'dotted' }, { id: 3, name: 'c' }], 0);
      await close();
      expect(result.rejected?.map((r) => [r.index, r.error.message])).toEqual([[0, expect.stringMatching(/field "name " cannot be a column of made: it ends with white space/)]]);
      // The dotted name is a column of its own, not a qualified reference.
      const made = await rows(db.knex, 'select id, name, "a.b" as ab from made order by id'.replace(/"/g, client === 'mysql2' ? '`' : '"'));
      expect(made.map((r) => ({ ...r, id: Number(r.id) }))).toEqual([
        { id: 2, name: 'b', ab: 'dotted' },
        { id: 3, name: 'c', ab: null },
      ]);
    });

    it('evolve: addColumns adds nullable columns for new fields; a value that does not fit its column is a record error naming the column', async () => {
      await db.knex.raw(`create table evo (id ${t.int} primary key, a ${t.text})`);
      const plain = await openSink(db, { table: 'evo' });
      const refused = await write(plain.sink, [{ id: 1, a: 'x', b: 5 }], 0);
      await plain.close();
      expect(refused.rejected?.[0]?.error.message).toMatch(/table evo has no column 'b'/);

      const { sink, close } = await openSink(db, { table: 'evo', evolve: 'addColumns' });
      expect(await write(sink, [{ id: 1, a: 'x', b: 5 }, { id: 2, a: 'y', c: 'hello', d: null }], 0)).toEqual({});
      const batch: SluiceRecord[] = [{ id: 3, b: 7 }, { id: 4, b: 'not a number' }, { id: 5, c: 'ok' }];
      const result = await write(sink, batch, 1);
      await close();
      expect(result.rejected?.map((r) => r.index)).toEqual([1]);
      expect(result.rejected![0]!.error.message).toMatch(/\bb\b/);
      expect(result.rejected![0]!.error.message).toMatch(/integer|bigint|incorrect|invalid/i);
      const evolved = await rows(db.knex, 'select id, a, b, c, d from evo order by id');
      expect(evolved.map((r) => ({ ...r, b: r.b === null ? null : Number(r.b) }))).toEqual([
        { id: 1, a: 'x', b: 5, c: null, d: null },
        { id: 2, a: 'y', b: null, c: 'hello', d: null },
        { id: 3, a: null, b: 7, c: null, d: null },
        { id: 5, a: null, b: null, c: 'ok', d: null },
      ]);
    });

    it('a fresh insert into a table that holds rows is refused naming the table and onFresh; truncate empties it, append keeps it', async () => {
      await db.knex.raw(`create table people (id ${t.int}, name ${t.text})`);
      await db.knex.raw(`insert into people values (1, 'old')`);
      const refusal = openSink(db, { table: 'people' });
      await expect(refusal).rejects.toThrow(/table people already holds rows and this run starts fresh.*set onFresh: truncate.*onFresh: append/);
      await expect(refusal).rejects.toMatchObject({ name: 'StartupRefusal' });
      // A resumed run (the sink has a checkpoint state) appends, whatever it finds.
      const resumed = await openSink(db, { table: 'people' }, { state: { seq: 0 } });
      await write(resumed.sink, [{ id: 2, name: 'resumed' }], 1);
      await resumed.close();

      const appending = await openSink(db, { table: 'people', onFresh: 'append' });
      await write(appending.sink, [{ id: 3, name: 'appended' }], 0);
      await appending.close();
      expect((await rows(db.knex, 'select id from people order by id')).map((r) => r.id)).toEqual([1, 2, 3]);

      const truncating = await openSink(db, { table: 'people', onFresh: 'truncate' });
      await write(truncating.sink, [{ id: 4, name: 'new' }], 0);
      await write(truncating.sink, [{ id: 5, name: 'newer' }], 1);
      await truncating.close();
      expect((await rows(db.knex, 'select id from people order by id')).map((r) => r.id)).toEqual([4, 5]);

      // An upsert rewrites rows by key instead of doubling them: it appends by default.
      await db.knex.raw(`create table kv (k ${t.int} primary key, v ${t.text})`);
      await db.knex.raw(`insert into kv values (1, 'old')`);
      const upsert = await openSink(db, { table: 'kv', mode: 'upsert' });
      await write(upsert.sink, [{ k: 1, v: 'new' }], 0);
      await upsert.close();
      expect(await rows(db.knex, 'select k, v from kv')).toEqual([{ k: 1, v: 'new' }]);
    });

    it('binds whole numbers beyond 2^53 exactly and reads them back as BigInt, resuming from a BigInt key; one beyond the column is a record error', async () => {
      const amt = client === 'better-sqlite3' ? 'text' : client === 'pg' ? 'numeric(40,0)' : 'decimal(40,0)';
      await db.knex.raw(`create table nums (id ${t.bigint} primary key, big ${t.bigint}, amt ${amt}, t ${t.text})`);
      const { sink, close } = await openSink(db, { table: 'nums' });
      const result = await write(
        sink,
        [
          { id: 9007199254740993n, big: -9223372036854775807n, amt: 123456789012345678901234567890n, t: 2n ** 70n },
          { id: 1, big: 5, amt: 7, t: 'x' },
          { id: 2, big: 2n ** 64n, amt: 1, t: 'too big for bigint' },
          { id: 9007199254740995n, big: 9007199254740993n, amt: null, t: null },
        ],
        0,
      );
      await close();
      expect(result.rejected?.map((r) => r.index)).toEqual([2]);
      expect(result.rejected![0]!.error.message).toMatch(/range|fit|big/i);
      const pages = await readAll(db, { table: 'nums' }, { batchSize: 1 });
      // Cursors are JSON (a BigInt key is kept as its digits) and each page resumes after the last.
      expect(pages.map((p) => JSON.parse(JSON.stringify(p.cursor)))).toEqual([
        { after: [1] },
        { after: [{ bigint: '9007199254740993' }] },
        { after: [{ bigint: '9007199254740995' }] },
      ]);
      expect(pages.flatMap((p) => p.records)).toEqual([
        { id: 1, big: 5, amt: client === 'better-sqlite3' ? '7' : 7, t: 'x' },
        { id: 9007199254740993n, big: -9223372036854775807n, amt: client === 'better-sqlite3' ? '123456789012345678901234567890' : 123456789012345678901234567890n, t: '1180591620717411303424' },
        { id: 9007199254740995n, big: 9007199254740993n, amt: null, t: null },
      ]);
    });
  });
});
