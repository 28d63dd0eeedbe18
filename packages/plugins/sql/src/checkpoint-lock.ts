import { createHash } from 'node:crypto';
import { CheckpointLockedError, isStale, parseHolder, pauseForLock, type CheckpointLock, type LockHolder, type LockOptions } from '@sluice/core';
import type { SqlConnection } from './connection.js';
import { classify, isSqliteBusy } from './errors.js';
import { rowsOf } from './introspect.js';

/**
 * The `sql` checkpoint store's run lock (owned by the distributed engineer; see docs).
 *
 * - PostgreSQL: `pg_try_advisory_lock` on a session held for the run's life; MariaDB/MySQL:
 *   `GET_LOCK` likewise. The database lets go when that session ends, a moment after a kill, so a
 *   run finding the lock held by a dead pid of this host waits for that (DEAD_HOLDER_WAIT_MS).
 *   `sluice_locks` keeps who holds it, for messages and `sluice status`.
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

/**
 * The advisory lock's number (PostgreSQL) or the parameter of `MYSQL_LOCK` for `job`: stable,
 * bounded in size.
 */
function lockName(job: string): { pg: string; mysql: string } {
  const digest = createHash('sha256').update(`sluice:${job}`).digest();
  return { pg: digest.readBigInt64BE(0).toString(), mysql: `sluice:${job}` };
}

/**
 * The MySQL/MariaDB lock's name, made by the session from `lockName(job).mysql`. `GET_LOCK` names
 * are server-wide, unlike PostgreSQL's advisory locks (per database): the session's database is
 * part of the name, so jobs of one name in two databases of one server do not lock each other out.
 * 47 characters, under the server's limit of 64.
 */
const MYSQL_LOCK = `concat('sluice:', left(sha2(concat(coalesce(database(), ''), char(0), ?), 256), 40))`;

async function readHolder(conn: SqlConnection, job: string, session?: Raw): Promise<{ holder: LockHolder | undefined; text: string | undefined }> {
  const query = conn.knex.raw(`select holder from ${LOCKS_TABLE} where job = ?`, [job]);
  const rows = rowsOf(await (session === undefined ? query : query.connection(session as never)));
  const text = rows.length ? String(rows[0]!.holder) : undefined;
  return { holder: parseHolder(text), text };
}

function howToClear(conn: SqlConnection, job: string): string {
  if (conn.dialect.name === 'sqlite') return `delete its row: delete from ${LOCKS_TABLE} where job = '${job}'`;
  return `end its database session (the lock goes with it; pg_terminate_backend / KILL in ${conn.dialect.name === 'postgres' ? 'PostgreSQL' : 'MariaDB'})`;
}

/** Another run took the job's lock while this run's lock session was lost: this run stops (exit 2). */
export class LockLostError extends CheckpointLockedError {
  constructor(location: string, holder: LockHolder | undefined, howToClear: string) {
    super(location, holder, howToClear);
    this.message =
      `this run lost its lock on the job's state (${location}): its database session ended, and another run ` +
      `${holder ? `(pid ${holder.pid} on host ${holder.host} since ${holder.startedAt}) holds it now` : 'held it meanwhile'}; this run stops without saving its checkpoint`;
    this.name = 'LockLostError';
  }
}

/**
 * How long a run waits for the database to end the session of a lock holder whose process is
 * gone (a dead pid of this host) before it gives up: docs/job-format.md says this figure.
 */
export const DEAD_HOLDER_WAIT_MS = 30_000;

/** The holder's process is gone but its database session still holds the lock: exit 2, naming the session to end. */
export class HolderSessionOpenError extends CheckpointLockedError {
  constructor(location: string, holder: LockHolder, session: { id: number; end: string } | undefined) {
    const end = session ? `end it: ${session.end}` : 'end its database session (pg_terminate_backend in PostgreSQL, KILL in MariaDB)';
    super(location, holder, end);
    this.message =
      `another run held this job's state (${location}): pid ${holder.pid} on host ${holder.host} since ${holder.startedAt}; that process is gone, but its ` +
      `database session${session ? ` (${session.id})` : ''} still holds the lock after ${DEAD_HOLDER_WAIT_MS / 1000} s of waiting for the database to end it; ${end}`;
    this.name = 'HolderSessionOpenError';
  }
}

/** The database session holding `job`'s advisory lock, and the statement that ends it; undefined when it cannot be told. */
async function holderSession(conn: SqlConnection, job: string): Promise<{ id: number; end: string } | undefined> {
  const name = lockName(job);
  try {
    // PostgreSQL splits a bigint advisory key into classid (high 32 bits) and objid (low 32 bits).
    const rows =
      conn.dialect.name === 'postgres'
        ? rowsOf(
            await conn.knex.raw(
              "select pid as id from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and database = (select oid from pg_database where datname = current_database()) and ((classid::bigint << 32) | objid::bigint) = ?::bigint",
              [name.pg],
            ),
          )
        : rowsOf(await conn.knex.raw(`select is_used_lock(${MYSQL_LOCK}) as id`, [name.mysql]));
    const id = Number(rows[0]?.id);
    if (!Number.isSafeInteger(id) || id <= 0) return undefined;
    return { id, end: conn.dialect.name === 'postgres' ? `select pg_terminate_backend(${id})` : `KILL ${id}` };
  } catch {
    return undefined;
  }
}

export class SqlLock implements CheckpointLock {
  private released = false;
  /** Held by a session (PostgreSQL, MariaDB), not by a row (SQLite). */
  private readonly advisory: boolean;

  private constructor(
    private readonly conn: SqlConnection,
    private readonly job: string,
    private readonly location: string,
    private readonly holder: LockHolder,
    /** The session holding the advisory lock (PostgreSQL, MariaDB); replaced when it is lost and taken again. */
    private session: Raw | undefined,
  ) {
    this.advisory = session !== undefined;
  }

  /**
   * Runs `fn` (a checkpoint save) while this run holds the lock: on the lock's own session
   * (PostgreSQL, MariaDB), so what it commits, it commits while the lock is held. When that
   * session is gone (a restart, a terminated backend) the lock is taken again on a new session
   * first — unless another run holds it, or took it meanwhile (its holder row replaced ours):
   * then `LockLostError`, and nothing is saved. SQLite: the lock row must still be ours.
   */
  async whileHeld<T>(fn: (session: Raw | undefined) => Promise<T>): Promise<T> {
    if (!this.advisory) {
      const { holder } = await readHolder(this.conn, this.job);
      if (holder?.token !== this.holder.token) throw new LockLostError(this.location, holder, howToClear(this.conn, this.job));
      return fn(undefined);
    }
    if (this.session === undefined) await this.retake();
    try {
      return await fn(this.session);
    } catch (error) {
      if (classify(error) !== 'transient') throw error;
      // The session may be gone: if so, take the lock again (or stop), then let the caller retry.
      if (!(await this.alive())) await this.retake();
      throw error;
    }
  }

  /** Whether the lock's session still answers (and so still holds the lock). */
  private async alive(): Promise<boolean> {
    try {
      await this.conn.knex.raw('select 1').connection(this.session as never);
      return true;
    } catch {
      return false;
    }
  }

  private async retake(): Promise<void> {
    const pool = this.conn.knex.client as PoolClient;
    // Undefined when an earlier retake failed half-way (no new session yet): take one now.
    const dead = this.session as { __knex__disposed?: unknown } | undefined;
    this.session = undefined;
    if (dead) {
      dead.__knex__disposed ??= 'lock session lost';
      await pool.releaseConnection(dead).catch(() => undefined);
    }
    const session = await pool.acquireConnection();
    let locked = false;
    try {
      // The database ends a killed session (and lets its lock go) a moment after the client saw it
      // end: while the holder row is still ours, nobody else took the lock; try again a while.
      const policy = this.conn.retryPolicy;
      for (let attempt = 1; !(await SqlLock.tryOn(this.conn, this.job, session)); attempt++) {
        const { holder } = await readHolder(this.conn, this.job, session);
        if (holder?.token !== this.holder.token || attempt >= policy.attempts) throw new LockLostError(this.location, holder, howToClear(this.conn, this.job));
        await new Promise((resolve) => setTimeout(resolve, Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (attempt - 1))));
      }
      locked = true;
      // Every run that takes the lock replaces the holder row: ours still there means nobody did.
      const { text } = await readHolder(this.conn, this.job, session);
      if (text !== JSON.stringify(this.holder)) throw new LockLostError(this.location, parseHolder(text), howToClear(this.conn, this.job));
      this.session = session;
    } catch (error) {
      // Never keep a session that may hold the lock without it being this.session.
      if (locked) await SqlLock.unlock(this.conn, this.job, session).catch(() => undefined);
      if (classify(error) === 'transient') (session as { __knex__disposed?: unknown }).__knex__disposed ??= error;
      await pool.releaseConnection(session);
      throw error;
    }
  }


  /** `deadHolderWaitMs`: 0 for a look at who holds the lock (`sluice status`), which must not wait. */
  static async acquire(conn: SqlConnection, job: string, location: string, holder: LockHolder, o: LockOptions & { deadHolderWaitMs?: number } = {}): Promise<SqlLock> {
    await ensureLocksTable(conn);
    const advisory = conn.dialect.name !== 'sqlite';
    const deadline = Date.now() + (o.waitMs ?? 0);
    /** Set once the holder is seen dead: until when to wait for the database to end its session. */
    let goneUntil: number | undefined;
    for (let gonePolls = 0; ; ) {
      const lock = advisory ? await SqlLock.tryAdvisory(conn, job, location, holder) : await SqlLock.tryRow(conn, job, location, holder);
      if (lock) return lock;
      let delay = 250;
      if (Date.now() >= deadline) {
        const held = await readHolder(conn, job).catch((error: unknown) => (isSqliteBusy(error) ? { holder: undefined } : Promise.reject(error)));
        // A holder of this host whose process is dead: its session is ending (the database notices a
        // killed client a moment later, longer under load), so the lock is as good as free — wait
        // for it, a bounded while, rather than refuse a restart right after a crash.
        if (!advisory || !held.holder || !isStale(held.holder)) throw new CheckpointLockedError(location, held.holder, howToClear(conn, job));
        goneUntil ??= Date.now() + (o.deadHolderWaitMs ?? DEAD_HOLDER_WAIT_MS);
        if (Date.now() >= goneUntil) throw new HolderSessionOpenError(location, held.holder, await holderSession(conn, job));
        delay = Math.min(1000, 20 * 2 ** Math.min(gonePolls++, 6));
      }
      // A stop while waiting (a worker's SIGTERM) must not wait out the other run first: a worker
      // taking over a partition waits up to twice its lock timeout here.
      await pauseForLock(delay, location, o.signal);
    }
  }

  /** Who holds `job` now (undefined: nobody): tries the lock and lets it go at once. */
  static async holder(conn: SqlConnection, job: string, location: string, probe: LockHolder): Promise<LockHolder | undefined> {
    try {
      const lock = await SqlLock.acquire(conn, job, location, probe, { deadHolderWaitMs: 0 });
      await lock.release();
      return undefined;
    } catch (error) {
      if (error instanceof CheckpointLockedError) return error.holder ?? { pid: 0, host: '?', startedAt: '?', token: '' };
      throw error;
    }
  }

  /** Tries the advisory lock on `session`; true when taken. */
  private static async tryOn(conn: SqlConnection, job: string, session: Raw): Promise<boolean> {
    const name = lockName(job);
    const sql = conn.dialect.name === 'postgres' ? 'select pg_try_advisory_lock(?::bigint) as ok' : `select get_lock(${MYSQL_LOCK}, 0) as ok`;
    const rows = rowsOf(await conn.knex.raw(sql, [conn.dialect.name === 'postgres' ? name.pg : name.mysql]).connection(session as never));
    const ok = rows[0]?.ok;
    return ok === true || ok === 1 || ok === '1' || ok === 't';
  }

  private static async tryAdvisory(conn: SqlConnection, job: string, location: string, holder: LockHolder): Promise<SqlLock | undefined> {
    const pool = conn.knex.client as PoolClient;
    const session = await pool.acquireConnection();
    let kept = false;
    try {
      if (!(await SqlLock.tryOn(conn, job, session))) return undefined;
      kept = true;
      // Who holds it, for the next run's message: replaced, since a dead holder's row may remain.
      await conn.knex.raw(`delete from ${LOCKS_TABLE} where job = ?`, [job]);
      await conn.knex.raw(`insert into ${LOCKS_TABLE} (job, holder) values (?, ?)`, [job, JSON.stringify(holder)]);
      return new SqlLock(conn, job, location, holder, session);
    } catch (error) {
      if (kept) await SqlLock.unlock(conn, job, session).catch(() => undefined);
      kept = false;
      throw error;
    } finally {
      if (!kept) await pool.releaseConnection(session);
    }
  }

  private static async tryRow(conn: SqlConnection, job: string, location: string, holder: LockHolder): Promise<SqlLock | undefined> {
    const inserted = await conn.knex
      .raw(`insert into ${LOCKS_TABLE} (job, holder) values (?, ?) on conflict do nothing`, [job, JSON.stringify(holder)])
      .then(
        () => readHolder(conn, job),
        // SQLITE_BUSY past the busy timeout: another process holds the database's write lock (a run
        // of this job committing, or stopped mid-commit), so the lock is not ours to take now; say
        // who holds the row when it can be read, rather than failing the run with the raw error.
        (error: unknown) => {
          if (!isSqliteBusy(error)) throw error;
          return readHolder(conn, job).catch(() => ({ holder: undefined, text: undefined }));
        },
      );
    if (inserted.holder?.token === holder.token) return new SqlLock(conn, job, location, holder, undefined);
    const { holder: other, text } = inserted;
    if (other && isStale(other)) {
      await conn.knex.raw(`delete from ${LOCKS_TABLE} where job = ? and holder = ?`, [job, text ?? '']);
      return SqlLock.tryRow(conn, job, location, holder);
    }
    return undefined;
  }

  private static async unlock(conn: SqlConnection, job: string, session: Raw): Promise<void> {
    const name = lockName(job);
    const sql = conn.dialect.name === 'postgres' ? 'select pg_advisory_unlock(?::bigint)' : `select release_lock(${MYSQL_LOCK})`;
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

