// The sql sink's pipelining, driven as the engine drives a `pipeline: 2` sink (the next write
// handed over before the last one resolved), on PostgreSQL, MariaDB and SQLite (whose batches run
// on a writer thread): batches commit in source order with their markers, and a batch whose
// predecessor failed rolls back instead of committing.
import type { SluiceRecord } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSink } from '../test/harness.js';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../test/services.js';

const services = await availability();

const batch = (from: number, n: number): SluiceRecord[] => Array.from({ length: n }, (_, i) => ({ id: from + i, v: `v${from + i}` }));
const info = (seq: number, records: SluiceRecord[], attempt = 1) => ({ seq, positions: records.map((_, index) => ({ index })), attempt, signal: new AbortController().signal });

describe.each(['pg', 'mysql2', 'better-sqlite3'] as Client[])('pipelined sql sink on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(async () => {
      requireUp(client, up);
      db = await createDatabase(client);
      await db.knex.raw('create table t (id integer not null, v varchar(20))');
      // Refuses a row with id 13 with an error that is neither a data refusal nor transient.
      if (client === 'pg') {
        await db.knex.raw(`create function no13() returns trigger language plpgsql as $$ begin if new.id = 13 then raise exception 'no 13 here'; end if; return new; end $$`);
        await db.knex.raw('create trigger no13 before insert on t for each row execute function no13()');
      } else if (client === 'better-sqlite3') {
        // RAISE() would be a constraint (a refused row); abs() of the smallest integer fails at run time.
        await db.knex.raw('create trigger no13 before insert on t for each row when new.id = 13 begin select abs(-9223372036854775807 - 1); end');
      } else {
        await db.knex.raw(`create trigger no13 before insert on t for each row begin if new.id = 13 then signal sqlstate '45000' set message_text = 'no 13 here'; end if; end`);
      }
    });
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    const open = () => openSink(db, { table: 't' }, { checkpoint: { store: 'sql', connection: 'db' } });
    const marker = async () => (await rows(db.knex, 'select seq from sluice_sink_markers')).map((r) => Number(r.seq));

    it('takes two batches at once and commits both, in order, each with its state and its marker', async () => {
      const { sink, close } = await open();
      expect(sink.pipeline).toBe(2);
      const a = batch(100, 300);
      const b = batch(400, 300);
      const [ra, rb] = await Promise.all([sink.write(a, info(0, a)), sink.write(b, info(1, b))]);
      expect([ra, rb]).toEqual([{ state: { seq: 0 } }, { state: { seq: 1 } }]);
      await sink.flush?.();
      await close();
      expect(Number((await rows(db.knex, 'select count(*) as n from t'))[0]!.n)).toBe(600);
      expect(await marker()).toEqual([1]);
    });

    it('rolls back the batch after one that failed, and writes both when retried in order', async () => {
      const { sink, close } = await open();
      const bad = [...batch(10, 5)]; // ids 10..14: 13 is refused by the trigger
      const next = batch(20, 5);
      const [first, second] = await Promise.allSettled([sink.write(bad, info(0, bad)), sink.write(next, info(1, next))]);
      expect(first.status).toBe('rejected');
      expect(second.status).toBe('rejected');
      expect(String((second as PromiseRejectedResult).reason.message)).toMatch(/a batch before batch 1 failed to commit; batch 1 is rolled back/);
      expect(Number((await rows(db.knex, 'select count(*) as n from t'))[0]!.n)).toBe(0);
      // The marker row the sink made at start, still at -1: no batch committed.
      expect(await marker()).toEqual([-1]);
      // The engine's recovery: the failed batch alone (here fixed), then the next, in order.
      const fixed = bad.filter((r) => r.id !== 13);
      await sink.write(fixed, info(0, fixed, 2));
      await sink.write(next, info(1, next, 2));
      await close();
      expect((await rows(db.knex, 'select id from t order by id')).map((r) => Number(r.id))).toEqual([10, 11, 12, 14, 20, 21, 22, 23, 24]);
      expect(await marker()).toEqual([1]);
    });

    it('two runs of one job writing at once (one lost its run lock): each batch commits once, the later writer rolls back and its retry finds it done', async () => {
      const one = await open();
      const two = await open();
      const a = batch(100, 5);
      const b = batch(200, 5);
      await one.sink.write(a, info(0, a));
      // The second run's sink read the marker before batch 0 committed: it writes batch 0 again.
      await expect(two.sink.write(a, info(0, a))).rejects.toThrow(/marker of sink 'sink' of job '[^']+' is not below batch 0 .* batch 0 is rolled back/);
      expect(await two.sink.write(a, info(0, a, 2))).toEqual({ state: { seq: 0 } });
      await two.sink.write(b, info(1, b));
      await expect(one.sink.write(b, info(1, b))).rejects.toThrow(/is not below batch 1/);
      await one.close();
      await two.close();
      expect((await rows(db.knex, 'select id from t order by id')).map((r) => Number(r.id))).toEqual([...a, ...b].map((r) => r.id));
      expect(await marker()).toEqual([1]);
    });

    it('refuses to commit a batch handed over after an earlier one failed, so the retry of the earlier one is not skipped by the marker', async () => {
      const { sink, close } = await open();
      const bad = batch(10, 5);
      await expect(sink.write(bad, info(0, bad))).rejects.toThrow(client === 'better-sqlite3' ? /integer overflow/ : /no 13 here/);
      // The next batch arrives only after the failure settled: it must still not commit before batch 0.
      const next = batch(20, 5);
      await expect(sink.write(next, info(1, next))).rejects.toThrow(/a batch before batch 1 failed to commit/);
      const fixed = bad.filter((r) => r.id !== 13);
      await sink.write(fixed, info(0, fixed, 2));
      await sink.write(next, info(1, next, 2));
      await close();
      expect((await rows(db.knex, 'select id from t order by id')).map((r) => Number(r.id))).toEqual([10, 11, 12, 14, 20, 21, 22, 23, 24]);
    });
  });
});
