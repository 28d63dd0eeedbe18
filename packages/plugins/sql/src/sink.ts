import {
  defineSink,
  PermanentError,
  StartupRefusal,
  TransientError,
  type PluginContext,
  type RawPage,
  type SinkInstance,
  type SluiceRecord,
  type WriteInfo,
  type WriteResult,
} from '@sluice/core';
import type { BatchPlan, BatchWriter, Rejection, WriteTarget } from './batch.js';
import { acquireConnection, type SqlConnection } from './connection.js';
import { addColumnsFrom, createTableFrom } from './create-table.js';
import { quote, type TableInfo } from './dialect.js';
import { classify, describeError } from './errors.js';
import { describeTable, rowsOf } from './introspect.js';
import { RowShaper } from './rows.js';
import { checkTable, columnsAreDistinct, createdUpsertNeedsKey, keyIsMapped, keyList, keyNeedsUpsertOrCreate, mappingOf, sqlSinkSchema, type Config, type SqlSinkState } from './sink-config.js';
import { Markers, type MarkedWrite } from './markers.js';
import { ensureMarkerRow, ensureSystemTables, native, type Statement } from './system.js';
import { readBackTable, sqlGuarantee } from './read-back.js';
import { MySqlWriter } from './write-mysql.js';
import { PgWriter } from './write-pg.js';
import { SqliteWriter } from './write-sqlite.js';

export { sqlSinkSchema, columnsAreDistinct, keyNeedsUpsertOrCreate, createdUpsertNeedsKey, keyIsMapped, type SqlSinkState } from './sink-config.js';

/**
 * The job its markers are kept under: the job's name, or `name.pN` for partition N of a
 * distributed run — the key the `sql` checkpoint store keeps that partition's checkpoint under,
 * so its `clear()` forgets exactly that partition's markers.
 */
export function markerJob(job: PluginContext['job']): string {
  return job.partition === undefined ? job.name : `${job.name}.p${job.partition.index}`;
}

/** Whether this sink and the checkpoint share a transaction: store sql on the sink's own connection. */
export function exactlyOnce(ctx: PluginContext, connection: string): boolean {
  return !ctx.job.dryRun && ctx.job.checkpoint.store === 'sql' && ctx.job.checkpoint.connection === connection;
}

const isState = (s: unknown): s is SqlSinkState => !!s && typeof s === 'object' && Number.isInteger((s as { seq?: unknown }).seq);

/**
 * Writes batches into a table, one transaction per batch. With the checkpoint in the same
 * database (`checkpoint: { store: sql, connection: <this connection> }`) each transaction also
 * upserts the sink's marker `(job, sink) → seq` (job `name.pN` for partition N of a distributed
 * run); a batch whose seq is at or below the marker was committed by a run that died before its
 * checkpoint, and is skipped — exactly once. A part of a halved batch commits the range of the
 * batch it holds instead, and any write skips the records committed ranges hold (markers.ts).
 */
class SqlSink implements SinkInstance {
  private info: TableInfo | undefined;
  private readonly mapping: Array<[string, string]> | undefined;
  private key: string[];
  private writer: BatchWriter | undefined;
  /** What this job committed: markers, ranges of halved batches, refusals (exactly-once mode). */
  private readonly markers: Markers;
  /** Fresh replace run: the first transaction empties the table. */
  private emptyFirst: boolean;
  private lastSeq: number | undefined;
  /** Records → rows of column values, by the shape of their fields. */
  private readonly shaper: RowShaper;
  /** Set at the first write: whether this run is a `sluice replay`. */
  private replay: boolean | undefined;
  /** The writes handed over and not settled yet: true once committed, false when failed. */
  private readonly pending = new Set<Promise<boolean>>();
  /** Batches whose last write failed and that no later write has gone past yet. */
  private readonly failed = new Set<number>();
  /** Resolves when the last write handed over has reached its COMMIT (or failed): the next may run its statements. */
  private stage: Promise<void> = Promise.resolve();
  /** Batches the engine may hand over at once (`SinkInstance.pipeline`). */
  readonly pipeline: number;
  /** A commit per batch: the engine may merge pages into larger batches (`SinkInstance.bulk`). */
  readonly bulk = true;
  private readonly table: string;
  private readonly sinkId: string;
  /** The job key of this sink's markers (per partition in a distributed run). */
  private readonly jobKey: string;

  constructor(
    private readonly conn: SqlConnection,
    private readonly config: Config,
    private readonly ctx: PluginContext,
    private readonly eo: boolean,
    info: TableInfo | undefined,
  ) {
    this.info = info;
    this.mapping = mappingOf(config.columns);
    this.shaper = new RowShaper(this.mapping, config.table, config.ignoreUnknown === true, conn.dialect.name);
    this.key = keyList(config.key);
    this.table = quote(conn.knex, config.table);
    this.sinkId = ctx.step.id;
    this.jobKey = markerJob(ctx.job);
    this.markers = new Markers(conn, this.jobKey, this.sinkId);
    const state = isState(ctx.state) ? ctx.state : undefined;
    this.lastSeq = state?.seq;
    this.emptyFirst = state === undefined && ((config.mode ?? 'insert') === 'replace' || config.onFresh === 'truncate');
    this.pipeline = 2;
    // Raw pages: PostgreSQL's COPY reads them; for SQLite the sink reads them itself (sqlite-raw.ts).
    this.raw =
      conn.dialect.name === 'postgres' || conn.dialect.name === 'sqlite' || conn.dialect.name === 'mysql'
        ? { formats: ['csv'], accepts: (page) => this.acceptsRaw(page), write: (page, info) => this.writeRaw(page, info) }
        : undefined;
    if (info) this.writer = this.makeWriter(info);
  }

  /**
   * Exactly-once: read once what earlier runs committed after the checkpoint (marker, ranges of
   * halved batches, refusals). Then, on a fresh start, what `onFresh` says about a table that
   * already holds rows.
   */
  async start(): Promise<void> {
    if (this.eo) {
      await ensureSystemTables(this.conn);
      await ensureMarkerRow(this.conn, this.jobKey, this.sinkId);
      await this.markers.start(this.lastSeq ?? -1);
      if (this.markers.written) this.emptyFirst = false;
    }
  }

  /** Whether this run starts the table's load over: no checkpoint state and nothing committed by an earlier run. */
  get fresh(): boolean {
    return this.ctx.state === undefined && !this.markers.written;
  }

  private makeWriter(info: TableInfo): BatchWriter {
    const target: WriteTarget = { table: this.table, mode: this.config.mode ?? 'insert', key: this.key, allColumns: info.columns };
    switch (this.conn.dialect.name) {
      case 'postgres':
        return new PgWriter(this.conn, target);
      case 'mysql':
        return new MySqlWriter(this.conn, target);
      case 'sqlite':
        return new SqliteWriter(this.conn, target);
    }
  }

  /**
   * Pipelined: the engine hands over batch N+1 while batch N's write is
   * pending. Each write runs its statements once the write before it has reached its COMMIT (so
   * one batch streams rows while the one before it commits, and the table is created or evolved
   * once), and commits only after every write handed over before it has committed: batches commit
   * in source order, and one whose predecessor failed rolls back (the engine then retries them in
   * order). With the checkpoint in the same database, a batch and its seq marker still commit in
   * one transaction, so a crash leaves exactly the batches up to the marker. SQLite binds batch N+1
   * while its writer thread writes batch N, and sends it once N has committed (write-sqlite.ts).
   */
  write(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult | void> {
    return this.track(info, (commit) => this.statements(records, info, commit));
  }

  /**
   * Raw CSV pages (`SinkInstance.raw`), PostgreSQL, MySQL/MariaDB and SQLite: the page's bytes go
   * to the table with no records made, through `COPY … (FORMAT csv)`, `LOAD DATA LOCAL INFILE`, or
   * for SQLite read by the sink as COPY reads them (sqlite-raw.ts) into the record path's INSERTs.
   * Only for a 1:1 load — see `acceptsRaw`.
   */
  readonly raw: SinkInstance['raw'];
  /** Whether the run was told (once) that rows go in raw. */
  private saidRaw = false;

  /**
   * Whether a raw page goes to the table as it is: the table exists, mode insert or replace (or
   * upsert, through a staging table, when the key's columns are in the page), no
   * `columns:` mapping, and every column of the page is a column of the table that takes text as
   * the records' strings would go (not json: a record's string goes into json as a JSON string).
   * Then COPY sets exactly the columns the records would, to the same text. (SQLite's raw writer
   * checks and converts numeric text as the record path does, and gives up a page it refuses.)
   * MySQL/MariaDB: insert or replace only, while the server takes LOAD DATA LOCAL; its statement
   * converts date-times as the record path does (load-raw-mysql.ts).
   */
  private acceptsRaw(page: RawPage): boolean {
    const info = this.info;
    // A cast page's fields are numbers, booleans and nulls to the reader; COPY would read text.
    if (!info || this.mapping || page.format !== 'csv' || page.cast !== undefined) return false;
    // A name twice: the record keeps the last field's value, COPY would refuse the column list.
    if (new Set(page.columns).size !== page.columns.length) return false;
    if (this.writer instanceof MySqlWriter && !this.writer.takesRaw) return false;
    const mode = this.config.mode ?? 'insert';
    // Upsert: every key column is in the page (else the record path refuses each record).
    if (mode === 'upsert' && (this.key.length === 0 || !this.key.every((k) => page.columns.includes(k)))) return false;
    for (const name of page.columns) {
      const column = info.byName.get(name);
      if (!column || column.kind === 'json') return false;
    }
    return true;
  }

  private writeRaw(page: RawPage, info: WriteInfo): Promise<WriteResult | void> {
    return this.track(info, (commit) => this.rawStatements(page, info, commit));
  }

  /** Runs one write in the sink's order of writes (see `write`). */
  private track(info: WriteInfo, statements: (beforeCommit: () => Promise<void>) => Promise<WriteResult | void>): Promise<WriteResult | void> {
    const earlier = [...this.pending];
    const run = this.writeNow(info, earlier, statements);
    const settled = run.then(
      () => true,
      () => false,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return run;
  }

  private async writeNow(info: WriteInfo, earlier: Array<Promise<boolean>>, statements: (beforeCommit: () => Promise<void>) => Promise<WriteResult | void>): Promise<WriteResult | void> {
    // A retry may follow an attempt the engine gave up on (a timeout) that is still running: let it
    // finish first, so the marker read below sees whether it committed.
    if (info.attempt > 1) await Promise.all(earlier);
    const previousStage = this.stage;
    let release!: () => void;
    this.stage = new Promise<void>((resolve) => (release = resolve));
    try {
      await previousStage;
      const result = await statements(async () => {
        release();
        // The engine retries in order, each batch after the ones before it settled: a retry commits.
        if (info.attempt > 1) return;
        const settled = await Promise.all(earlier);
        // A batch before this one failed (maybe before this one was even handed over) and has not
        // been written since: committing now would put this batch's marker past it, and a resume or
        // its retry would skip it.
        if (settled.some((ok) => !ok) || [...this.failed].some((seq) => seq < info.seq)) {
          throw new TransientError(`sql: a batch before batch ${info.seq} failed to commit; batch ${info.seq} is rolled back and written again after it`);
        }
      });
      this.failed.delete(info.seq);
      // A retry that went through means the engine is past every earlier batch (written, or given up).
      if (info.attempt > 1) for (const seq of this.failed) if (seq < info.seq) this.failed.delete(seq);
      return result;
    } catch (error) {
      this.failed.add(info.seq);
      throw error;
    } finally {
      release();
    }
  }

  /**
   * Whether this write keeps exactly-once markers. `sluice replay` numbers its batches from 0
   * again, at or below the checkpoint's seq, which a normal run never writes: such a run writes
   * without markers and skips nothing (decided at the run's first write).
   */
  private exactlyOnce(info: WriteInfo): boolean {
    this.replay ??= (this.ctx.job as { replay?: boolean }).replay === true || (isState(this.ctx.state) && info.seq <= this.ctx.state.seq);
    return this.eo && !this.replay;
  }

  private async statements(records: SluiceRecord[], info: WriteInfo, beforeCommit: () => Promise<void>): Promise<WriteResult | void> {
    const eo = this.exactlyOnce(info);
    const offset = info.part?.offset ?? 0;
    let marked: MarkedWrite = { kind: 'whole' };
    if (eo) {
      // The failed attempt may have committed (a lost COMMIT reply): ask the database.
      if (info.attempt > 1) await this.refreshMarkers(info.seq);
      marked = this.markers.plan(info.seq, offset, records.length, info.part === undefined);
      if (marked.kind === 'done') {
        this.lastSeq = Math.max(this.lastSeq ?? -1, info.seq);
        return this.result(marked.rejected, info.seq);
      }
    }
    // A part, or a batch some parts of which are committed: only the records no committed range holds.
    const todo = marked.kind === 'part' ? marked.todo : undefined;
    const batch = todo && todo.length < records.length ? todo.map((i) => records[i]!) : records;
    // Only the first transaction of a fresh replace/truncate empties the table (again if it fails).
    const emptying = this.emptyFirst;
    this.emptyFirst = false;
    try {
      const rejected: Rejection[] = [];
      const named = this.shaper.refuseBadNames(batch, rejected, this.info);
      if (!this.info) await this.createTable(named.length === batch.length ? batch : named);
      if (this.config.evolve === 'addColumns') await this.evolve(named);
      const parts = this.shaper.prepare(batch, rejected, this.info!);
      const before: Statement[] = emptying ? [native(this.conn.dialect.name, `delete from ${this.table}`, [])] : [];
      const plan: BatchPlan = {
        parts,
        before,
        after: (refused) => {
          const all = [...rejected, ...refused].sort((a, b) => a.index - b.index);
          return eo ? this.markers.statements(this.conn.dialect.name, info.seq, offset, todo, all) : [];
        },
        beforeCommit,
      };
      const refused = parts.length > 0 || before.length > 0 || eo ? await this.writer!.write(plan) : [];
      if (eo) this.markers.committed(info.seq, offset, todo);
      this.lastSeq = Math.max(this.lastSeq ?? -1, info.seq);
      // By index in `records`: the refusals of this write (of `todo`'s records), and of the records committed before.
      const all = [...rejected, ...refused].map((r) => ({ index: todo ? todo[r.index]! : r.index, error: r.error }));
      if (marked.kind === 'part') all.push(...marked.rejected);
      return this.result(all.sort((a, b) => a.index - b.index), info.seq);
    } catch (error) {
      if (emptying) this.emptyFirst = true;
      throw this.wrap(error);
    }
  }

  /**
   * A raw page's transaction: what `statements` does for a whole batch nothing of which is refused
   * (emptying the table first on a fresh replace, the exactly-once marker), with COPY or LOAD DATA
   * of the bytes (SQLite: the rows the sink read from them).
   * A batch some parts of which an earlier run committed is written record by record (the records
   * outside the committed ranges).
   */
  private async rawStatements(page: RawPage, info: WriteInfo, beforeCommit: () => Promise<void>): Promise<WriteResult | void> {
    const eo = this.exactlyOnce(info);
    if (eo) {
      if (info.attempt > 1) await this.refreshMarkers(info.seq);
      const marked = this.markers.plan(info.seq, 0, page.count, true);
      // Committed by an earlier run with refused rows: a raw write cannot report them (the engine
      // counts every row of a raw page written), so the records go the record path's way, whose
      // `done` returns the refusals to dead-letter and count.
      if (marked.kind === 'done' && marked.rejected.length > 0) {
        throw new PermanentError(`sql: batch ${info.seq} was committed by an earlier run with refused rows; its records report them`);
      }
      if (marked.kind === 'done') {
        this.lastSeq = Math.max(this.lastSeq ?? -1, info.seq);
        return this.result([], info.seq);
      }
      if (marked.kind === 'part') throw new PermanentError(`sql: parts of batch ${info.seq} were committed by an earlier run; the rest is written record by record`);
    }
    const emptying = this.emptyFirst;
    this.emptyFirst = false;
    try {
      const before: Statement[] = emptying ? [native(this.conn.dialect.name, `delete from ${this.table}`, [])] : [];
      const plan = { before, after: () => (eo ? this.markers.statements(this.conn.dialect.name, info.seq, 0, undefined, []) : []), beforeCommit };
      if (this.writer instanceof SqliteWriter || this.writer instanceof MySqlWriter) {
        // The page's columns in its own order: the sink reads its fields one by one (SQLite), or
        // LOAD DATA does (MySQL).
        await this.writer.writeRaw(page, plan, page.columns.map((name) => this.info!.byName.get(name)!));
      } else {
        // The page's columns in table order, as the records' would be (the merge of an upsert names them).
        await (this.writer as PgWriter).writeRaw(page, plan, this.info!.columns.filter((c) => page.columns.includes(c.name)));
      }
      if (eo) this.markers.committed(info.seq, 0, undefined);
      this.lastSeq = Math.max(this.lastSeq ?? -1, info.seq);
      if (!this.saidRaw) {
        this.saidRaw = true;
        const how = this.conn.dialect.name === 'sqlite' ? 'read by the sink' : this.conn.dialect.name === 'mysql' ? 'LOAD DATA LOCAL INFILE' : 'COPY FORMAT csv';
        this.ctx.logger.info(`sql: CSV rows go into ${this.config.table} as they are (${how}, no records made)`, { table: this.config.table });
      }
      return this.result([], info.seq);
    } catch (error) {
      if (emptying) this.emptyFirst = true;
      // Refused data: the engine writes the page's records, which finds the refused rows.
      if (!(error instanceof TransientError) && !(error instanceof PermanentError) && classify(error) === 'data') {
        const who = this.conn.dialect.name === 'sqlite' ? 'SQLite' : this.conn.dialect.name === 'mysql' ? 'LOAD DATA' : 'COPY';
        throw new PermanentError(`sql: ${who} refused a raw page: ${this.conn.scrub(describeError(error))}; the page is written record by record`, { cause: error });
      }
      throw this.wrap(error);
    }
  }

  /** A write's outcome: its refusals, and the state right after this batch (later ones may already be in). */
  private result(rejected: readonly Rejection[], seq: number): WriteResult {
    const out: { rejected?: readonly Rejection[]; state: SqlSinkState } = { state: { seq } };
    if (rejected.length) out.rejected = rejected.map((r) => ({ index: r.index, error: new Error(this.conn.scrub(r.error.message)) }));
    return out;
  }

  private async refreshMarkers(seq: number): Promise<void> {
    try {
      await this.markers.refresh(seq);
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): Error {
    if (error instanceof TransientError || error instanceof PermanentError) return error;
    const message = `sql: writing to ${this.config.table} failed: ${this.conn.scrub(describeError(error))}`;
    // Anything that is not a refusal of the data is retried by the step's policy. A PermanentError
    // (a table that cannot be created) makes the engine halve the batch: its parts commit with their
    // ranges, not the batch's marker (markers.ts).
    return classify(error) === 'transient' ? new TransientError(message, { cause: error }) : new Error(message, { cause: error });
  }

  /** `evolve: addColumns`: adds the columns the batch's (well-named) records need and the table lacks. */
  private async evolve(named: SluiceRecord[]): Promise<void> {
    const info = this.info!;
    const missing = new Set<string>();
    const rows = this.mapping ? named.map((record) => this.mapped(record)) : named;
    for (const row of rows) for (const column in row) if (!info.byName.has(column) && row[column] !== undefined) missing.add(column);
    if (missing.size === 0) return;
    let added: string[];
    try {
      added = await addColumnsFrom(this.conn, this.config.table, rows, missing);
    } catch (error) {
      throw new Error(`sql: cannot add column(s) ${[...missing].map((c) => JSON.stringify(c)).join(', ')} to ${this.config.table}: ${this.conn.scrub(describeError(error))}`, { cause: error });
    }
    if (added.length) this.ctx.logger.info(`sql: added column(s) ${added.join(', ')} to ${this.config.table}`, { table: this.config.table, columns: added });
    const fresh = await describeTable(this.conn, this.config.table);
    if (!fresh) throw new PermanentError(`sql: table ${this.config.table} disappeared`);
    this.info = fresh;
    this.shaper.reset();
    this.writer = this.makeWriter(fresh);
  }

  private mapped(record: SluiceRecord): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const [field, column] of this.mapping!) if (field in record) row[column] = record[field];
    return row;
  }

  private async createTable(records: SluiceRecord[]): Promise<void> {
    const rows = this.mapping ? records.map((record) => this.mapped(record)) : records;
    try {
      if (!(await describeTable(this.conn, this.config.table))) {
        await createTableFrom(this.conn, this.config.table, rows, this.key);
        this.ctx.logger.info(`sql: created table ${this.config.table}`, { table: this.config.table });
      }
    } catch (error) {
      if (!(await describeTable(this.conn, this.config.table))) {
        throw new PermanentError(`sql: cannot create table ${this.config.table}: ${this.conn.scrub(describeError(error))}`, { cause: error });
      }
    }
    const info = await describeTable(this.conn, this.config.table);
    if (!info) throw new PermanentError(`sql: table ${this.config.table} was not created`);
    if ((this.config.mode ?? 'insert') === 'upsert' && this.key.length === 0) this.key = [...info.primaryKey];
    this.info = info;
    this.writer = this.makeWriter(info);
  }

  state(): SqlSinkState | undefined {
    return this.lastSeq === undefined ? undefined : { seq: this.lastSeq };
  }

  async flush(): Promise<void> {
    // Every batch is committed by its own write.
    await Promise.all(this.pending);
  }
}

/** Whether `table` holds at least one row. */
async function holdsRows(conn: SqlConnection, table: string): Promise<boolean> {
  try {
    return rowsOf(await conn.knex.raw(`select 1 as one from ${quote(conn.knex, table)} limit 1`)).length > 0;
  } catch (error) {
    throw new Error(`sql: cannot read table ${table}: ${conn.scrub(describeError(error))}`, { cause: error });
  }
}

/** For `--dry-run`: checks at startup like a real run, writes nothing. */
const dryRunSink: SinkInstance = { async write() {}, state: () => undefined };

/** The `sql` sink: insert, upsert or replace into a table; exactly once with `checkpoint.store: sql` on the same connection. */
export const sqlSink = defineSink({
  name: 'sql',
  description:
    'Writes records into a table (PostgreSQL, MySQL/MariaDB, SQLite): insert, upsert by key, or replace; COPY and multi-row fast paths; exactly once with checkpoint.store: sql on the same connection.',
  schema: sqlSinkSchema,
  rules: [columnsAreDistinct, keyNeedsUpsertOrCreate, createdUpsertNeedsKey, keyIsMapped],
  guarantee: (config, job) => sqlGuarantee(config, job),
  readBack: (config, ctx) => readBackTable(config, ctx),
  async create(config, ctx): Promise<SinkInstance> {
    const conn = await acquireConnection(ctx.connections, config.connection, ctx.job.dir);
    conn.useRetry(ctx.step.retry);
    let info: TableInfo | undefined;
    try {
      info = await describeTable(conn, config.table);
    } catch (error) {
      throw new Error(`sql: cannot read table ${config.table} on connection '${config.connection}': ${conn.scrub(describeError(error))}`, { cause: error });
    }
    if (!info && !config.createTable) {
      throw new Error(`sql: table ${config.table} does not exist on connection '${config.connection}'; create it first, or set createTable: true`);
    }
    const key = keyList(config.key);
    const effectiveKey = key.length === 0 && (config.mode ?? 'insert') === 'upsert' && info ? [...info.primaryKey] : key;
    const problems = checkTable(config, info, effectiveKey, conn.dialect.name);
    if (problems.length) throw new Error(`sql: ${problems.join('; ')}`);
    const mode = config.mode ?? 'insert';
    const onFresh = config.onFresh ?? (mode === 'upsert' ? 'append' : 'refuse');
    if (config.onFresh === 'truncate' && ctx.job.partition !== undefined) {
      throw new StartupRefusal(
        `sql: onFresh: truncate cannot run in a distributed run (each partition would empty ${config.table} under the others); empty the table before the run, or set onFresh: append`,
      );
    }
    if (ctx.job.dryRun) return dryRunSink;
    const sink = new SqlSink(conn, { ...config, key: effectiveKey }, ctx, exactlyOnce(ctx, config.connection), info);
    try {
      await sink.start();
    } catch (error) {
      throw new Error(`sql: cannot read the sink's marker on connection '${config.connection}': ${conn.scrub(describeError(error))}`, { cause: error });
    }
    // A fresh start into a table that holds rows: doubling them (insert) must be asked for. In a
    // distributed run the other partitions' rows are expected, so partitions do not check.
    if (mode !== 'replace' && onFresh === 'refuse' && info && sink.fresh && ctx.job.partition === undefined && (await holdsRows(conn, config.table))) {
      throw new StartupRefusal(
        `sql: table ${config.table} already holds rows and this run starts fresh (no checkpoint), so mode ${mode} would add them again; ` +
          'set onFresh: truncate (empty it first), onFresh: append (keep them and add), or mode: replace',
      );
    }
    return sink;
  },
});
