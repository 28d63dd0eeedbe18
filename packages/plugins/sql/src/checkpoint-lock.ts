import { createHash } from 'node:crypto';
import { CheckpointLockedError, isStale, parseHolder, type CheckpointLock, type LockHolder, type LockOptions } from '@sluice/core';
import type { SqlConnection } from './connection.js';
import { classify } from './errors.js';
import { rowsOf } from './introspect.js';

/**
 * The `sql` checkpoint store's run lock (owned by the distributed engineer; see docs).
 *
 * - PostgreSQL: `pg_try_advisory_lock` on a session held for the run's life; MariaDB/MySQL:
 *   `GET_LOCK` likewise. The database lets go when that session ends, so a killed run frees its
 *   job at once. `sluice_locks` keeps who holds it, for messages and `sluice status`.
 * - SQLite: the `sluice_locks` row is the lock (the database is a local file: its holder's pid
 *   can be checked; a dead one's row is taken over).
 */
export const LOCKS_TABLE = 'sluice_locks';

type Raw = unknown;
interface PoolClient {
  acquireConnection(): Promise<Raw>;
  releaseConnection(raw: Raw): Promise<void>;
}

async function ensureLocksTable(conn: SqlConnection): Promise<void> {
  await conn.onlyOnce('locks-table', async () => {
    try {
      await conn.knex.raw(`create table if not exists ${LOCKS_TABLE} (job varchar(191) not null primary key, holder varchar(1000) not null)`);
    } catch (error) {
      // Two runs creating it at once: harmless if it now exists.
      if (!(await conn.knex.schema.hasTable(LOCKS_TABLE))) throw error;
    }
  });
}

/** The advisory lock's name or number for `job`: stable, bounded in size. */
function lockName(job: string): { pg: string; mysql: string } {
  const digest = createHash('sha256').update(`sluice:${job}`).digest();
  return { pg: digest.readBigInt64BE(0).toString(), mysql: `sluice:${digest.toString('hex').slice(0, 40)}` };
}

async function readHolder(conn: SqlConnection, job: string): Promise<{ holder: LockHolder | undefined; text: string | undefined }> {
  const rows = rowsOf(await conn.knex.raw(`select holder from ${LOCKS_TABLE} where job = ?`, [job]));
  const text = rows.length ? String(rows[0]!.holder) : undefined;
  return { holder: parseHolder(text), text };
}

function howToClear(conn: SqlConnection, job: string): string {
  if (conn.dialect.name === 'sqlite') return `delete its row: delete from ${LOCKS_TABLE} where job = '${job}'`;
  return `end its database session (the lock goes with it; pg_terminate_backend / KILL in ${conn.dialect.name === 'postgres' ? 'PostgreSQL' : 'MariaDB'})`;
}

export class SqlLock implements CheckpointLock {
  private released = false;

  private constructor(
    private readonly conn: SqlConnection,
    private readonly job: string,
    private readonly holder: LockHolder,
    /** The session holding the advisory lock (PostgreSQL, MariaDB). */
    private readonly session: Raw | undefined,
  ) {}

  static async acquire(conn: SqlConnection, job: string, location: string, holder: LockHolder, o: LockOptions = {}): Promise<SqlLock> {
    await ensureLocksTable(conn);
    const deadline = Date.now() + (o.waitMs ?? 0);
    for (;;) {
      const lock = conn.dialect.name === 'sqlite' ? await SqlLock.tryRow(conn, job, holder) : await SqlLock.tryAdvisory(conn, job, holder);
      if (lock) return lock;
      if (Date.now() >= deadline) throw new CheckpointLockedError(location, (await readHolder(conn, job)).holder, howToClear(conn, job));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Who holds `job` now (undefined: nobody): tries the lock and lets it go at once. */
  static async holder(conn: SqlConnection, job: string, location: string, probe: LockHolder): Promise<LockHolder | undefined> {
    try {
      const lock = await SqlLock.acquire(conn, job, location, probe);
      await lock.release();
      return undefined;
    } catch (error) {
      if (error instanceof CheckpointLockedError) return error.holder ?? { pid: 0, host: '?', startedAt: '?', token: '' };
      throw error;
    }
  }

  private static async tryAdvisory(conn: SqlConnection, job: string, holder: LockHolder): Promise<SqlLock | undefined> {
    const pool = conn.knex.client as PoolClient;
    const session = await pool.acquireConnection();
    let kept = false;
    try {
      const name = lockName(job);
      const sql = conn.dialect.name === 'postgres' ? 'select pg_try_advisory_lock(?::bigint) as ok' : 'select get_lock(?, 0) as ok';
      const rows = rowsOf(await conn.knex.raw(sql, [conn.dialect.name === 'postgres' ? name.pg : name.mysql]).connection(session as never));
      const ok = rows[0]?.ok;
      if (!(ok === true || ok === 1 || ok === '1' || ok === 't')) return undefined;
      kept = true;
      // Who holds it, for the next run's message: replaced, since a dead holder's row may remain.
      await conn.knex.raw(`delete from ${LOCKS_TABLE} where job = ?`, [job]);
      await conn.knex.raw(`insert into ${LOCKS_TABLE} (job, holder) values (?, ?)`, [job, JSON.stringify(holder)]);
      return new SqlLock(conn, job, holder, session);
    } catch (error) {
      if (kept) await SqlLock.unlock(conn, job, session).catch(() => undefined);
      kept = false;
      throw error;
    } finally {
      if (!kept) await pool.releaseConnection(session);
    }
  }

  private static async tryRow(conn: SqlConnection, job: string, holder: LockHolder): Promise<SqlLock | undefined> {
    const inserted = await conn.knex
      .raw(`insert into ${LOCKS_TABLE} (job, holder) values (?, ?) on conflict do nothing`, [job, JSON.stringify(holder)])
      .then(() => readHolder(conn, job));
    if (inserted.holder?.token === holder.token) return new SqlLock(conn, job, holder, undefined);
    const { holder: other, text } = inserted;
    if (other && isStale(other)) {
      await conn.knex.raw(`delete from ${LOCKS_TABLE} where job = ? and holder = ?`, [job, text ?? '']);
      return SqlLock.tryRow(conn, job, holder);
    }
    return undefined;
  }

  private static async unlock(conn: SqlConnection, job: string, session: Raw): Promise<void> {
    const name = lockName(job);
    const sql = conn.dialect.name === 'postgres' ? 'select pg_advisory_unlock(?::bigint)' : 'select release_lock(?)';
    await conn.knex.raw(sql, [conn.dialect.name === 'postgres' ? name.pg : name.mysql]).connection(session as never);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const { conn, job } = this;
    await conn.knex.raw(`delete from ${LOCKS_TABLE} where job = ? and holder = ?`, [job, JSON.stringify(this.holder)]).catch(() => undefined);
    if (this.session !== undefined) {
      try {
        await SqlLock.unlock(conn, job, this.session);
      } catch (error) {
        // The session ended under the run (a restart, a terminated backend): the database let its
        // locks go with it, so there is nothing left to unlock.
        if (classify(error) !== 'transient') throw error;
      } finally {
        await (conn.knex.client as PoolClient).releaseConnection(this.session);
      }
    }
  }
}
