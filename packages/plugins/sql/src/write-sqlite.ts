import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { bindValue, fitsInt64, quoteColumn, type ColumnKind } from './dialect.js';
import { classify, describeError } from './errors.js';

interface Statement {
  run(params: readonly unknown[]): unknown;
}

/** Rows per INSERT statement; SQLite binds up to 32,766 values a statement. */
const ROWS_PER_STATEMENT = 100;
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
    const column = batch.columns[k]!;
    if (typeof v === 'string' && /^-?\d{19,}$/.test(v) && !fitsInt64(BigInt(v))) {
      return `column ${JSON.stringify(column.name)} is ${column.type || kind}: ${v} does not fit SQLite's 64-bit integers; use a text column to keep its digits`;
    }
    if (typeof v === 'string' && NUMBER.test(v) && (kind === 'float' || Number.isInteger(Number(v)))) continue;
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
      let rejected: Rejection[] = [];
      db.transaction(() => {
        rejected = [];
        for (const s of plan.before) this.prepare(db, s.sql).run(s.params);
        for (const batch of plan.parts) this.insertPart(db, batch, rejected);
        for (const s of plan.after(rejected)) {
          const done = this.prepare(db, s.sql).run(s.params) as { changes?: number };
          if (s.fence && done.changes !== 1) throw s.fence();
        }
      }).immediate();
      return rejected;
    });
  }

  /**
   * The part's rows, `ROWS_PER_STATEMENT` to a statement (one statement per row costs more in
   * SQLite's VM and in the binding than the rows themselves); a statement the data is refused by
   * is undone alone and its rows written one by one, so only the bad rows are refused.
   */
  private insertPart(db: Database, batch: PreparedBatch, rejected: Rejection[]): void {
    const kinds = batch.columns.map((c) => c.kind);
    const width = kinds.length;
    const one = this.prepare(db, this.insertSql(batch, 1));
    const row = new Array<unknown>(width);
    let params: unknown[] = [];
    let positions: number[] = [];
    const flush = () => {
      if (positions.length === 0) return;
      try {
        this.prepare(db, this.insertSql(batch, positions.length)).run(params);
      } catch (error) {
        if (classify(error) !== 'data') throw error;
        for (const [r, p] of positions.entries()) {
          try {
            one.run(params.slice(r * width, (r + 1) * width));
          } catch (rowError) {
            if (classify(rowError) !== 'data') throw rowError;
            rejected.push({ index: batch.index[p]!, error: new Error(describeError(rowError)) });
          }
        }
      }
      params = [];
      positions = [];
    };
    for (let p = 0; p < batch.records.length; p++) {
      const record = batch.records[p]!;
      for (let k = 0; k < width; k++) row[k] = bindValue('sqlite', kinds[k]!, record[batch.fields[k]!]);
      const misfit = misfitColumn(batch, kinds, row);
      if (misfit !== undefined) {
        rejected.push({ index: batch.index[p]!, error: new Error(misfit) });
        continue;
      }
      for (let k = 0; k < width; k++) params.push(row[k]);
      positions.push(p);
      if (positions.length === ROWS_PER_STATEMENT) flush();
    }
    flush();
    // Rows refused one by one come after the part's earlier refusals: keep the index order.
    rejected.sort((a, b) => a.index - b.index);
  }

  private insertSql(batch: PreparedBatch, rows: number): string {
    const q = (name: string) => quoteColumn('sqlite', name);
    const cols = batch.columns.map((c) => q(c.name));
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    let sql = `insert into ${this.target.table} (${cols.join(', ')}) values ${rows === 1 ? tuple : new Array<string>(rows).fill(tuple).join(', ')}`;
    if (this.target.mode === 'upsert') {
      const update = batch.columns.filter((c) => !this.target.key.includes(c.name)).map((c) => q(c.name));
      sql += ` on conflict (${this.target.key.map(q).join(', ')}) ${update.length ? `do update set ${update.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'do nothing'}`;
    }
    return sql;
  }
}
