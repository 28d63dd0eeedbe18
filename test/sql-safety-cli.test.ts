// The sql plugin's refusals and recoveries through the real CLI: `--fresh` never silently doubles
// a table (exit 2 naming the table and onFresh), and connections the database drops in the middle
// of a run (backends terminated under it) are retried by the step's policy, the rows exactly once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, T, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, sluice, start, tempDir } from './support/cli.js';

const services = await availability();

describe.each(['better-sqlite3', 'pg', 'mysql2'] as Client[])('sql sink and --fresh on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('--fresh on an insert job into a table that holds rows exits 2 naming the table and onFresh; onFresh: truncate loads it once', async () => {
      const dir = tempDir('sluice-sql-fresh-');
      db = await createDatabase(client, dir);
      await db.knex.raw(`create table people (id ${T[client].int}, name ${T[client].text})`);
      writeFileSync(join(dir, 'in.jsonl'), [1, 2, 3].map((id) => JSON.stringify({ id, name: `p${id}` })).join('\n') + '\n');
      const job = (onFresh: string) =>
        `version: 1\nname: fresh\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\nsource: { use: file, with: { path: in.jsonl } }\n` +
        `sink: { use: sql, with: { connection: db, table: people${onFresh} } }\n`;
      const file = join(dir, 'fresh.yaml');
      writeFileSync(file, job(''));
      const first = await sluice(['run', file, '--progress', 'none']);
      expect(first.code, first.stderr).toBe(0);
      const again = await sluice(['run', file, '--fresh', '--progress', 'none']);
      expect(again.code, again.stderr).toBe(2);
      expect(again.stderr).toMatch(/step 'sink' \(sql\): sql: table people already holds rows and this run starts fresh .* set onFresh: truncate/);
      expect(Number((await rows(db.knex, 'select count(*) as n from people'))[0]!.n)).toBe(3);

      writeFileSync(file, job(', onFresh: truncate'));
      const truncated = await sluice(['run', file, '--fresh', '--progress', 'none']);
      expect(truncated.code, truncated.stderr).toBe(0);
      expect((await rows(db.knex, 'select id from people order by id')).map((r) => Number(r.id))).toEqual([1, 2, 3]);
    }, 180_000);
  });
});

/** Ends every other session on the test database, the way a restart or a failover would. */
async function terminateOthers(db: TestDatabase): Promise<number> {
  if (db.client === 'pg') {
    const ended = await rows(db.knex, 'select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    return ended.length;
  }
  const sessions = await rows(db.knex, 'select id from information_schema.processlist where db = database() and id <> connection_id()');
  for (const s of sessions) await db.knex.raw(`kill connection ${Number(s.id)}`).catch(() => undefined);
  return sessions.length;
}

describe.each(['pg', 'mysql2'] as Client[])('lost connections on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('sql → sql with checkpoint.store: sql survives its connections being terminated again and again: every row exactly once', async () => {
      const dir = tempDir('sluice-sql-lost-');
      db = await createDatabase(client);
      const t = T[client];
      const N = 20_000;
      await db.knex.raw(`create table src (id ${t.int} primary key, v ${t.int} not null)`);
      for (let i = 0; i < N; i += 1000) {
        await db.knex.raw(`insert into src values ${Array.from({ length: 1000 }, (_, k) => `(${i + k}, ${(i + k) % 997})`).join(', ')}`);
      }
      // No unique key: a batch written twice would show.
      await db.knex.raw(`create table dst (id ${t.int} not null, v ${t.int} not null)`);
      const file = join(dir, 'lost.yaml');
      writeFileSync(
        file,
        `version: 1\nname: lost\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
          'batch: { size: 200, inFlight: 2 }\ndefaults: { retry: { attempts: 12, initialDelay: 200ms, maxDelay: 2s } }\n' +
          'source: { use: sql, with: { connection: db, table: src } }\n' +
          'steps:\n  - use: map\n    with: { set: { v: "record.v" } }\n' +
          // The rate keeps the run going for at least 2.5 s (100 batch writes at 40/s), so the six
          // terminations below always land inside it, however fast the machine writes.
          'sink: { use: sql, rateLimit: 40/s, with: { connection: db, table: dst } }\n',
      );
      const child = start(['run', file, '--progress', 'none']);
      const exited = finished(child, 180_000);
      let terminated = 0;
      let rounds = 0;
      // Once the run has written something, terminate every session of the run six times, 300 ms
      // apart (each inside the retry window of 12 attempts), then let it finish.
      while (child.exitCode === null && child.signalCode === null) {
        const written = Number((await rows(db.knex, 'select count(*) as n from dst'))[0]!.n);
        if (written > 0 && rounds < 6) {
          terminated += await terminateOthers(db);
          rounds++;
          await sleep(300);
        } else await sleep(50);
      }
      const result = await exited;
      expect(result.code, result.stderr).toBe(0);
      expect(rounds, 'the run ended before its connections were terminated 3 times').toBeGreaterThanOrEqual(3);
      expect(terminated).toBeGreaterThanOrEqual(3);
      const [stats] = await rows(db.knex, 'select count(*) as n, count(distinct id) as ids, sum(v) as total, min(id) as lo, max(id) as hi from dst');
      const [want] = await rows(db.knex, 'select sum(v) as total from src');
      expect({ n: Number(stats!.n), ids: Number(stats!.ids), total: Number(stats!.total), lo: Number(stats!.lo), hi: Number(stats!.hi) }).toEqual({
        n: N,
        ids: N,
        total: Number(want!.total),
        lo: 0,
        hi: N - 1,
      });
    }, 200_000);
  });
});
