import { Readable } from 'node:stream';
import { PermanentError, type RawPage } from '@sluice/core';
import { rowValue, type BatchPlan, type BatchWriter, type PreparedBatch, type Rejection, type WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { bindValue, quoteColumn, type ColumnInfo } from './dialect.js';
import { classify, describeError } from './errors.js';
import { holdsNullWord, rawLoadSql } from './load-raw-mysql.js';

interface MySqlConnection {
  query(sql: string, callback: (error: Error | null, result: unknown) => void): void;
  query(options: { sql: string; infileStreamFactory: () => Readable }, callback: (error: Error | null, result: unknown) => void): void;
  execute(sql: string, params: unknown[], callback: (error: Error | null, result: unknown) => void): void;
}

/** Placeholders per statement stay well under MySQL's 65,535. */
const MAX_PARAMS = 30_000;

/** MySQL/MariaDB error numbers that mean `LOAD DATA LOCAL` is not allowed here (server or client setting). */
const LOCAL_INFILE_REFUSED = new Set([1148, 3948, 2068, 4166]);

/** `LOAD DATA LOCAL` made warnings (its rows are loaded as with IGNORE): redo the batch with statements. */
class LoadWarnings extends Error {}

// ---------- LOAD DATA text (tab-separated, backslash escapes, \N for NULL) ----------

const NEEDS_ESCAPE = /[\\\n\r\t\0]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };

function loadField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  return NEEDS_ESCAPE.test(text) ? text.replace(/[\\\n\r\t\0]/g, (c) => ESCAPES[c]!) : text;
}

/** The rows of `positions` as LOAD DATA text, in ~64 KiB chunks. */
function loadChunks(batch: PreparedBatch, positions: readonly number[]): string[] {
  const kinds = batch.columns.map((c) => c.kind);
  const fields = batch.fields;
  const chunks: string[] = [];
  let chunk = '';
  for (const p of positions) {
    const record = batch.records[p]!;
    let line = '';
    for (let k = 0; k < kinds.length; k++) {
      if (k > 0) line += '\t';
      line += loadField(bindValue('mysql', kinds[k]!, record[fields[k]!]));
    }
    chunk += `${line}\n`;
    if (chunk.length >= 65_536) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  return chunks;
}

/** What `LOAD DATA` answers: rows loaded and warnings (a refused row is a warning under LOCAL). */
interface LoadResult {
  affectedRows?: number;
  warningStatus?: number;
}

type Execute = (sql: string, params: unknown[]) => Promise<unknown>;

/** mysql2's callbacks of one connection as promises: a statement, a prepared one, and `LOAD DATA LOCAL` of `chunks`. */
function session(c: MySqlConnection) {
  const settle = (resolve: (r: unknown) => void, reject: (e: Error) => void) => (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r));
  return {
    query: (sql: string) => new Promise<unknown>((resolve, reject) => c.query(sql, settle(resolve, reject))),
    execute: ((sql, params) => new Promise<unknown>((resolve, reject) => c.execute(sql, params, settle(resolve, reject)))) as Execute,
    load: (sql: string, chunks: readonly Buffer[]) => new Promise<unknown>((resolve, reject) => c.query({ sql, infileStreamFactory: () => Readable.from(chunks) }, settle(resolve, reject))),
  };
}

/** A batch's closing statements (the exactly-once marker); a fenced one must match exactly one row. */
async function runAfter(statements: ReturnType<BatchPlan['after']>, execute: Execute): Promise<void> {
  for (const s of statements) {
    // An UPDATE's affectedRows counts the rows matched (mysql2 sets FOUND_ROWS).
    const done = (await execute(s.sql, s.params)) as { affectedRows?: number };
    if (s.fence && done.affectedRows !== 1) throw s.fence();
  }
}

/**
 * MySQL/MariaDB, one transaction per batch. Insert and replace stream the batch with `LOAD DATA
 * LOCAL INFILE` (mysql2's infileStreamFactory: no file on disk) where the server allows it. LOCAL
 * turns refused rows into warnings (a duplicate key is skipped, a too-long value cut), so a load
 * with any warning, or fewer rows than sent, is rolled back and the batch written again with
 * statements. Those — and upsert, and servers with local_infile off — are multi-row
 * `INSERT … VALUES (…), (…)` (`ON DUPLICATE KEY UPDATE` for upsert) as server-side prepared
 * statements; InnoDB undoes only the failed statement on a data error, so refused rows are
 * isolated by halving the statement's rows.
 */
export class MySqlWriter implements BatchWriter {
  /** Undefined until tried; false once the server or client refused LOAD DATA LOCAL. */
  private loadData: boolean | undefined;

  /** Whether raw pages may be tried: LOAD DATA LOCAL was not refused (insert and replace only). */
  get takesRaw(): boolean {
    return this.target.mode !== 'upsert' && this.loadData !== false;
  }

  constructor(
    private readonly conn: SqlConnection,
    private readonly target: WriteTarget,
  ) {
    if (target.mode === 'upsert') this.loadData = false;
  }

  async write(plan: BatchPlan): Promise<Rejection[]> {
    return this.conn.withRaw(async (raw) => {
      const { query, execute, load } = session(raw as MySqlConnection);
      let rejected: Rejection[] = [];
      const transaction = async (bulk: boolean) => {
        await query('start transaction');
        try {
          for (const s of plan.before) await execute(s.sql, s.params);
          for (const batch of plan.parts) {
            const all = batch.records.map((_, p) => p);
            if (bulk) {
              const result = (await load(this.loadSql(batch), loadChunks(batch, all).map((chunk) => Buffer.from(chunk)))) as LoadResult;
              if ((result.warningStatus ?? 0) > 0 || result.affectedRows !== all.length) throw new LoadWarnings();
              continue;
            }
            const perStatement = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, batch.columns.length)));
            for (let i = 0; i < all.length; i += perStatement) {
              await this.insertIsolated(execute, batch, all.slice(i, i + perStatement), rejected);
            }
          }
          rejected.sort((a, b) => a.index - b.index);
          await runAfter(plan.after(rejected), execute);
          await plan.beforeCommit?.();
          await query('commit');
        } catch (error) {
          await query('rollback').catch(() => undefined);
          throw error;
        }
      };
      if (this.loadData !== false) {
        try {
          await transaction(true);
          this.loadData = true;
          return rejected;
        } catch (error) {
          const errno = (error as { errno?: unknown }).errno;
          if (typeof errno === 'number' && LOCAL_INFILE_REFUSED.has(errno)) this.loadData = false;
          else if (!(error instanceof LoadWarnings) && classify(error) !== 'data') throw error;
          rejected = [];
        }
      }
      await transaction(false);
      return rejected;
    });
  }

  /**
   * A raw CSV page (`SinkInstance.raw`) in one transaction: `before`, the page's bytes through
   * `LOAD DATA LOCAL INFILE` (load-raw-mysql.ts: the values the record path writes), `after` (the
   * exactly-once marker), then COMMIT. LOCAL turns refused rows into warnings (a duplicate key
   * skipped, a value cut or zeroed), so any warning, or another number of rows than
   * `page.count`, rolls the page back with a PermanentError: the engine then writes its records.
   * `columns`: the page's columns, in its field order. A server that refuses LOAD DATA LOCAL
   * turns raw pages off for the run (`takesRaw`).
   */
  async writeRaw(page: RawPage, plan: Pick<BatchPlan, 'before' | 'after' | 'beforeCommit'>, columns: readonly ColumnInfo[]): Promise<void> {
    const sql = rawLoadSql(this.target.table, page, columns, holdsNullWord(page));
    await this.conn.withRaw(async (raw) => {
      const { query, execute, load } = session(raw as MySqlConnection);
      await query('start transaction');
      try {
        for (const s of plan.before) await execute(s.sql, s.params);
        let result: LoadResult;
        try {
          result = (await load(sql, [page.bytes])) as LoadResult;
        } catch (error) {
          const errno = (error as { errno?: unknown }).errno;
          if (typeof errno !== 'number' || !LOCAL_INFILE_REFUSED.has(errno)) throw error;
          this.loadData = false;
          throw new PermanentError(`sql: the server refused LOAD DATA LOCAL (${describeError(error)}); pages are written record by record`, { cause: error });
        }
        if ((result.warningStatus ?? 0) > 0 || result.affectedRows !== page.count) {
          throw new PermanentError(
            `sql: LOAD DATA read ${result.affectedRows} rows of a raw page of ${page.count} with ${result.warningStatus ?? 0} warning(s); the page is written record by record`,
          );
        }
        await runAfter(plan.after([]), execute);
        await plan.beforeCommit?.();
        await query('commit');
      } catch (error) {
        await query('rollback').catch(() => undefined);
        throw error;
      }
    });
  }

  private loadSql(batch: PreparedBatch): string {
    const cols = batch.columns.map((c) => quoteColumn('mysql', c.name));
    return (
      `load data local infile 'sluice-batch' into table ${this.target.table} character set utf8mb4 ` +
      `fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' (${cols.join(', ')})`
    );
  }

  private async insertIsolated(
    execute: Execute,
    batch: PreparedBatch,
    positions: number[],
    rejected: Rejection[],
  ): Promise<void> {
    const kinds = batch.columns.map((c) => c.kind);
    const params: unknown[] = [];
    for (const p of positions) {
      for (let k = 0; k < kinds.length; k++) params.push(bindValue('mysql', kinds[k]!, rowValue(batch, p, k)));
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
