import {
  defineSink,
  PermanentError,
  TransientError,
  type PluginContext,
  type RuleViolation,
  type SinkInstance,
  type SluiceRecord,
  type WriteInfo,
  type WriteResult,
} from '@sluice/core';
import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import { acquireConnection, type SqlConnection } from './connection.js';
import { createTableFrom } from './create-table.js';
import { quote, type ColumnInfo, type TableInfo } from './dialect.js';
import { classify, describeError } from './errors.js';
import { describeTable, hasUniqueKey, missingColumn } from './introspect.js';
import { ensureSystemTables, markerStatements, native, readMarker, readRejects, type Statement } from './system.js';
import { MySqlWriter } from './write-mysql.js';
import { PgWriter } from './write-pg.js';
import { SqliteWriter } from './write-sqlite.js';

const keySchema = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
} as const;

/** JSON Schema of the sql sink's `with`. */
export const sqlSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connection', 'table'],
  properties: {
    connection: {
      type: 'string',
      minLength: 1,
      description: 'Name of an entry of the job\'s connections: (client pg, mysql2 or better-sqlite3).',
      examples: ['warehouse'],
    },
    table: {
      type: 'string',
      minLength: 1,
      description: 'Table to write, optionally schema-qualified (public.users). It must exist unless createTable is true.',
      examples: ['users', 'analytics.events'],
    },
    mode: {
      type: 'string',
      enum: ['insert', 'upsert', 'replace'],
      default: 'insert',
      description:
        'insert: add rows. upsert: insert, or update the row with the same key (needs a unique index on key). replace: a fresh run (no checkpoint) first deletes every row of the table, in the same transaction as its first batch; then inserts.',
      examples: ['insert', 'upsert'],
    },
    key: {
      ...keySchema,
      description:
        'upsert: the column(s) that identify a row; they need a primary key or unique index. Default: the primary key. With createTable, the new table\'s primary key.',
      examples: ['id', ['tenant_id', 'id']],
    },
    columns: {
      anyOf: [
        { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, minProperties: 1 },
      ],
      description:
        'Which record fields to write: a list of fields (columns of the same name), or a map field → column. Other fields are left out. Default: every field, each into the column of its name.',
      examples: [['id', 'email'], { id: 'user_id', mail: 'email' }],
    },
    createTable: {
      type: 'boolean',
      default: false,
      description:
        'Create the table when it is missing, from the first batch: one column per field, typed from its values (integer, float, boolean, text, timestamp with zone, JSON), key as primary key.',
      examples: [true],
    },
    ignoreUnknown: {
      type: 'boolean',
      default: false,
      description: 'Leave out record fields the table has no column for, instead of refusing the record.',
      examples: [true],
    },
  },
} as const;

type Mode = 'insert' | 'upsert' | 'replace';
interface Config {
  connection: string;
  table: string;
  mode?: Mode;
  key?: string | readonly string[];
  columns?: readonly string[] | Readonly<Record<string, string>>;
  createTable?: boolean;
  ignoreUnknown?: boolean;
}

/** What the sink saves with each checkpoint: the seq of the last batch it committed. */
export interface SqlSinkState {
  readonly seq: number;
}

const keyList = (key: Config['key']): string[] => (key === undefined ? [] : typeof key === 'string' ? [key] : [...key]);

/** Field → column pairs, or undefined for "every field into the column of its name". */
function mappingOf(columns: Config['columns']): Array<[string, string]> | undefined {
  if (columns === undefined) return undefined;
  return Array.isArray(columns) ? columns.map((c: string) => [c, c]) : Object.entries(columns as Record<string, string>);
}

/** Rule: two fields cannot go into one column. */
export function columnsAreDistinct(config: Config): RuleViolation | undefined {
  const mapping = mappingOf(config.columns);
  if (!mapping) return undefined;
  const seen = new Map<string, string>();
  for (const [field, column] of mapping) {
    const other = seen.get(column);
    if (other !== undefined) return { path: `columns.${field}`, message: `fields '${other}' and '${field}' both go to column '${column}'`, hint: 'map each field to its own column' };
    seen.set(column, field);
  }
  return undefined;
}

/** Rule: key means something for upsert (and as the primary key of a created table) only. */
export function keyNeedsUpsertOrCreate(config: Config): RuleViolation | undefined {
  if (config.key === undefined || (config.mode ?? 'insert') === 'upsert' || config.createTable) return undefined;
  return { path: 'key', message: `key is used by mode upsert (or as the primary key with createTable); this sink's mode is ${config.mode ?? 'insert'}`, hint: 'set mode: upsert, or remove key' };
}

/** Rule: a created table for upsert needs its key. */
export function createdUpsertNeedsKey(config: Config): RuleViolation | undefined {
  if (config.mode !== 'upsert' || !config.createTable || config.key !== undefined) return undefined;
  return { path: 'key', message: 'createTable with mode upsert needs key: the primary key of the table it creates', hint: 'add key: [id]' };
}

/** Rule: the mapped columns include the key. */
export function keyIsMapped(config: Config): RuleViolation | undefined {
  const mapping = mappingOf(config.columns);
  if (!mapping) return undefined;
  const targets = new Set(mapping.map(([, column]) => column));
  const missing = keyList(config.key).filter((k) => !targets.has(k));
  return missing.length ? { path: 'key', message: `key column(s) ${missing.join(', ')} are not among the columns written`, hint: 'add them to columns' } : undefined;
}

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

/** The columns a record fills, and from which of its fields. */
interface Shape {
  /** Same id, same columns: such records share one statement. */
  readonly id: string;
  readonly columns: readonly ColumnInfo[];
  readonly fields: readonly string[];
  /** Why records of this shape are refused (a field with no column). */
  readonly problem?: string;
}

const isState = (s: unknown): s is SqlSinkState => !!s && typeof s === 'object' && Number.isInteger((s as { seq?: unknown }).seq);

/**
 * Writes batches into a table, one transaction per batch. With the checkpoint in the same
 * database (`checkpoint: { store: sql, connection: <this connection> }`) each transaction also
 * upserts the sink's marker `(job, sink) → seq` (job `name.pN` for partition N of a distributed
 * run); a batch whose seq is at or below the marker was committed by a run that died before its
 * checkpoint, and is skipped — exactly once.
 */
class SqlSink implements SinkInstance {
  private info: TableInfo | undefined;
  private readonly mapping: Array<[string, string]> | undefined;
  private key: string[];
  private writer: BatchWriter | undefined;
  /** The last seq known committed (exactly-once mode). */
  private marker: number | undefined;
  /** Refusals of committed batches after the checkpoint, for batches a resume skips. */
  private rejects = new Map<number, Rejection[]>();
  /** Fresh replace run: the first transaction empties the table. */
  private emptyFirst: boolean;
  private lastSeq: number | undefined;
  private readonly shapes = new Map<string, Shape>();
  /** Set at the first write: whether this run is a `sluice replay`. */
  private replay: boolean | undefined;
  /** Writes one at a time, even when the engine gives up on a slow attempt and retries. */
  private chain: Promise<unknown> = Promise.resolve();
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
    this.key = keyList(config.key);
    this.table = quote(conn.knex, config.table);
    this.sinkId = ctx.step.id;
    this.jobKey = markerJob(ctx.job);
    const state = isState(ctx.state) ? ctx.state : undefined;
    this.lastSeq = state?.seq;
    this.emptyFirst = (config.mode ?? 'insert') === 'replace' && state === undefined;
    if (info) this.writer = this.makeWriter(info);
  }

  /** Exactly-once: read the marker once, and the refusals of batches a resume will skip. */
  async start(): Promise<void> {
    if (!this.eo) return;
    await ensureSystemTables(this.conn);
    this.marker = await readMarker(this.conn, this.jobKey, this.sinkId);
    if (this.marker !== undefined) {
      this.emptyFirst = false;
      this.rejects = await readRejects(this.conn, this.jobKey, this.sinkId, this.lastSeq ?? -1);
    }
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

  write(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult | void> {
    const run = this.chain.then(
      () => this.writeNow(records, info),
      () => this.writeNow(records, info),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async writeNow(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult | void> {
    // `sluice replay` numbers its batches from 0 again, at or below the checkpoint's seq, which a
    // normal run never writes: such a run writes without markers and skips nothing.
    if (this.replay === undefined) {
      this.replay = (this.ctx.job as { replay?: boolean }).replay === true || (isState(this.ctx.state) && info.seq <= this.ctx.state.seq);
    }
    const eo = this.eo && !this.replay;
    if (eo && info.attempt > 1) {
      // The failed attempt may have committed (a lost COMMIT reply): ask the database.
      this.marker = await this.readMarkerAgain();
    }
    if (eo && this.marker !== undefined && info.seq <= this.marker) {
      this.lastSeq = Math.max(this.lastSeq ?? -1, info.seq);
      const rejected = this.rejects.get(info.seq);
      return rejected?.length ? { rejected } : undefined;
    }
    try {
      if (!this.info) await this.createTable(records);
      const rejected: Rejection[] = [];
      const parts = this.prepare(records, rejected);
      const before: Statement[] = this.emptyFirst ? [native(this.conn.dialect.name, `delete from ${this.table}`, [])] : [];
      const plan: BatchPlan = {
        parts,
        before,
        after: (refused) => {
          const all = [...rejected, ...refused].sort((a, b) => a.index - b.index);
          return eo ? markerStatements(this.conn.dialect.name, this.jobKey, this.sinkId, info.seq, all) : [];
        },
      };
      const refused = parts.length > 0 || before.length > 0 || eo ? await this.writer!.write(plan) : [];
      this.emptyFirst = false;
      if (eo) this.marker = info.seq;
      this.lastSeq = info.seq;
      const all = [...rejected, ...refused].sort((a, b) => a.index - b.index);
      return all.length ? { rejected: all.map((r) => ({ index: r.index, error: new Error(this.conn.scrub(r.error.message)) })) } : undefined;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private async readMarkerAgain(): Promise<number | undefined> {
    try {
      return await readMarker(this.conn, this.jobKey, this.sinkId);
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): Error {
    if (error instanceof TransientError || error instanceof PermanentError) return error;
    const message = `sql: writing to ${this.config.table} failed: ${this.conn.scrub(describeError(error))}`;
    // Anything that is not a refusal of the data is retried by the step's policy; a whole batch is
    // never split by the engine, so a batch and its marker always commit together.
    return classify(error) === 'transient' ? new TransientError(message, { cause: error }) : new Error(message, { cause: error });
  }

  /**
   * Records → runs of rows with the same columns; a record with a field the table lacks is refused
   * here, before the database sees it.
   */
  private prepare(records: SluiceRecord[], rejected: Rejection[]): PreparedBatch[] {
    const parts: PreparedBatch[] = [];
    let current: Shape | undefined;
    let part: { columns: readonly ColumnInfo[]; rows: unknown[][]; index: number[] } | undefined;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const shape = this.shapeOf(record);
      if (shape.problem !== undefined) {
        rejected.push({ index: i, error: new Error(shape.problem) });
        continue;
      }
      if (!part || shape.id !== current!.id) {
        current = shape;
        part = { columns: shape.columns, rows: [], index: [] };
        parts.push(part);
      }
      const row = new Array<unknown>(shape.fields.length);
      for (let k = 0; k < shape.fields.length; k++) row[k] = record[shape.fields[k]!];
      part.rows.push(row);
      part.index.push(i);
    }
    return parts;
  }

  /** Which columns a record fills (cached by its field names): records with the same fields share one. */
  private shapeOf(record: SluiceRecord): Shape {
    const names = this.mapping ? this.mapping.filter(([field]) => record[field] !== undefined).map(([field]) => field) : Object.keys(record);
    const cacheKey = names.join('\u0000');
    let shape = this.shapes.get(cacheKey);
    if (shape) return shape;
    const info = this.info!;
    const byColumn = new Map<string, string>();
    let problem: string | undefined;
    for (const field of names) {
      const column = this.mapping ? this.mapping.find(([f]) => f === field)![1] : field;
      if (!info.byName.has(column)) {
        if (this.mapping || !this.config.ignoreUnknown) {
          problem ??= `${missingColumn(column, info)}; map fields with columns:, or set ignoreUnknown: true`;
        }
        continue;
      }
      byColumn.set(column, field);
    }
    if (problem === undefined && byColumn.size === 0) problem = `the record has no field for any column of table ${info.name}`;
    const columns = info.columns.filter((c) => byColumn.has(c.name));
    shape = { id: columns.map((c) => c.name).join('\u0000'), columns, fields: columns.map((c) => byColumn.get(c.name)!), problem };
    if (this.shapes.size > 1000) this.shapes.clear();
    this.shapes.set(cacheKey, shape);
    return shape;
  }

  private async createTable(records: SluiceRecord[]): Promise<void> {
    const rows = records.map((record) => {
      if (!this.mapping) return record;
      const row: Record<string, unknown> = {};
      for (const [field, column] of this.mapping) if (field in record) row[column] = record[field];
      return row;
    });
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
    await this.chain;
  }
}

/** Checks the table against the config at startup: it exists (or will be created), and every named column does. */
function checkTable(config: Config, info: TableInfo | undefined, key: string[]): string[] {
  const problems: string[] = [];
  if (!info) return problems;
  for (const [field, column] of mappingOf(config.columns) ?? []) {
    if (!info.byName.has(column)) problems.push(`${missingColumn(column, info)} (columns.${field})`);
  }
  for (const k of key) if (!info.byName.has(k)) problems.push(`${missingColumn(k, info)} (key)`);
  if ((config.mode ?? 'insert') === 'upsert' && problems.length === 0) {
    if (key.length === 0) problems.push(`table ${info.name} has no primary key; set key: the column(s) that identify a row (with a unique index)`);
    else if (!hasUniqueKey(info, key)) {
      problems.push(`upsert key (${key.join(', ')}) of table ${info.name} has no primary key or unique index on exactly these columns; add one, e.g. create unique index on ${info.name} (${key.join(', ')})`);
    }
  }
  return problems;
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
  async create(rawConfig, ctx): Promise<SinkInstance> {
    const config = rawConfig as Config;
    const conn = await acquireConnection(ctx.connections, config.connection, ctx.job.dir);
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
    const problems = checkTable(config, info, effectiveKey);
    if (problems.length) throw new Error(`sql: ${problems.join('; ')}`);
    if (ctx.job.dryRun) return dryRunSink;
    const sink = new SqlSink(conn, { ...config, key: effectiveKey }, ctx, exactlyOnce(ctx, config.connection), info);
    try {
      await sink.start();
    } catch (error) {
      throw new Error(`sql: cannot read the sink's marker on connection '${config.connection}': ${conn.scrub(describeError(error))}`, { cause: error });
    }
    return sink;
  },
});
