import { createHash } from 'node:crypto';
import { lockHolder, type Checkpoint, type CheckpointLock, type CheckpointStore, type CheckpointStoreFactory, type CheckpointStoreOptions, type Ledger, type LockHolder, type LockOptions } from '@sluice/core';
import { LockLostError, SqlLock } from './checkpoint-lock.js';
import { acquireConnection, type SqlConnection } from './connection.js';
import { describeError } from './errors.js';
import { withRetry } from './retry.js';
import { rowsOf } from './introspect.js';
import { ensureSystemTables, native, nowValue, TABLES, upsertRow, type Statement } from './system.js';

/**
 * `checkpoint: { store: sql, connection: NAME }`: the job's checkpoint is one row of
 * `sluice_checkpoints` in that database, replaced atomically by an upsert. A `sql` sink on the
 * same connection commits each batch with its marker row, so the pair is exactly-once.
 */
export class SqlCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(
    private readonly conn: SqlConnection,
    /** The job's name (`name.pN` for a partition). */
    private readonly job: string,
  ) {
    this.location = `${TABLES.checkpoints} (job '${job}') on connection '${conn.name}'`;
  }

  private held: SqlLock | undefined;

  /** The run lock (the lock part of this store; see checkpoint-lock.ts). */
  async lock(holder: LockHolder, options?: LockOptions): Promise<CheckpointLock> {
    const lock = await SqlLock.acquire(this.conn, this.job, this.location, holder, options);
    this.held = lock;
    return lock;
  }

  lockHolder(): Promise<LockHolder | undefined> {
    return SqlLock.holder(this.conn, this.job, this.location, lockHolder());
  }

  /** Lets the run lock go (before the connection pool is destroyed at run end). */
  async close(): Promise<void> {
    await this.held?.release();
  }

  private async ready(): Promise<void> {
    try {
      await ensureSystemTables(this.conn);
    } catch (error) {
      throw new Error(`sql checkpoint store: cannot create its tables on connection '${this.conn.name}': ${this.conn.scrub(describeError(error))}`, { cause: error });
    }
  }

  /**
   * Retries a lost connection (a database restart, a terminated backend) with the most patient
   * retry policy of the steps on this connection, naming the store and the connection.
   */
  private retrying<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    return withRetry({ policy: this.conn.retryPolicy, what: `sql checkpoint store on connection '${this.conn.name}': ${doing}`, scrub: (t) => this.conn.scrub(t) }, fn);
  }

  async load(): Promise<Checkpoint | undefined> {
    await this.ready();
    const rows = rowsOf(await this.retrying('loading the checkpoint', () => this.conn.knex.raw(`select body from ${TABLES.checkpoints} where job = ?`, [this.job])));
    if (rows.length === 0) return undefined;
    try {
      return JSON.parse(String(rows[0]!.body)) as Checkpoint;
    } catch (error) {
      throw new Error(`checkpoint ${this.location} is not valid JSON; run with --fresh (or sluice reset)`, { cause: error });
    }
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    await this.ready();
    const d = this.conn.dialect.name;
    const statements = [
      upsertRow(d, TABLES.checkpoints, ['job'], { job: this.job, body: JSON.stringify(checkpoint), updated_at: nowValue(d) }),
      // Refusals of batches the checkpoint now covers are no longer needed by a resume.
      native(d, `delete from ${TABLES.rejects} where job = ? and seq <= ?`, [this.job, checkpoint.seq]),
    ];
    // Never without the run lock, once the run took it (`sluice reset` saves nothing).
    if (this.held) await this.saveHeld(this.held, statements);
    else await this.transaction(statements);
  }

  /** Forgets the checkpoint and every sink marker of the job (`--fresh`, `sluice reset`). */
  async clear(): Promise<void> {
    await this.ready();
    const d = this.conn.dialect.name;
    await this.transaction([
      native(d, `delete from ${TABLES.checkpoints} where job = ?`, [this.job]),
      native(d, `delete from ${TABLES.markers} where job = ?`, [this.job]),
      native(d, `delete from ${TABLES.rejects} where job = ?`, [this.job]),
      native(d, `delete from ${TABLES.parts} where job = ?`, [this.job]),
    ]);
  }

  async ledger(name: string): Promise<Ledger> {
    await this.ready();
    return SqlLedger.open(this.conn, this.job, name);
  }

  async clearLedgers(): Promise<void> {
    await this.ready();
    await this.conn.knex.raw(`delete from ${TABLES.ledgers} where job = ?`, [this.job]);
  }

  private async transaction(statements: Statement[]): Promise<void> {
    await this.retrying('saving', () => this.inTransaction(statements));
  }

  private inTransaction(statements: Statement[]): Promise<void> {
    return this.conn.knex.transaction(async (trx) => {
      // Statements are in the driver's style; knex.raw wants `?` placeholders.
      for (const s of statements) await trx.raw(s.sql.replace(/\$\d+/g, '?'), s.params as never[]);
    });
  }

  /**
   * A save while this run holds its lock: on the lock's session (see `SqlLock.whileHeld`), which
   * takes the lock again when that session was lost, or stops the run when another run took it.
   */
  private async saveHeld(lock: SqlLock, statements: Statement[]): Promise<void> {
    const knex = this.conn.knex;
    const on = (session: unknown, sql: string, params: unknown[] = []) => knex.raw(sql.replace(/\$\d+/g, '?'), params as never[]).connection(session as never);
    try {
      await this.retrying('saving', () =>
        lock.whileHeld(async (session) => {
          if (session === undefined) return this.inTransaction(statements);
          await on(session, this.conn.dialect.name === 'mysql' ? 'start transaction' : 'begin');
          try {
            for (const s of statements) await on(session, s.sql, s.params);
            await on(session, 'commit');
          } catch (error) {
            await on(session, 'rollback').catch(() => undefined);
            throw error;
          }
        }),
      );
    } catch (error) {
      // withRetry names the store around the error; the lock's own error says it all, and makes `sluice run` exit 2.
      if ((error as Error).cause instanceof LockLostError) throw (error as Error).cause;
      throw error;
    }
  }
}

const hash = (key: string) => createHash('sha256').update(key).digest('hex');

/** A ledger as rows of `sluice_ledgers`, keyed by the SHA-256 of each key. */
class SqlLedger implements Ledger {
  private readonly keys = new Set<string>();

  private constructor(
    private readonly conn: SqlConnection,
    private readonly job: string,
    private readonly name: string,
  ) {}

  static async open(conn: SqlConnection, job: string, name: string): Promise<SqlLedger> {
    const ledger = new SqlLedger(conn, job, name);
    const rows = rowsOf(await conn.knex.raw(`select key_hash from ${TABLES.ledgers} where job = ? and name = ?`, [job, name]));
    for (const row of rows) ledger.keys.add(String(row.key_hash).trim());
    return ledger;
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(hash(key));
  }

  async add(key: string): Promise<void> {
    const h = hash(key);
    if (this.keys.has(h)) return;
    this.keys.add(h);
    try {
      const verb = this.conn.dialect.name === 'mysql' ? 'insert ignore into' : 'insert into';
      const tail = this.conn.dialect.name === 'mysql' ? '' : ' on conflict do nothing';
      await this.conn.knex.raw(`${verb} ${TABLES.ledgers} (job, name, key_hash) values (?, ?, ?)${tail}`, [this.job, this.name, h]);
    } catch (error) {
      this.keys.delete(h);
      throw error;
    }
  }

  async close(): Promise<void> {}
}

/** Opens the `sql` checkpoint store (`sqlStore` in extensions.ts registers it). */
export const sqlCheckpointStore: CheckpointStoreFactory = async (options: CheckpointStoreOptions) => {
  const name = options.config.connection;
  if (!name) throw new Error('checkpoint.store: sql needs checkpoint.connection: the connection whose database keeps the checkpoint');
  // The run lock holds one session of the pool for the whole run.
  options.connections.declare(name, 1);
  const conn = await acquireConnection(options.connections, name, options.dir);
  const job = options.partition === undefined ? options.job : `${options.job}.p${options.partition}`;
  return new SqlCheckpointStore(conn, job);
};
