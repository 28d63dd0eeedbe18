// The sql checkpoint store's run lock (PostgreSQL advisory lock, MariaDB GET_LOCK) right after its
// holder was killed: the database ends a killed client's session a moment later (longer under
// load), so a resume started at once can find the lock still held by a process that is gone. The
// race is made deterministic: the test's own session holds the lock, and `sluice_locks` names a
// dead pid of this host (an old-format row: no session id). The run must wait for the session to
// end (the test lets go once it sees the run polling), then finish; a live holder still makes a
// run exit 2 at once; a session that never ends makes it exit 2 at the bound, naming the session.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, T, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, start, tempDir } from './support/cli.js';

const services = await availability();
const JOB = 'deadheld';
const N = 500;

/**
 * The advisory lock's number for a job, and the GET_LOCK name as a session of the job's database
 * makes it (checkpoint-lock.ts `lockName`, `MYSQL_LOCK`: the database is part of the name).
 */
const digest = createHash('sha256').update(`sluice:${JOB}`).digest();
const LOCK = { pg: digest.readBigInt64BE(0).toString(), mysql: `sluice:${JOB}` };
const MYSQL_LOCK = `concat('sluice:', left(sha2(concat(database(), char(0), ?), 256), 40))`;

/** A pid of this host whose process has ended and been reaped. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  expect(() => process.kill(pid!, 0)).toThrow();
  return pid!;
}

describe.each(['pg', 'mysql2'] as Client[])('the sql run lock held by a gone process (%s)', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;
  let session: unknown;
  let file: string;
  const pool = () => db.knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
  /** A statement on the test's own session: the one that holds the lock, as the killed run's did. */
  const on = async (sql: string, bindings: unknown[] = []) => {
    const result = (await db.knex.raw(sql, bindings as never[]).connection(session as never)) as unknown;
    return (client === 'pg' ? (result as { rows: unknown[] }).rows : (result as unknown[][])[0]) as Array<Record<string, unknown>>;
  };
  const take = async () => expect(Number((await on(client === 'pg' ? 'select pg_try_advisory_lock(?::bigint)::int as ok' : `select get_lock(${MYSQL_LOCK}, 0) as ok`, [client === 'pg' ? LOCK.pg : LOCK.mysql]))[0]!.ok)).toBe(1);
  const letGo = () => on(client === 'pg' ? 'select pg_advisory_unlock(?::bigint)' : `select release_lock(${MYSQL_LOCK})`, [client === 'pg' ? LOCK.pg : LOCK.mysql]);
  const sessionId = async () => Number((await on(client === 'pg' ? 'select pg_backend_pid() as id' : 'select connection_id() as id'))[0]!.id);
  /** The row a killed run leaves (written before this change: no session id). */
  const holderRow = (pid: number) =>
    db.knex.raw('insert into sluice_locks (job, holder) values (?, ?)', [JOB, JSON.stringify({ pid, host: hostname(), startedAt: '2026-01-05T10:00:00.000Z', token: 'killed-run' })]);

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(async () => {
      requireUp(client, up);
      db = await createDatabase(client);
      const dir = tempDir('sluice-sql-dead-holder-');
      writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: N }, (_, i) => `{"id":${i},"v":${i % 7}}\n`).join(''));
      await db.knex.raw(`create table dst (id ${T[client].int} not null, v ${T[client].int} not null)`);
      await db.knex.raw('create table sluice_locks (job varchar(191) not null primary key, holder varchar(1000) not null)');
      file = join(dir, 'job.yaml');
      writeFileSync(
        file,
        `version: 1\nname: ${JOB}\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
          `source: { use: file, with: { path: ${join(dir, 'in.jsonl')} } }\n` +
          'sink: { use: sql, with: { connection: db, table: dst, onFresh: append } }\n',
      );
      session = await pool().acquireConnection();
    });
    afterEach(async () => {
      if (session) await pool().releaseConnection(session);
      session = undefined;
      await db?.drop();
    });

    /**
     * Resolves once the run has tried the lock again after finding it held — what a run that exits
     * at once never does. PostgreSQL: two start times of its read of the holder row, which follows
     * each failed try and stays a session's last statement while the run waits (a try is followed
     * at once by that read, so it is rarely seen); MariaDB (which shows no idle session's last
     * statement): a session of the run ran statements on 8 occasions.
     */
    async function polling(child: { exitCode: number | null; output: { stderr: string } }, mine: number): Promise<void> {
      const seen = new Map<string, Set<string>>();
      const enough = () => [...seen.values()].some((s) => s.size >= (client === 'pg' ? 2 : 8));
      while (!enough()) {
        if (child.exitCode !== null) throw new Error(`the run exited (${child.exitCode}) instead of waiting for the lock: ${child.output.stderr}`);
        const found =
          client === 'pg'
            ? await rows(db.knex, "select 'pg' as id, query_start::text as at from pg_stat_activity where datname = current_database() and pid <> ? and pid <> pg_backend_pid() and query like 'select holder from sluice_locks%'", [mine])
            : await rows(db.knex, 'select id, query_id as at from information_schema.processlist where db = database() and id <> ? and id <> connection_id()', [mine]);
        for (const r of found) {
          const key = String(r.id);
          if (!seen.has(key)) seen.set(key, new Set());
          seen.get(key)!.add(String(r.at));
        }
        await sleep(20);
      }
    }

    it('holder pid dead on this host: the run waits for its session to end, takes the lock and loads every row', async () => {
      await take();
      await holderRow(deadPid());
      const run = start(['run', file, '--progress', 'none']);
      const exit = finished(run, 120_000);
      await polling(run, await sessionId());
      // The killed run's session ends at last.
      await letGo();
      const result = await exit;
      expect(result.code, result.stderr).toBe(0);
      const [loaded] = await rows(db.knex, 'select count(*) as n, count(distinct id) as d from dst');
      expect([Number(loaded!.n), Number(loaded!.d)]).toEqual([N, N]);
      // The run replaced the dead holder's row with its own, and deleted it when done.
      expect(await rows(db.knex, 'select holder from sluice_locks')).toEqual([]);
    }, 180_000);

    it('holder pid alive on this host: exit 2 at once naming the holder, while the lock is still held', async () => {
      await take();
      // This test's process: alive, on this host.
      await holderRow(process.pid);
      const result = await finished(start(['run', file, '--progress', 'none']), 120_000);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`another run holds this job's state (sluice_checkpoints (job '${JOB}') on connection 'db'): pid ${process.pid} on host ${hostname()}`);
      expect(result.stderr).not.toMatch(/process is gone/);
      expect(Number((await rows(db.knex, 'select count(*) as n from dst'))[0]!.n)).toBe(0);
    }, 180_000);

    it('holder pid dead but its session never ends: exit 2 at the bound, naming the session to end', async () => {
      await take();
      const dead = deadPid();
      await holderRow(dead);
      const result = await finished(start(['run', file, '--progress', 'none']), 120_000);
      expect(result.code, result.stderr).toBe(2);
      const id = await sessionId();
      expect(result.stderr).toContain(`pid ${dead} on host ${hostname()} since 2026-01-05T10:00:00.000Z; that process is gone, but its database session (${id}) still holds the lock after 30 s`);
      expect(result.stderr).toContain(client === 'pg' ? `end it: select pg_terminate_backend(${id})` : `end it: KILL ${id}`);
      expect(Number((await rows(db.knex, 'select count(*) as n from dst'))[0]!.n)).toBe(0);
    }, 180_000);
  });
});
