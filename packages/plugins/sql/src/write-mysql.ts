import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { bindValue, quoteColumn } from './dialect.js';
import { classify, describeError } from './errors.js';

interface MySqlConnection {
  query(sql: string, callback: (error: Error | null, result: unknown) => void): void;
  execute(sql: string, params: unknown[], callback: (error: Error | null, result: unknown) => void): void;
}

/** Placeholders per statement stay well under MySQL's 65,535. */
const MAX_PARAMS = 30_000;

/**
 * MySQL/MariaDB: multi-row `INSERT … VALUES (…), (…)` (with `ON DUPLICATE KEY UPDATE` for upsert)
 * as server-side prepared statements, in one transaction per batch. InnoDB undoes only the failed
 * statement on a data error, so refused rows are isolated by halving the statement's rows.
 */
export class MySqlWriter implements BatchWriter {
  constructor(
    private readonly conn: SqlConnection,
    private readonly target: WriteTarget,
  ) {}

  async write(plan: BatchPlan): Promise<Rejection[]> {
    return this.conn.withRaw(async (raw) => {
      const c = raw as MySqlConnection;
      const query = (sql: string) => new Promise<unknown>((resolve, reject) => c.query(sql, (e, r) => (e ? reject(e) : resolve(r))));
      const execute = (sql: string, params: unknown[]) =>
        new Promise<unknown>((resolve, reject) => c.execute(sql, params, (e, r) => (e ? reject(e) : resolve(r))));
      const rejected: Rejection[] = [];
      await query('start transaction');
      try {
        for (const s of plan.before) await execute(s.sql, s.params);
        for (const batch of plan.parts) {
          const perStatement = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, batch.columns.length)));
          const all = batch.rows.map((_, p) => p);
          for (let i = 0; i < all.length; i += perStatement) {
            await this.insertIsolated(execute, batch, all.slice(i, i + perStatement), rejected);
          }
        }
        rejected.sort((a, b) => a.index - b.index);
        for (const s of plan.after(rejected)) await execute(s.sql, s.params);
        await query('commit');
      } catch (error) {
        await query('rollback').catch(() => undefined);
        throw error;
      }
      return rejected;
    });
  }

  private async insertIsolated(
    execute: (sql: string, params: unknown[]) => Promise<unknown>,
    batch: PreparedBatch,
    positions: number[],
    rejected: Rejection[],
  ): Promise<void> {
    const kinds = batch.columns.map((c) => c.kind);
    const params: unknown[] = [];
    for (const p of positions) {
      const row = batch.rows[p]!;
      for (let k = 0; k < kinds.length; k++) params.push(bindValue('mysql', kinds[k]!, row[k]));
    }
    try {
      await execute(this.insertSql(batch, positions.length), params);
    } catch (error) {
      if (classify(error) !== 'data') throw error;
      if (positions.length === 1) {
        rejected.push({ index: batch.index[positions[0]!]!, error: new Error(describeError(error)) });
        return;
      }
      const half = Math.ceil(positions.length / 2);
      await this.insertIsolated(execute, batch, positions.slice(0, half), rejected);
      await this.insertIsolated(execute, batch, positions.slice(half), rejected);
    }
  }

  private insertSql(batch: PreparedBatch, rows: number): string {
    const q = (name: string) => quoteColumn('mysql', name);
    const cols = batch.columns.map((c) => q(c.name));
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    let sql = `insert into ${this.target.table} (${cols.join(', ')}) values ${new Array<string>(rows).fill(tuple).join(', ')}`;
    if (this.target.mode === 'upsert') {
      const update = batch.columns.filter((c) => !this.target.key.includes(c.name)).map((c) => q(c.name));
      const set = update.length ? update.map((c) => `${c} = values(${c})`) : this.target.key.slice(0, 1).map((k) => `${q(k)} = ${q(k)}`);
      sql += ` on duplicate key update ${set.join(', ')}`;
    }
    return sql;
  }
}
