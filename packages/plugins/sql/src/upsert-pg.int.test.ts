// The PostgreSQL upsert's two merge statements (upsert-pg.ts): MERGE where it fits, INSERT … ON
// CONFLICT where it does not (a table with triggers) or where it must (a key another transaction
// inserts meanwhile), with one outcome.
import type { SluiceRecord } from '@sluice/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink, write } from '../test/harness.js';
import { availability, createDatabase, PG, requireUp, rows, type TestDatabase } from '../test/services.js';

const { up, skip } = (await availability()).pg;

/** Upserts `records` into `table` (key a, b) as one batch; its refusals. */
async function upsert(db: TestDatabase, table: string, records: SluiceRecord[]) {
  const { sink, close } = await openSink(db, { table, mode: 'upsert', key: ['a', 'b'] });
  try {
    return await write(sink, records, 0);
  } finally {
    await close();
  }
}

describe.skipIf(skip)('PostgreSQL upsert: MERGE and ON CONFLICT', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    requireUp('pg', up);
    db = await createDatabase('pg');
  });
  afterEach(async () => {
    const done = db;
    db = undefined!;
    await done?.drop();
  });

  const make = async (table: string) => {
    await db.knex.raw(`create table ${table} (a integer, b text, v integer, doc jsonb, note text, primary key (a, b))`);
    await db.knex.raw(`insert into ${table} values (1, 'x', 1, '{"k": 1}', 'same'), (2, 'x', 2, '{"k": 2}', 'old'), (3, 'x', 3, '{"k": 3}', 'old'), (4, 'x', 4, null, 'keep')`);
  };
  const batch: SluiceRecord[] = [
    { a: 1, b: 'x', v: 1, doc: { k: 1 }, note: 'same' }, // unchanged: not rewritten
    { a: 2, b: 'x', v: 20, doc: { k: 2 }, note: 'first' }, // changed twice in the batch: the last wins
    { a: 3, b: 'x', v: 3, doc: { k: 30 }, note: 'old' }, // only the json changed
    { a: 5, b: 'y', v: 5, doc: null, note: 'new' }, // inserted twice: the last wins
    { a: 2, b: 'x', v: 21, doc: { k: 2 }, note: 'last' },
    { a: 5, b: 'y', v: 50, doc: [1], note: 'newer' },
  ];
  const expected = [
    { a: 1, b: 'x', v: 1, doc: { k: 1 }, note: 'same' },
    { a: 2, b: 'x', v: 21, doc: { k: 2 }, note: 'last' },
    { a: 3, b: 'x', v: 3, doc: { k: 30 }, note: 'old' },
    { a: 4, b: 'x', v: 4, doc: null, note: 'keep' },
    { a: 5, b: 'y', v: 50, doc: [1], note: 'newer' },
  ];
  /** The rows, and whether the unchanged row (1, 'x') kept its version (xmin) and was locked (xmax). */
  const state = async (table: string) => {
    const got = await rows(db.knex, `select a, b, v, doc, note from ${table} order by a, b`);
    const [one] = await rows(db.knex, `select xmin::text as xmin, xmax::text as xmax from ${table} where a = 1`);
    return { got, one: one! };
  };

  it('a plain table is merged by MERGE, a table with a trigger by ON CONFLICT: the same rows, the last of a key winning, unchanged rows not rewritten', async () => {
    await make('plain');
    await make('triggered');
    // A trigger that changes nothing: only its presence steers the writer to ON CONFLICT.
    await db.knex.raw(`create function noop() returns trigger language plpgsql as $$ begin return null; end $$`);
    await db.knex.raw(`create trigger noop after update on triggered for each row execute function noop()`);
    const before = await state('plain');
    const beforeTriggered = await state('triggered');
    expect(await upsert(db, 'plain', batch)).toEqual({});
    expect(await upsert(db, 'triggered', batch)).toEqual({});
    const plain = await state('plain');
    const triggered = await state('triggered');
    expect(plain.got).toEqual(expected);
    expect(triggered.got).toEqual(expected);
    // Neither rewrote the unchanged row. ON CONFLICT locks each row it meets before its WHERE
    // (xmax set); MERGE never touches an unchanged row: which statement ran, seen from the table.
    expect(plain.one.xmin).toBe(before.one.xmin);
    expect(triggered.one.xmin).toBe(beforeTriggered.one.xmin);
    expect(plain.one.xmax).toBe('0');
    expect(triggered.one.xmax).not.toBe('0');
  });

  it("a BEFORE INSERT trigger's change reaches the rows it updates, as ON CONFLICT always did (MERGE would skip it)", async () => {
    await make('shouted');
    await db.knex.raw(`create function shout() returns trigger language plpgsql as $$ begin new.note := upper(new.note); return new; end $$`);
    await db.knex.raw(`create trigger shout before insert on shouted for each row execute function shout()`);
    expect(await upsert(db, 'shouted', [{ a: 2, b: 'x', note: 'quiet' }, { a: 9, b: 'x', note: 'new' }])).toEqual({});
    expect(await rows(db.knex, `select a, note from shouted where a in (2, 9) order by a`)).toEqual([
      { a: 2, note: 'QUIET' },
      { a: 9, note: 'NEW' },
    ]);
  });

  it("a partitioned table: a trigger of one partition's own is seen too", async () => {
    await db.knex.raw(`create table parts (a integer, b text, v integer, doc jsonb, note text, primary key (a, b)) partition by range (a)`);
    await db.knex.raw(`create table parts_low partition of parts for values from (0) to (100)`);
    await db.knex.raw(`create table parts_high partition of parts for values from (100) to (200)`);
    await db.knex.raw(`insert into parts (a, b, note) values (2, 'x', 'old'), (102, 'x', 'old')`);
    await db.knex.raw(`create function shout() returns trigger language plpgsql as $$ begin new.note := upper(new.note); return new; end $$`);
    await db.knex.raw(`create trigger shout before insert on parts_high for each row execute function shout()`);
    expect(await upsert(db, 'parts', [{ a: 2, b: 'x', note: 'quiet' }, { a: 102, b: 'x', note: 'quiet' }])).toEqual({});
    expect(await rows(db.knex, `select a, note from parts order by a`)).toEqual([
      { a: 2, note: 'quiet' },
      { a: 102, note: 'QUIET' },
    ]);
  });

  it('a key another transaction inserts while the batch is merged is updated, not refused', async () => {
    await make('raced');
    const other = new pg.Client({ ...PG, database: new URL(db.url).pathname.slice(1) });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(`insert into raced (a, b, v, note) values (7, 'x', 0, 'theirs')`);
      const writing = upsert(db, 'raced', [
        { a: 7, b: 'x', v: 7, note: 'ours' },
        { a: 8, b: 'x', v: 8, note: 'ours' },
      ]);
      // The batch waits on the other transaction's row (7, 'x'), then finds it committed.
      for (let i = 0; ; i++) {
        const [w] = await rows(db.knex, `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        if (w!.n > 0) break;
        if (i > 200) throw new Error('the batch never waited on the other transaction');
        await new Promise((r) => setTimeout(r, 25));
      }
      await other.query('commit');
      expect(await writing).toEqual({});
    } finally {
      await other.end();
    }
    expect(await rows(db.knex, `select a, v, note from raced where a in (7, 8) order by a`)).toEqual([
      { a: 7, v: 7, note: 'ours' },
      { a: 8, v: 8, note: 'ours' },
    ]);
  });
});
