// The sql checkpoint store's run lock when its session is killed mid-run (PostgreSQL advisory
// lock, MariaDB GET_LOCK), through the real CLI: a second run started in the gap takes the job;
// the first, at its next checkpoint save, finds its lock session gone and the lock taken, saves
// nothing and exits 2 naming the job; the second finishes, and every row is there exactly once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, T, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, start, tempDir } from './support/cli.js';

const services = await availability();

/** Polls the database (never the clock) until `ready` holds; a hung run fails on the CLI's hang guard. */
async function until(ready: () => Promise<boolean>, child: { exitCode: number | null; output: { stderr: string } }, what: string): Promise<void> {
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`the run exited (${child.exitCode}) before ${what}: ${child.output.stderr}`);
    await sleep(25);
  }
}

describe.each(['pg', 'mysql2'] as Client[])('the run lock on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('lock session killed, a second run takes the job: the first saves no checkpoint and exits 2 naming the job; the second loads every row once', async () => {
      const dir = tempDir('sluice-sql-lock-');
      db = await createDatabase(client);
      const t = T[client];
      const N = 3000;
      await db.knex.raw(`create table src (id ${t.int} primary key, v ${t.int} not null)`);
      await db.knex.raw(`insert into src values ${Array.from({ length: N }, (_, i) => `(${i}, ${i % 97})`).join(', ')}`);
      await db.knex.raw(`create table dst (id ${t.int} not null, v ${t.int} not null)`);
      const file = join(dir, 'locked.yaml');
      writeFileSync(
        file,
        `version: 1\nname: locked\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
          'batch: { size: 100, inFlight: 2 }\n' +
          'source: { use: sql, with: { connection: db, table: src } }\n' +
          'sink: { use: sql, with: { connection: db, table: dst, onFresh: append } }\n',
      );
      const holderPid = async () => {
        const found = await rows(db.knex, "select holder from sluice_locks where job = 'locked'").catch(() => []);
        return found.length ? (JSON.parse(String(found[0]!.holder)) as { pid: number }).pid : undefined;
      };

      // Writes to dst wait behind this transaction's table lock: the first run takes its run lock,
      // then stalls on its first batch, before any checkpoint is saved.
      const blocker = await db.knex.transaction();
      await blocker.raw(client === 'pg' ? 'lock table dst in exclusive mode' : 'lock tables dst read');
      const first = start(['run', file, '--progress', 'none']);
      const firstExit = finished(first, 180_000);
      await until(async () => (await holderPid()) === first.pid, first, 'it took the run lock');
      const waiting =
        client === 'pg'
          ? "select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
          : "select count(*) as n from information_schema.processlist where db = database() and state like '%lock%' and id <> connection_id()";
      await until(async () => Number((await rows(db.knex, waiting))[0]!.n) > 0, first, 'its first write waited for the table lock');
      expect(await rows(db.knex, "select job from sluice_checkpoints where job = 'locked'")).toEqual([]);

      // End the first run's lock session only (as a restart or a failover would), and start a second run.
      const lockSession =
        client === 'pg'
          ? "select pid as id from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())"
          : `select is_used_lock(${lockName('locked')}) as id`;
      const [session] = await rows(db.knex, lockSession);
      expect(session?.id, 'the lock session').toBeTruthy();
      await db.knex.raw(client === 'pg' ? 'select pg_terminate_backend(?)' : `kill connection ${Number(session!.id)}`, client === 'pg' ? [Number(session!.id)] : []);
      // Both databases end a killed session asynchronously (under load, seconds later): a second run
      // started before the lock is let go finds it held by a live run and rightly exits 2. Wait for
      // the database to let the lock go — the gap a restart or failover leaves.
      const released = async () => {
        const [still] = await rows(db.knex, lockSession);
        return !still?.id || Number(still.id) !== Number(session!.id);
      };
      while (!(await released())) await sleep(25);
      const second = start(['run', file, '--progress', 'none']);
      const secondExit = finished(second, 180_000);
      await until(async () => (await holderPid()) === second.pid, second, 'the second run took the run lock');

      // Both runs may now write; the first must not save a checkpoint with the lock gone.
      await blocker.raw(client === 'pg' ? 'select 1' : 'unlock tables');
      await blocker.commit();
      const [one, two] = await Promise.all([firstExit, secondExit]);
      expect(one.code, one.stderr).toBe(2);
      expect(one.stderr).toMatch(/this run lost its lock on the job's state \(sluice_checkpoints \(job 'locked'\) on connection 'db'\).*another run (?:.* holds it now|held it meanwhile)/);
      expect(two.code, two.stderr).toBe(0);

      const [saved] = await rows(db.knex, "select body from sluice_checkpoints where job = 'locked'");
      expect(JSON.parse(String(saved!.body))).toMatchObject({ done: true, counters: { read: N } });
      const [stats] = await rows(db.knex, 'select count(*) as n, count(distinct id) as ids, sum(v) as total from dst');
      const [want] = await rows(db.knex, 'select sum(v) as total from src');
      expect({ n: Number(stats!.n), ids: Number(stats!.ids), total: Number(stats!.total) }).toEqual({ n: N, ids: N, total: Number(want!.total) });
    }, 200_000);
  });
});

/** MariaDB's GET_LOCK name for a job, as the sql store has a session of the job's database make it. */
function lockName(job: string): string {
  return `concat('sluice:', left(sha2(concat(database(), char(0), 'sluice:${job}'), 256), 40))`;
}
