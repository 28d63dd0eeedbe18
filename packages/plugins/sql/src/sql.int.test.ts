// One suite, run against SQLite, PostgreSQL and MariaDB; every case makes its own database.
import type { SluiceRecord, SourcePage } from '@sluice/core';
import { createTestContext } from '@sluice/core/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, T, type Client, type TestDatabase } from '../test/services.js';
import { contextFor, openSink, readAll, write } from '../test/harness.js';
import { sqlCheckpointStore } from './checkpoint-store.js';
import { sqlSink } from './sink.js';
import { sqlSource } from './source.js';
import { RunConnections } from '@sluice/core/internal';

const services = await availability();

describe.each(['better-sqlite3', 'pg', 'mysql2'] as Client[])('sql plugin on %s', (client) => {
  const { up, skip } = services[client];
  const t = T[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    const open = async () => (db = await createDatabase(client));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('reads 100k rows by keyset over a composite key with ties, and resumes from a mid cursor', async () => {
      await open();
      await db.knex.raw(`create table grid (a ${t.int} not null, b ${t.int} not null, v ${t.text}, primary key (a, b))`);
      const N = 100_000;
      const { sink, close } = await openSink(db, { table: 'grid' });
      // a has ~100 ties each; rows go in out of key order.
      for (let start = 0, seq = 0; start < N; start += 10_000, seq++) {
        const batch = [];
        for (let i = start; i < start + 10_000; i++) batch.push({ a: (i * 7919) % 1000, b: i, v: `r${i}` });
        expect(await write(sink, batch, seq)).toEqual({});
      }
      await close();

      const pages = await readAll(db, { table: 'grid' }, { batchSize: 1000 });
      expect(pages.length).toBe(100);
      const all = pages.flatMap((p) => p.records);
      expect(all.length).toBe(N);
      expect(new Set(all.map((r) => r.b)).size).toBe(N);
      for (let i = 1; i < all.length; i++) {
        const [p, q] = [all[i - 1]!, all[i]!];
        expect((p.a as number) < (q.a as number) || (p.a === q.a && (p.b as number) < (q.b as number))).toBe(true);
      }
      // Page 37 ends mid-way through a run of equal `a`: the cursor must carry `b` too.
      const mid = pages[36]!;
      expect(mid.cursor).toEqual({ after: [all[36_999]!.a, all[36_999]!.b] });
      const resumed = (await readAll(db, { table: 'grid' }, { batchSize: 1000, cursor: mid.cursor })).flatMap((p) => p.records);
      expect([...all.slice(0, 37_000), ...resumed]).toEqual(all);

      const ctx = createTestContext({ kind: 'source', connections: { db: db.connection } });
      const source = await sqlSource.create({ connection: 'db', table: 'grid', where: 'a < 10', columns: ['v'] } as never, ctx);
      expect(await source.estimate!()).toEqual({ total: 1000, unit: 'records' });
      const firstPage = (await source.read({ cursor: undefined, batchSize: 5, signal: ctx.signal })[Symbol.asyncIterator]().next()).value as SourcePage;
      expect(Object.keys(firstPage.records[0]!)).toEqual(['v']);
      await (ctx.connections as RunConnections).closeAll();
    }, 90_000);

    it('writes 997 of 1,000 rows when 3 break constraints, and refuses those 3 with the database\'s message', async () => {
      await open();
      await db.knex.raw(`create table people (id ${t.int} primary key, name ${t.varchar} not null, n ${t.int} check (n >= 0))`);
      for (const mode of ['insert', 'upsert'] as const) {
        await db.knex.raw('delete from people');
        const { sink, close } = await openSink(db, { table: 'people', mode });
        const batch: SluiceRecord[] = [];
        for (let i = 0; i < 1000; i++) batch.push({ id: i, name: `n${i}`, n: i });
        batch[100] = { id: 100, name: null, n: 1 }; // not null
        batch[500] = { id: 500, name: 'x', n: -5 }; // check
        // insert: a second row with id 7 (primary key); upsert: a value of the wrong type (refused on SQLite too, which would store it as text)
        batch[900] = mode === 'insert' ? { id: 7, name: 'dup', n: 1 } : { id: 900, name: 'y', n: 'not a number' };
        const result = await write(sink, batch, 0);
        await close();
        expect(result.rejected?.map((r) => r.index)).toEqual([100, 500, 900]);
        const [nullError, checkError, thirdError] = result.rejected!.map((r) => r.error.message);
        expect(nullError).toMatch(/null/i);
        expect(checkError).toMatch(/check|constraint/i);
        expect(thirdError).toMatch(mode === 'insert' ? /duplicate|unique/i : /integer|incorrect|invalid/i);
        const count = await rows(db.knex, 'select count(*) as n from people');
        expect(Number(count[0]!.n)).toBe(997);
      }
    });

    it('upserts by key: updates existing rows, and the last record of a key in a batch wins', async () => {
      await open();
      await db.knex.raw(`create table kv (k ${t.varchar} primary key, v ${t.int}, note ${t.text})`);
      await db.knex.raw(`insert into kv (k, v, note) values ('a', 1, 'old'), ('b', 2, 'keep')`);
      const { sink, close } = await openSink(db, { table: 'kv', mode: 'upsert' });
      await write(sink, [{ k: 'a', v: 10 }, { k: 'c', v: 3, note: 'new' }, { k: 'c', v: 30, note: 'newer' }], 0);
      await close();
      const got = await rows(db.knex, 'select k, v, note from kv order by k');
      expect(got).toEqual([
        { k: 'a', v: 10, note: 'old' },
        { k: 'b', v: 2, note: 'keep' },
        { k: 'c', v: 30, note: 'newer' },
      ]);
    });

    it('exactly once: a batch committed before a crash is skipped on resume, its refusals reported again; clear() forgets markers', async () => {
      await open();
      await db.knex.raw(`create table events (id ${t.int} not null, n ${t.int} check (n >= 0))`);
      const checkpoint = { store: 'sql', connection: 'db' };
      const batch = (seq: number) => [0, 1, 2].map((i) => ({ id: seq * 10 + i, n: seq === 1 && i === 1 ? -1 : i }));
      // Run 1 commits batches 0..2 but its checkpoint only covered batch 0.
      let run = await openSink(db, { table: 'events' }, { checkpoint });
      for (const seq of [0, 1, 2]) await write(run.sink, batch(seq), seq);
      expect(run.sink.state!()).toEqual({ seq: 2 });
      await run.close();
      expect(Number((await rows(db.knex, 'select count(*) as n from events'))[0]!.n)).toBe(8);

      run = await openSink(db, { table: 'events' }, { checkpoint, state: { seq: 0 } });
      const again1 = await write(run.sink, batch(1), 1);
      expect(again1.rejected?.map((r) => r.index)).toEqual([1]);
      expect(again1.rejected![0]!.error.message).toMatch(/check|constraint/i);
      expect(await write(run.sink, batch(2), 2)).toEqual({});
      expect(await write(run.sink, batch(3), 3)).toEqual({});
      // A retry whose first attempt committed (lost reply) is recognised from the marker.
      expect(await write(run.sink, batch(3), 3, 2)).toEqual({});
      await run.close();
      const ids = (await rows(db.knex, 'select id from events order by id')).map((r) => Number(r.id));
      expect(ids).toEqual([0, 1, 2, 10, 12, 20, 21, 22, 30, 31, 32]);

      const connections = new RunConnections({ db: db.connection });
      const store = await sqlCheckpointStore({ job: 'job', dir: '.', config: { store: 'sql', path: '', connection: 'db' }, connections, fingerprint: 'f' });
      const cp = { version: 1, job: 'job', fingerprint: 'f', seq: 3, cursor: { x: 1 }, batchSize: 3, sinks: { sink: { seq: 3 } }, deadLetter: null, counters: {}, steps: {}, done: false, updatedAt: 'now' };
      await store.save(cp as never);
      expect(await store.load()).toEqual(cp);
      await store.save({ ...cp, seq: 4 } as never);
      expect((await store.load())!.seq).toBe(4);
      const ledger = await store.ledger!('mails');
      await ledger.add('a@example.com');
      expect(ledger.has('a@example.com')).toBe(true);
      expect((await store.ledger!('mails')).has('a@example.com')).toBe(true);
      await store.clear();
      expect(await store.load()).toBeUndefined();
      expect(await rows(db.knex, 'select * from sluice_sink_markers')).toEqual([]);
      await connections.closeAll();
    });

    it('replace empties the table on a fresh run only; createTable makes the table from the first batch', async () => {
      await open();
      await db.knex.raw(`create table snap (id ${t.int} primary key, v ${t.text})`);
      await db.knex.raw(`insert into snap values (99, 'stale')`);
      let run = await openSink(db, { table: 'snap', mode: 'replace' });
      await write(run.sink, [{ id: 1, v: 'a' }], 0);
      await write(run.sink, [{ id: 2, v: 'b' }], 1);
      await run.close();
      run = await openSink(db, { table: 'snap', mode: 'replace' }, { state: { seq: 1 } });
      await write(run.sink, [{ id: 3, v: 'c' }], 2);
      await run.close();
      expect((await rows(db.knex, 'select id from snap order by id')).map((r) => Number(r.id))).toEqual([1, 2, 3]);

      run = await openSink(db, { table: 'made', createTable: true, key: 'id', mode: 'upsert' });
      const record = { id: 1, score: 1.5, name: 'x', ok: true, at: '2024-05-06T07:08:09.123Z', tags: ['a'], nothing: null };
      await write(run.sink, [record, { ...record, id: 2, score: 2 }], 0);
      await run.close();
      const back = (await readAll(db, { table: 'made' })).flatMap((p) => p.records);
      expect(back).toEqual([record, { ...record, id: 2, score: 2 }]);
    });

    it('refuses to start on a missing table, a missing column, and a key without a unique index', async () => {
      await open();
      await db.knex.raw(`create table users (id ${t.int} primary key, email ${t.text}, n ${t.int})`);
      const fails = async (config: Record<string, unknown>) => {
        const ctx = contextFor(db);
        try {
          await sqlSink.create({ connection: 'db', ...config } as never, ctx);
          return '';
        } catch (error) {
          return (error as Error).message;
        } finally {
          await (ctx.connections as RunConnections).closeAll();
        }
      };
      expect(await fails({ table: 'userz' })).toMatch(/table userz does not exist on connection 'db'.*createTable/);
      expect(await fails({ table: 'users', columns: { mail: 'emial' } })).toMatch(/no column 'emial'; did you mean 'email'\?/);
      expect(await fails({ table: 'users', mode: 'upsert', key: 'email' })).toMatch(/no primary key or unique index/);
      const source = await readAll(db, { table: 'users', key: 'idd' }).catch((e: Error) => e.message);
      expect(source).toMatch(/no column 'idd'; did you mean 'id'\?/);
    });

    // ---------- distributed runs: partitions of the source, markers per partition ----------

    /** Creates a source as a worker would (fresh instance), reads one partition, closes it. */
    async function readPartition(config: Record<string, unknown>, partition: unknown, options: { cursor?: unknown; batchSize?: number } = {}) {
      const ctx = createTestContext({ kind: 'source', connections: { db: db.connection } });
      const source = await sqlSource.create({ connection: 'db', ...config } as never, ctx);
      const estimate = source.estimate!(partition);
      // A read that fails leaves the estimate to fail on the closed pool; that is not what is tested.
      estimate.catch(() => undefined);
      const pages: SourcePage[] = [];
      try {
        for await (const page of source.read({ cursor: options.cursor, batchSize: options.batchSize ?? 1000, signal: ctx.signal, partition })) pages.push(page);
        return { pages, estimate: (await estimate)!.total };
      } finally {
        await source.close?.();
        await (ctx.connections as RunConnections).closeAll();
      }
    }

    async function partitionsOf(config: Record<string, unknown>, n: number): Promise<Array<{ from?: unknown; to?: unknown }>> {
      const ctx = createTestContext({ kind: 'source', connections: { db: db.connection } });
      const source = await sqlSource.create({ connection: 'db', ...config } as never, ctx);
      try {
        return JSON.parse(JSON.stringify(await source.partitions!(n)));
      } finally {
        await source.close?.();
        await (ctx.connections as RunConnections).closeAll();
      }
    }

    async function insertRows(table: string, list: Array<Record<string, unknown>>) {
      for (let i = 0; i < list.length; i += 200) await db.knex(table).insert(list.slice(i, i + 200));
    }

    it('splits 10k rows with gaps in the key into 4 balanced key ranges that read every row once, where respected', async () => {
      await open();
      await db.knex.raw(`create table parts (id ${t.int} primary key, grp ${t.int} not null, v ${t.text})`);
      // Gaps of 4-6 between keys, a jump of a million after row 8000, rows inserted out of order.
      const ids = Array.from({ length: 10_000 }, (_, i) => i * 5 + (i % 3) + (i > 8000 ? 1_000_000 : 0) - 20_000);
      await insertRows('parts', [...ids].reverse().map((id, i) => ({ id, grp: Math.abs(id) % 10, v: `v${i}` })));
      const config = { table: 'parts', where: 'grp <> 3' };
      const whole = (await readAll(db, config)).flatMap((p) => p.records);
      expect(whole).toHaveLength(ids.filter((id) => Math.abs(id) % 10 !== 3).length);

      const parts = await partitionsOf(config, 4);
      expect(parts).toHaveLength(4);
      expect(parts[0]).not.toHaveProperty('from');
      expect(parts[3]).not.toHaveProperty('to');
      for (let i = 1; i < 4; i++) expect(parts[i]!.from).toBe(parts[i - 1]!.to);
      const got = [];
      for (const part of parts) {
        const { pages, estimate } = await readPartition(config, part, { batchSize: 333 });
        const records = pages.flatMap((p) => p.records);
        expect(estimate).toBe(records.length);
        expect(records.length).toBeGreaterThan(whole.length * 0.2);
        expect(records.length).toBeLessThan(whole.length * 0.3);
        got.push(...records);
      }
      expect(got).toEqual(whole);

      // Resume inside partition 2 from a mid cursor: exactly the rest of that partition.
      const { pages } = await readPartition(config, parts[2], { batchSize: 100 });
      const rest = (await readPartition(config, parts[2], { batchSize: 100, cursor: JSON.parse(JSON.stringify(pages[4]!.cursor)) })).pages;
      expect(rest.flatMap((p) => p.records)).toEqual(pages.slice(5).flatMap((p) => p.records));

      // Rows added above the highest key after the split are read by the last partition only.
      await insertRows('parts', [{ id: 5_000_000, grp: 1, v: 'late' }, { id: 5_000_001, grp: 3, v: 'late, filtered' }]);
      const last = (await readPartition(config, parts[3])).pages.flatMap((p) => p.records);
      expect(last.at(-1)).toEqual({ id: 5_000_000, grp: 1, v: 'late' });
      expect((await readPartition(config, parts[2])).pages.flatMap((p) => p.records).some((r) => r.v === 'late')).toBe(false);

      // A query source splits the same way on its key.
      const query = { query: 'select id, v from parts where grp < 5', key: 'id' };
      const all = (await readAll(db, query)).flatMap((p) => p.records);
      const queried = [];
      const qparts = await partitionsOf(query, 3);
      expect(qparts).toHaveLength(3);
      for (const part of qparts) queried.push(...(await readPartition(query, part)).pages.flatMap((p) => p.records));
      expect(queried).toEqual(all);
    }, 60_000);

    it('splits a composite text key on its first column, keeping ties together; an empty table is one partition', async () => {
      await open();
      await db.knex.raw(`create table regional (region ${t.varchar} not null, id ${t.int} not null, v ${t.int}, primary key (region, id))`);
      const regions = ['ams', 'ber', 'cph', 'dub', 'fra', 'hel', 'lis', 'mad', 'osl', 'par', 'rom', 'sto'];
      await insertRows('regional', Array.from({ length: 9_000 }, (_, i) => ({ region: regions[(i * 7) % regions.length]!, id: i, v: i % 13 })));
      const config = { table: 'regional' };
      const whole = (await readAll(db, config)).flatMap((p) => p.records);
      const parts = await partitionsOf(config, 5);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      expect(parts.length).toBeLessThanOrEqual(5);
      const seen = new Map<unknown, number>();
      const got = [];
      for (const [index, part] of parts.entries()) {
        const records = (await readPartition(config, part, { batchSize: 250 })).pages.flatMap((p) => p.records);
        for (const r of records) {
          expect(seen.get(r.region) ?? index, `region ${String(r.region)} in two partitions`).toBe(index);
          seen.set(r.region, index);
        }
        got.push(...records);
      }
      expect(got).toEqual(whole);
      expect(seen.size).toBe(regions.length);

      await db.knex.raw(`create table vacant (id ${t.int} primary key)`);
      expect(await partitionsOf({ table: 'vacant' }, 4)).toEqual([{}]);
      expect((await readPartition({ table: 'vacant' }, {})).pages).toEqual([]);
      await expect(readPartition({ table: 'regional' }, { form: 'x' })).rejects.toThrow(/is not a partition of a sql source/);
    }, 60_000);

    it('exactly once per partition: each partition keeps its own marker, a resume skips only its own batches, clear() forgets only its own', async () => {
      await open();
      await db.knex.raw(`create table events (id ${t.int} not null, part ${t.int} not null)`);
      const checkpoint = { store: 'sql', connection: 'db' };
      /** The sink as partition `index` of a 2-way distributed run creates it. */
      const inPartition = (index: number, state?: unknown) => async () => {
        const ctx = contextFor(db, { checkpoint, ...(state === undefined ? {} : { state }) });
        const sink = await sqlSink.create({ connection: 'db', table: 'events' } as never, { ...ctx, job: { ...ctx.job, partition: { index, count: 2 } } });
        const close = async () => {
          await sink.close?.();
          await (ctx.connections as RunConnections).closeAll();
        };
        return { sink, close };
      };
      const batch = (part: number, seq: number) => [0, 1].map((i) => ({ id: part * 1000 + seq * 10 + i, part }));
      // Both partitions number their batches from 0; partition 0 commits 0..2, partition 1 commits 0..1.
      let p0 = await inPartition(0)();
      let p1 = await inPartition(1)();
      for (const seq of [0, 1, 2]) expect(await write(p0.sink, batch(0, seq), seq)).toEqual({});
      for (const seq of [0, 1]) expect(await write(p1.sink, batch(1, seq), seq)).toEqual({});
      await p0.close();
      await p1.close();
      const count = async (part: number) => Number((await rows(db.knex, 'select count(*) as n from events where part = ?', [part]))[0]!.n);
      expect([await count(0), await count(1)]).toEqual([6, 4]);
      const markers = await rows(db.knex, 'select job, sink, seq from sluice_sink_markers order by job');
      expect(markers.map((m) => [m.job, m.sink, Number(m.seq)])).toEqual([['job.p0', 'sink', 2], ['job.p1', 'sink', 1]]);

      // Partition 1 crashed after committing seq 1 with a checkpoint at seq 0: seq 1 is skipped, seq 2 written.
      p1 = await inPartition(1, { seq: 0 })();
      expect(await write(p1.sink, batch(1, 1), 1)).toEqual({});
      expect(await write(p1.sink, batch(1, 2), 2)).toEqual({});
      await p1.close();
      // Partition 0 resumes from seq 1: its marker (2) makes it skip seq 2, not partition 1's.
      p0 = await inPartition(0, { seq: 1 })();
      expect(await write(p0.sink, batch(0, 2), 2)).toEqual({});
      expect(await write(p0.sink, batch(0, 3), 3)).toEqual({});
      await p0.close();
      expect([await count(0), await count(1)]).toEqual([8, 6]);
      expect((await rows(db.knex, 'select id from events order by id')).map((r) => Number(r.id))).toEqual([
        0, 1, 10, 11, 20, 21, 30, 31, 1000, 1001, 1010, 1011, 1020, 1021,
      ]);

      const connections = new RunConnections({ db: db.connection });
      const store = await sqlCheckpointStore({ job: 'job', dir: '.', config: { store: 'sql', path: '', connection: 'db' }, connections, fingerprint: 'f', partition: 1 });
      await store.clear();
      const left = await rows(db.knex, 'select job, seq from sluice_sink_markers order by job');
      expect(left.map((m) => [m.job, Number(m.seq)])).toEqual([['job.p0', 3]]);
      await connections.closeAll();
    });
  });
});
