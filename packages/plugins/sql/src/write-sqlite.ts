import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { bindValue, quoteColumn, type ColumnKind } from './dialect.js';
import { classify, describeError } from './errors.js';

interface Statement {
  run(...params: unknown[]): unknown;
}
interface Database {
  prepare(sql: string): Statement;
  transaction(fn: () => void): { immediate(): void };
}

const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/**
 * SQLite stores any value in any column (a text in an integer column stays text); the other
 * databases refuse it. So that a value that does not fit its column is a record error everywhere,
 * never a silent change of type: numbers (or numeric text) only in integer and real columns.
 */
function misfitColumn(batch: PreparedBatch, kinds: readonly ColumnKind[], params: readonly unknown[]): string | undefined {
  for (let k = 0; k < kinds.length; k++) {
    const kind = kinds[k];
    if (kind !== 'int' && kind !== 'float') continue;
    const v = params[k];
    if (v === null || typeof v === 'number' || typeof v === 'bigint') continue;
    if (typeof v === 'string' && NUMBER.test(v) && (kind === 'float' || Number.isInteger(Number(v)))) continue;
    const column = batch.columns[k]!;
    return `column ${JSON.stringify(column.name)} is ${column.type || kind}: ${JSON.stringify(v)} is not ${kind === 'int' ? 'an integer' : 'a number'}`;
  }
  return undefined;
}

/**
 * SQLite (better-sqlite3): one prepared INSERT run per row, all rows of a batch in one
 * `BEGIN IMMEDIATE` transaction. A refused row undoes only its own statement, so it is dropped
 * with SQLite's message and the transaction goes on.
 */
export class SqliteWriter implements BatchWriter {
  private readonly statements = new WeakMap<object, Map<string, Statement>>();

  constructor(
    private readonly conn: SqlConnection,
    private readonly target: WriteTarget,
  ) {}

  private prepare(db: Database, sql: string): Statement {
    let cache = this.statements.get(db as object);
    if (!cache) this.statements.set(db as object, (cache = new Map()));
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      if (cache.size > 64) cache.clear();
      cache.set(sql, statement);
    }
    return statement;
  }

  async write(plan: BatchPlan): Promise<Rejection[]> {
    return this.conn.withRaw(async (raw) => {
      const db = raw as Database;
      const parts = plan.parts.map((batch) => ({ batch, insert: this.prepare(db, this.insertSql(batch)), kinds: batch.columns.map((c) => c.kind) }));
      let rejected: Rejection[] = [];
      db.transaction(() => {
        rejected = [];
        for (const s of plan.before) this.prepare(db, s.sql).run(...s.params);
        for (const { batch, insert, kinds } of parts) {
          const params = new Array<unknown>(kinds.length);
          for (let p = 0; p < batch.rows.length; p++) {
            const row = batch.rows[p]!;
            for (let k = 0; k < kinds.length; k++) params[k] = bindValue('sqlite', kinds[k]!, row[k]);
            const misfit = misfitColumn(batch, kinds, params);
            if (misfit !== undefined) {
              rejected.push({ index: batch.index[p]!, error: new Error(misfit) });
              continue;
            }
            try {
              insert.run(...params);
            } catch (error) {
              if (classify(error) !== 'data') throw error;
              rejected.push({ index: batch.index[p]!, error: new Error(describeError(error)) });
            }
          }
        }
        for (const s of plan.after(rejected)) this.prepare(db, s.sql).run(...s.params);
      }).immediate();
      return rejected;
    });
  }

  private insertSql(batch: PreparedBatch): string {
    const q = (name: string) => quoteColumn('sqlite', name);
    const cols = batch.columns.map((c) => q(c.name));
    let sql = `insert into ${this.target.table} (${cols.join(', ')}) values (${cols.map(() => '?').join(', ')})`;
    if (this.target.mode === 'upsert') {
      const update = batch.columns.filter((c) => !this.target.key.includes(c.name)).map((c) => q(c.name));
      sql += ` on conflict (${this.target.key.map(q).join(', ')}) ${update.length ? `do update set ${update.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'do nothing'}`;
    }
    return sql;
  }
}
