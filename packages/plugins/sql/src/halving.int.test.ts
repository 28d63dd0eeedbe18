// The sql sink's exactly-once markers and the engine's halving (`WriteInfo.part`), driven by hand as
// the engine drives them, on SQLite, PostgreSQL and MariaDB: the parts of one batch share its seq,
// and each commits the range of the batch it holds — not the batch's marker — so a part never
// skips another, a part retried after its commit is skipped with its refusals, and a resumed run
// writing the batch whole writes only what no part committed.
import type { SluiceRecord, WriteInfo } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../test/harness.js';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../test/services.js';

const services = await availability();

/** Batch 0: ids 0..7, and id 5 breaks `v`'s NOT NULL (refused by the database, isolated in the transaction). */
const records: SluiceRecord[] = Array.from({ length: 8 }, (_, id) => ({ id, v: id === 5 ? null : `v${id}` }));
const info = (seq: number, list: SluiceRecord[], part?: WriteInfo['part'], attempt = 1): WriteInfo => ({
  seq,
  positions: list.map((_, index) => ({ index })),
  attempt,
  signal: new AbortController().signal,
  ...(part ? { part } : {}),
});

describe.each(['better-sqlite3', 'pg', 'mysql2'] as Client[])('halved batches into the sql sink on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(async () => {
      requireUp(client, up);
      db = await createDatabase(client);
      await db.knex.raw('create table t (id integer not null, v varchar(20) not null)');
    });
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    const open = () => openSink(db, { table: 't' }, { checkpoint: { store: 'sql', connection: 'db' } });
    const ids = async () => (await rows(db.knex, 'select id from t order by id')).map((r) => Number(r.id));
    const refused = (result: unknown) => ((result as { rejected?: Array<{ index: number }> }).rejected ?? []).map((r) => r.index);

    it('the second half of a batch is written after the first committed; each part is skipped with its refusals when retried after its commit', async () => {
      const { sink, close } = await open();
      const first = records.slice(0, 4);
      const second = records.slice(4);
      expect(refused(await sink.write(first, info(0, first, { offset: 0, of: 8 })))).toEqual([]);
      // Keyed by seq alone, this part was skipped as done: counted as written, never written.
      expect(refused(await sink.write(second, info(0, second, { offset: 4, of: 8 })))).toEqual([1]);
      // A retry of a part that committed (its COMMIT reply lost) finds it done, with its refusal.
      expect(refused(await sink.write(second, info(0, second, { offset: 4, of: 8 }, 2)))).toEqual([1]);
      const next = [{ id: 20, v: 'x' }];
      await sink.write(next, info(1, next));
      await close();
      expect(await ids()).toEqual([0, 1, 2, 3, 4, 6, 7, 20]);
      expect((await rows(db.knex, 'select seq from sluice_sink_markers')).map((r) => Number(r.seq))).toEqual([1]);
      expect((await rows(db.knex, 'select seq, first_idx, end_idx from sluice_sink_parts order by first_idx')).map((r) => [r.seq, r.first_idx, r.end_idx].map(Number))).toEqual([
        [0, 0, 4],
        [0, 4, 8],
      ]);
    });

    it('a resumed run writing the batch whole writes only the records no committed part holds, and reports again the refusal a committed part recorded', async () => {
      const died = await open();
      // The run that died committed records 4..5 (a part of a part; 5 refused) and 0..1.
      const inner = records.slice(4, 6);
      expect(refused(await died.sink.write(inner, info(0, inner, { offset: 4, of: 8 })))).toEqual([1]);
      const head = records.slice(0, 2);
      await died.sink.write(head, info(0, head, { offset: 0, of: 8 }));
      await died.close();

      const resumed = await open();
      // The whole batch again: 2, 3, 6, 7 are written; 5's refusal (index 5 of the batch) is reported again.
      expect(refused(await resumed.sink.write(records, info(0, records)))).toEqual([5]);
      await resumed.close();
      expect(await ids()).toEqual([0, 1, 2, 3, 4, 6, 7]);
    });
  });
});
