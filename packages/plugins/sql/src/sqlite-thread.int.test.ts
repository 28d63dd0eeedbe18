// The SQLite writer thread's failures as the sink sees them: an error crosses the thread as data,
// and must come back as what it was — "database is locked" (another connection held the write
// lock past the busy timeout) is transient, so the engine retries the batch instead of failing.
import { TransientError } from '@sluice/core';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { openSink, write } from '../test/harness.js';
import { createDatabase, type TestDatabase } from '../test/services.js';

let db: TestDatabase | undefined;
afterEach(async () => {
  await db?.drop();
  db = undefined;
});

it('SQLite: a batch refused by a held write lock fails as transient, and its retry writes it once the lock is gone', async () => {
  db = await createDatabase('better-sqlite3');
  await db.knex.raw('create table t (id integer primary key, v text)');
  const { sink, close } = await openSink(db, { table: 't' }, { checkpoint: { store: 'sql', connection: 'db' } });
  const records = [
    { id: 1, v: 'a' },
    { id: 2, v: 'b' },
  ];
  const other = new Database(db.url);
  other.exec('begin immediate');
  try {
    // The thread waits out the busy timeout (5 s) on its own; this thread stays free.
    const failed = await write(sink, records, 0).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed, String(failed)).toBeInstanceOf(TransientError);
    expect(String((failed as Error).message)).toMatch(/database is locked/);
  } finally {
    other.exec('rollback');
    other.close();
  }
  expect(await write(sink, records, 0, 2)).toEqual({});
  await close();
  const check = new Database(db.url, { readonly: true });
  expect(check.prepare('select id, v from t order by id').all()).toEqual(records);
  expect(check.prepare('select seq from sluice_sink_markers').pluck().all()).toEqual([0]);
  check.close();
}, 60_000);
