import { PermanentError, type RawPage } from '@sluice/core';
import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { bindValue, quoteColumn, type ColumnInfo } from './dialect.js';
import { revive, ROWS_PER_STATEMENT, runSqliteJob, StatementCache, type SqliteDatabase, type SqliteJob, type SqliteOutcome, type SqlitePart } from './sqlite-batch.js';
import { rawChunks } from './sqlite-raw.js';
import { sqliteThreadOf } from './sqlite-thread.js';
import { asNumber, convertibleColumns, misfitColumn } from './sqlite-values.js';
import type { Statement } from './system.js';

/** A part's rows as bound values, and the record each row came from. */
interface BoundPart {
  readonly batch: PreparedBatch;
  readonly part: SqlitePart;
  /** `positions[r]`: the row of `batch` (its `records[…]`) that row r of the part holds. */
  readonly positions: number[];
}

/**
 * SQLite (better-sqlite3): all rows of a batch in one `BEGIN IMMEDIATE` transaction, many rows to
 * an INSERT statement, run on the connection's writer thread (sqlite-thread.ts) so that SQLite's
 * work overlaps the parsing and binding of the next batches (the sink pipelines two); an in-memory database runs it here, on the pool's
 * connection. This side binds the values (and refuses the misfits); the thread only runs
 * statements. A row SQLite refuses undoes only its own statement; the thread then rolls back and
 * reports every refused row, and the batch is sent again without them, with the marker statements
 * that record the refusals — so the transaction never waits on this thread while it holds the lock.
 */
export class SqliteWriter implements BatchWriter {
  /** Statements of the pool's connection, for an in-memory database. */
  private readonly local = new WeakMap<object, StatementCache>();

  constructor(
    private readonly conn: SqlConnection,
    private readonly target: WriteTarget,
  ) {}

  async write(plan: BatchPlan): Promise<Rejection[]> {
    const rejected: Rejection[] = [];
    const bound = plan.parts.map((batch) => this.bind(batch, rejected));
    // Bound while the batch before is still on the thread; sent once it has committed (its
    // failure fails this one here, before anything of it is written). Not inside the transaction
    // as PostgreSQL does: the thread must never hold the write lock waiting for this thread.
    await plan.beforeCommit?.();
    for (;;) {
      rejected.sort((a, b) => a.index - b.index);
      const after = plan.after(rejected);
      const job: SqliteJob = {
        before: plan.before.map(plainStatement),
        parts: bound.map((b) => b.part),
        after: after.map(plainStatement),
      };
      const outcome = await this.run(job);
      if ('ok' in outcome) return rejected;
      if ('fence' in outcome) throw after[outcome.fence]!.fence!();
      if ('error' in outcome) throw revive(outcome.error);
      // Rows SQLite refused (nothing was committed): record them, and write the batch without them.
      const drop = new Map<number, Set<number>>();
      for (const r of outcome.refused) {
        const b = bound[r.part]!;
        rejected.push({ index: b.batch.index[b.positions[r.row]!]!, error: new Error(r.message) });
        let rows = drop.get(r.part);
        if (!rows) drop.set(r.part, (rows = new Set()));
        rows.add(r.row);
      }
      for (const [p, rows] of drop) bound[p] = without(bound[p]!, rows);
    }
  }

  /**
   * A raw CSV page (sink.ts `rawStatements`): its rows read here (sqlite-raw.ts) into the chunks
   * the record path would bind, in one transaction with the batch's statements. All of its rows or
   * none: a page the reading or SQLite refuses any row of is thrown back, and the engine writes its
   * records, which finds and reports each refused row as always.
   */
  async writeRaw(page: RawPage, plan: Pick<BatchPlan, 'before' | 'after' | 'beforeCommit'>, columns: readonly ColumnInfo[]): Promise<void> {
    const read = rawChunks(page, columns);
    if ('refused' in read) throw new PermanentError(`sql: a raw page was not written as it is (${read.refused}); the page is written record by record`);
    const part: SqlitePart = { ...this.shape(columns), width: columns.length, chunks: read.chunks };
    // Read while the batch before is still on the thread, as `write` binds.
    await plan.beforeCommit?.();
    const after = plan.after([]);
    const outcome = await this.run({ before: plan.before.map(plainStatement), parts: [part], after: after.map(plainStatement) });
    if ('ok' in outcome) return;
    if ('fence' in outcome) throw after[outcome.fence]!.fence!();
    if ('error' in outcome) throw revive(outcome.error);
    throw new PermanentError(`sql: SQLite refused ${outcome.refused.length} row(s) of a raw page (${outcome.refused[0]!.message}); the page is written record by record`);
  }

  private async run(job: SqliteJob): Promise<SqliteOutcome> {
    const thread = sqliteThreadOf(this.conn);
    if (thread) return thread.run(job);
    return this.conn.withRaw(async (raw) => {
      let statements = this.local.get(raw as object);
      if (!statements) this.local.set(raw as object, (statements = new StatementCache(raw as SqliteDatabase)));
      return runSqliteJob(raw as SqliteDatabase, statements, job);
    });
  }

  /** The part's rows as one flat array of bound values; a row with a misfit value is refused here. */
  private bind(batch: PreparedBatch, rejected: Rejection[]): BoundPart {
    const kinds = batch.columns.map((c) => c.kind);
    const numeric = kinds.flatMap((kind, k) => (kind === 'int' || kind === 'float' ? [k] : []));
    // Numeric text goes as a number where SQLite would convert it anyway (sqlite-values.ts).
    const convert = convertibleColumns(batch.columns);
    const width = kinds.length;
    const { records, fields } = batch;
    const chunkSize = ROWS_PER_STATEMENT * width || Infinity;
    const chunks: unknown[][] = [];
    let params: unknown[] = [];
    const positions: number[] = [];
    for (let p = 0; p < records.length; p++) {
      if (params.length === chunkSize) {
        chunks.push(params);
        params = [];
      }
      const record = records[p]!;
      const at = params.length;
      for (let k = 0; k < width; k++) {
        const v = record[fields[k]!];
        // Text is bound as it is except into a JSON column (bindValue's answer, without the call).
        params.push(typeof v === 'string' && kinds[k] !== 'json' ? v : bindValue('sqlite', kinds[k]!, v));
      }
      const misfit = numeric.length ? misfitColumn(batch.columns, numeric, params, at) : undefined;
      if (misfit !== undefined) {
        params.length = at;
        rejected.push({ index: batch.index[p]!, error: new Error(misfit) });
        continue;
      }
      for (const k of convert) {
        const v = params[at + k];
        if (typeof v === 'string') params[at + k] = asNumber(v, kinds[k] === 'int');
      }
      positions.push(p);
    }
    // No column at all (a record `{}`): one empty chunk, which SQLite refuses as it always did.
    if (params.length || (width === 0 && positions.length)) chunks.push(params);
    return { batch, part: { ...this.shape(batch.columns), width, chunks }, positions };
  }

  /** The INSERT of a part's columns, around its rows' tuples. */
  private shape(columns: readonly ColumnInfo[]): Pick<SqlitePart, 'head' | 'tuple' | 'tail'> {
    const q = (name: string) => quoteColumn('sqlite', name);
    const cols = columns.map((c) => q(c.name));
    let tail = '';
    if (this.target.mode === 'upsert') {
      const update = columns.filter((c) => !this.target.key.includes(c.name)).map((c) => q(c.name));
      tail = ` on conflict (${this.target.key.map(q).join(', ')}) ${update.length ? `do update set ${update.map((c) => `${c} = excluded.${c}`).join(', ')}` : 'do nothing'}`;
    }
    return { head: `insert into ${this.target.table} (${cols.join(', ')}) values `, tuple: `(${cols.map(() => '?').join(', ')})`, tail };
  }
}

/** A statement as data for the thread (its fence stays here: the thread says which one failed). */
function plainStatement(s: Statement): { sql: string; params: readonly unknown[]; fenced: boolean } {
  return { sql: s.sql, params: s.params, fenced: s.fence !== undefined };
}

/** `b` without the rows `drop` (rows of its part), chunked again. */
function without(b: BoundPart, drop: ReadonlySet<number>): BoundPart {
  const { width, chunks } = b.part;
  const kept: unknown[][] = [];
  let chunk: unknown[] = [];
  const positions: number[] = [];
  for (let r = 0; r < b.positions.length; r++) {
    if (drop.has(r)) continue;
    if (chunk.length === ROWS_PER_STATEMENT * width) {
      kept.push(chunk);
      chunk = [];
    }
    const from = chunks[Math.floor(r / ROWS_PER_STATEMENT)]!;
    const at = (r % ROWS_PER_STATEMENT) * width;
    for (let k = 0; k < width; k++) chunk.push(from[at + k]);
    positions.push(b.positions[r]!);
  }
  if (chunk.length) kept.push(chunk);
  return { batch: b.batch, part: { ...b.part, chunks: kept }, positions };
}
