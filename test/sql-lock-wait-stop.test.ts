// `sluice worker` with `checkpoint.store: sql` (PostgreSQL): SIGTERM while the worker waits for a
// partition's run lock that another session holds must stop the wait at once — the partition goes
// back to the queue untouched — instead of waiting the lock out (2 × --lock-timeout + 5 s). The
// test itself holds the advisory lock, so "at once" is an event, not a wall-clock guess: the worker
// has exited while the lock is still held. Real PostgreSQL and Redis, one database and key prefix.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, requireUp, rows, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { tempDir } from './support/cli.js';
import { connectRedis, coordinatorResult, diagnostics, dropKeys, exitOf, signal, startCoordinator, startWorker, stopAll, uniquePrefix } from './support/distributed.js';

const services = await availability();
const RECORDS = 200;
const prefixes: string[] = [];
let db: TestDatabase | undefined;

afterEach(async () => {
  await stopAll();
  for (const prefix of prefixes.splice(0)) await dropKeys(prefix).catch(() => 0);
  await db?.drop();
  db = undefined;
});

/** The advisory lock number the sql store uses for `job` (checkpoint-lock.ts `lockName`). */
const lockNumber = (job: string) => createHash('sha256').update(`sluice:${job}`).digest().readBigInt64BE(0).toString();

describe.skipIf(services.pg.skip)('sluice worker waiting for a sql run lock', () => {
  it('SIGTERM while another session holds the partition\'s lock: exits 0 while the lock is still held, the partition given back, not failed', async () => {
    requireUp('pg', services.pg.up);
    db = await createDatabase('pg');
    const dir = tempDir('sluice-sql-lock-wait-');
    mkdirSync(join(dir, 'jobs'));
    writeFileSync(join(dir, 'jobs/in.jsonl'), Array.from({ length: RECORDS }, (_, i) => `{"n":${i + 1}}\n`).join(''));
    writeFileSync(
      join(dir, 'jobs/job.yaml'),
      `version: 1\nname: sql-wait\nconnections:\n  db: { client: pg, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
        'source: { use: file, with: { path: in.jsonl } }\nsink: { use: file, with: { path: out/out.jsonl } }\n',
    );
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const redis = connectRedis();
    // The other run: a session of its own (taken out of the test's pool) holding partition 0's advisory lock.
    const pool = db.knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
    const session = await pool.acquireConnection();
    const on = async (sql: string, bindings: unknown[] = []) => ((await db!.knex.raw(sql, bindings as never[]).connection(session as never)) as { rows: Array<Record<string, unknown>> }).rows;
    const lock = lockNumber('sql-wait.p0');
    try {
      expect((await on('select pg_try_advisory_lock(?::bigint) as ok', [lock]))[0]!.ok).toBe(true);
      const holderPid = Number((await on('select pg_backend_pid() as pid'))[0]!.pid);

      const report = join(dir, 'report.json');
      const coordinator = startCoordinator('jobs/job.yaml', { prefix, partitions: 1, report, cwd: dir });
      // Without honouring SIGTERM the worker would wait 2 × 300 s + 5 s for the lock.
      const worker = startWorker({ prefix, cwd: dir, name: 'waiter', lockTimeout: '300s' });
      // Proof that the worker is in its wait: a session of another backend tried the lock twice
      // (two different start times of its `pg_try_advisory_lock`).
      const tries = new Set<string>();
      while (tries.size < 2) {
        if (!worker.alive()) throw new Error(`the worker ended before waiting for the lock\n${diagnostics(worker, coordinator)}`);
        const seen = await rows(
          db.knex,
          "select query_start::text as at from pg_stat_activity where datname = current_database() and pid <> ? and pid <> pg_backend_pid() and query like 'select pg_try_advisory_lock%'",
          [holderPid],
        );
        for (const row of seen) tries.add(String(row.at));
        await sleep(20);
      }
      expect(signal(worker, 'SIGTERM')).toBe(true);
      // The guard only keeps a broken build from hanging the suite; the properties are below.
      const stopped = await exitOf(worker, 240_000);
      const info = diagnostics(worker, coordinator);
      expect(stopped, info).toEqual({ code: 0, signal: null });
      // It left while the other session still held the lock: it did not wait it out, nor take it.
      const held = await rows(
        db.knex,
        "select pid from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())",
      );
      expect(held.map((r) => Number(r.pid)), info).toEqual([holderPid]);
      expect(worker.stderr(), info).toMatch(/p0\/1 of sql-wait given back to the queue before it started: stopped while waiting for the lock of sluice_checkpoints \(job 'sql-wait\.p0'\)/);
      expect(worker.stderr(), info).not.toMatch(/failed/);
      expect(await redis.zcard(`${prefix}:jobs:failed`), info).toBe(0);
      expect(readdirSync(join(dir, 'jobs')), info).not.toContain('out');
      expect(coordinator.alive(), info).toBe(true);

      // The other run lets go: a new worker takes the partition and the run completes.
      await on('select pg_advisory_unlock(?::bigint)', [lock]);
      const next = startWorker({ prefix, cwd: dir, name: 'next' });
      const result = await coordinatorResult(coordinator, report, 120_000);
      const all = diagnostics(coordinator, worker, next);
      expect(result.code, all).toBe(0);
      expect(result.report?.partitions?.map((p) => [p.status, p.worker]), all).toEqual([['done', 'next']]);
      expect(result.report?.counters.written, all).toBe(RECORDS);
    } finally {
      redis.disconnect();
      await pool.releaseConnection(session);
    }
  }, 300_000);
});
