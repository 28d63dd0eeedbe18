import { defineSource, type ConfigOf, type PluginContext, type ReadOptions, type RuleViolation, type SourceInstance, type SourcePage } from '@sluice/core';
import type { Knex } from 'knex';
import { acquireConnection, type SqlConnection } from './connection.js';
import { bindValue, fromCursorValue, recordValue, toCursorValue, type ColumnKind, type TableInfo } from './dialect.js';
import { describeError } from './errors.js';
import { DEFAULT_POLICY, withRetry } from './retry.js';
import { describeTable, keyProblem, missingColumn, rowsOf } from './introspect.js';

/** JSON Schema of the sql source's `with`. */
export const sqlSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connection'],
  properties: {
    connection: {
      type: 'string',
      minLength: 1,
      description: "Name of an entry of the job's connections: (client pg, mysql2 or better-sqlite3).",
      examples: ['warehouse'],
    },
    table: {
      type: 'string',
      minLength: 1,
      description: 'Table (or view) to read, optionally schema-qualified. Either table or query.',
      examples: ['users', 'public.orders'],
    },
    columns: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      description: 'With table: the columns to read (default all). Key columns are read for the cursor either way.',
      examples: [['id', 'email', 'created_at']],
    },
    where: {
      type: 'string',
      minLength: 1,
      description: 'With table: an SQL condition the rows must meet (SQL text written by you, not a template).',
      examples: ["status = 'active'", 'created_at >= current_date - 7'],
    },
    query: {
      type: 'string',
      minLength: 1,
      description: 'A SELECT to read instead of a table; it is paged as a subquery by key, which must be among its columns.',
      examples: ['select o.id, o.total, c.email from orders o join customers c on c.id = o.customer_id'],
    },
    key: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      ],
      description:
        'Column(s) rows are read in order of, page after page (keyset pagination: never OFFSET); together unique and never null. Default: the primary key. Required with query.',
      examples: ['id', ['created_at', 'id']],
    },
  },
} as const;

/** The sql source's `with` as `create` gets it: validated, defaults filled in. */
type Config = ConfigOf<typeof sqlSourceSchema>;

/** Where a resume continues: after the row with this key. */
export interface SqlCursor {
  readonly after: unknown[];
}

/**
 * A partition of a sql source (distributed runs): the rows whose first key column is `>= from`
 * and `< to`. The first partition has no `from`, the last no `to` (rows added above the highest
 * key after the split are still read); `{}` is every row.
 */
export interface SqlPartition {
  readonly from?: unknown;
  readonly to?: unknown;
}

function partitionOf(value: unknown): SqlPartition {
  if (value === undefined || value === null) return {};
  const ok =
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).every((k) => k === 'from' || k === 'to') &&
    Object.values(value).every((v) => v !== null && v !== undefined);
  if (!ok) throw new Error(`sql: ${JSON.stringify(value)} is not a partition of a sql source ({ from?, to? })`);
  return value as SqlPartition;
}

/** A read that fails at its first page (the engine reports it as the source's failure). */
// eslint-disable-next-line require-yield
async function* failing(error: unknown): AsyncGenerator<SourcePage> {
  throw error;
}

/** Rule: read a table or a query, not both. */
export function tableOrQuery(config: Config): RuleViolation | undefined {
  if (config.table !== undefined && config.query !== undefined) return { path: 'query', message: 'set table or query, not both' };
  if (config.table === undefined && config.query === undefined) return { path: '', message: 'set table (with optional columns and where) or query', hint: 'table: users' };
  return undefined;
}

/** Rule: a query has no primary key to page by. */
export function queryNeedsKey(config: Config): RuleViolation | undefined {
  if (config.query === undefined || config.key !== undefined) return undefined;
  return { path: 'key', message: 'a query needs key: the column(s) of its result to page by (unique, not null)', hint: 'key: id' };
}

/** Rule: columns and where shape a table read; a query says it itself. */
export function tableOptionsNeedTable(config: Config): RuleViolation[] {
  if (config.query === undefined) return [];
  const out: RuleViolation[] = [];
  if (config.columns !== undefined) out.push({ path: 'columns', message: 'columns go with table; with query, select the columns in the query' });
  if (config.where !== undefined) out.push({ path: 'where', message: 'where goes with table; with query, put the condition in the query' });
  return out;
}

const keyList = (key: Config['key']): string[] => (key === undefined ? [] : typeof key === 'string' ? [key] : [...key]);

function isCursor(value: unknown, width: number): value is SqlCursor {
  return !!value && typeof value === 'object' && Array.isArray((value as SqlCursor).after) && (value as SqlCursor).after.length === width;
}

/**
 * Reads a table or query in key order, one page (`batchSize` rows) per query: `WHERE (key) > (last
 * key of the previous page) ORDER BY key LIMIT n`. Memory holds one page; the cursor is the last key.
 */
class KeysetReader implements SourceInstance {
  constructor(
    private readonly conn: SqlConnection,
    private readonly config: Config,
    private readonly key: string[],
    /** Columns selected (undefined: all); key columns not among `columns` are selected and dropped. */
    private readonly select: string[] | undefined,
    private readonly drop: string[],
    private readonly kinds: ReadonlyMap<string, ColumnKind>,
    private readonly ctx: PluginContext,
  ) {}

  /** `table orders` or `the query`, for messages. */
  private get what(): string {
    return this.config.table !== undefined ? this.config.table : 'the query';
  }

  private from(knex: Knex, range: SqlPartition = {}): Knex.QueryBuilder {
    const base = this.config.table !== undefined ? knex.from(this.config.table) : knex.from(knex.raw(`(${this.config.query}) as sluice_q`));
    if (this.config.where !== undefined) base.whereRaw(`(${this.config.where})`);
    const first = this.key[0]!;
    if (range.from !== undefined) base.where(first, '>=', this.bind(first, range.from) as never);
    if (range.to !== undefined) base.where(first, '<', this.bind(first, range.to) as never);
    return base;
  }

  private bind(column: string, value: unknown): unknown {
    return bindValue(this.conn.dialect.name, this.kinds.get(column) ?? 'other', value);
  }

  private page(after: unknown[] | undefined, limit: number, range: SqlPartition): Knex.QueryBuilder {
    const { knex, dialect } = this.conn;
    const q = this.from(knex, range).select(this.select ?? '*');
    if (after) {
      const values = after.map((v, i) => bindValue(dialect.name, this.kinds.get(this.key[i]!) ?? 'other', v));
      if (dialect.rowValues && this.key.length > 1) {
        q.whereRaw(`(${this.key.map(() => '??').join(', ')}) > (${this.key.map(() => '?').join(', ')})`, [...this.key, ...values] as never[]);
      } else {
        // (a > ?) or (a = ? and b > ?) or …: what MySQL's range optimiser turns into index ranges.
        q.where((w) => {
          for (let i = 0; i < this.key.length; i++) {
            w.orWhere((and) => {
              for (let j = 0; j < i; j++) and.where(this.key[j]!, '=', values[j] as never);
              and.where(this.key[i]!, '>', values[i] as never);
            });
          }
        });
      }
    }
    return q.orderBy(this.key.map((column) => ({ column, order: 'asc' }))).limit(limit);
  }

  read(options: ReadOptions): AsyncGenerator<SourcePage> {
    let range: SqlPartition;
    try {
      range = partitionOf(options.partition);
    } catch (error) {
      return failing(error);
    }
    return this.pages(options, range);
  }

  private async *pages(options: ReadOptions, range: SqlPartition): AsyncGenerator<SourcePage> {
    let after = isCursor(options.cursor, this.key.length) ? options.cursor.after.map(fromCursorValue) : undefined;
    if (options.cursor !== undefined && options.cursor !== null && !after) {
      throw new Error(`sql: the checkpoint's cursor ${JSON.stringify(options.cursor)} does not fit key (${this.key.join(', ')}); run with --fresh`);
    }
    const limit = Math.max(1, options.batchSize);
    const retry = {
      policy: this.ctx.step.retry ?? DEFAULT_POLICY,
      clock: this.ctx.clock,
      logger: this.ctx.logger,
      signal: options.signal,
      what: `sql: reading ${this.what} on connection '${this.conn.name}'`,
      scrub: (text: string) => this.conn.scrub(text),
    };
    for (;;) {
      if (options.signal.aborted) return;
      // One row more than the page: if it has the last row's key, the key has ties and the next
      // page (`key > last`) would skip rows.
      const fetched = rowsOf(await withRetry(retry, async () => this.page(after, limit + 1, range)));
      const rows = fetched.length > limit ? fetched.slice(0, limit) : fetched;
      if (rows.length === 0) return;
      const records = rows.map((row) => this.toRecord(row));
      const last = rows[rows.length - 1]!;
      after = this.key.map((k) => recordValue(last[k], this.kinds.get(k)));
      if (after.some((v) => v === null)) {
        throw new Error(`sql: a row has a NULL in key column(s) ${this.key.join(', ')}; keyset pagination needs a key that is never null`);
      }
      if (fetched.length > limit) {
        const next = this.key.map((k) => recordValue(fetched[limit]![k], this.kinds.get(k)));
        if (JSON.stringify(next.map(toCursorValue)) === JSON.stringify(after.map(toCursorValue))) {
          throw new Error(
            `sql: key (${this.key.join(', ')}) of ${this.what} is not unique: two rows have (${after.map((v) => (typeof v === 'bigint' ? v.toString() : JSON.stringify(v))).join(', ')}), and keyset pagination would skip rows; add a column that makes it unique (e.g. key: [${[...this.key, 'id'].join(', ')}])`,
          );
        }
      }
      const positions = rows.map((row) => ({ key: Object.fromEntries(this.key.map((k) => [k, toCursorValue(recordValue(row[k], this.kinds.get(k)))])) }));
      yield { records, cursor: { after: after.map(toCursorValue) } satisfies SqlCursor, positions };
      if (fetched.length <= limit) return;
    }
  }

  private toRecord(row: Record<string, unknown>): Record<string, unknown> {
    const record: Record<string, unknown> = {};
    for (const column in row) record[column] = recordValue(row[column], this.kinds.get(column));
    for (const column of this.drop) delete record[column];
    return record;
  }

  async estimate(partition?: unknown): Promise<{ total: number; unit: 'records' } | undefined> {
    const n = await this.count(partitionOf(partition));
    return Number.isFinite(n) ? { total: n, unit: 'records' } : undefined;
  }

  private async count(range: SqlPartition): Promise<number> {
    const rows = rowsOf(await this.from(this.conn.knex, range).count({ n: '*' }));
    return Number(rows[0]?.n);
  }

  /**
   * Splits the rows into at most `n` ranges of the first key column with about the same number of
   * rows each: boundary k is the first-key value `count / n` rows past boundary k - 1, found by
   * `ORDER BY key LIMIT 1 OFFSET …` from the previous boundary (so the index is walked once). Rows
   * with equal first keys stay in one partition, so keyset pagination inside it stays exact.
   */
  async partitions(n: number): Promise<SqlPartition[]> {
    const wanted = Math.floor(n);
    if (!(wanted > 1)) return [{}];
    const first = this.key[0]!;
    const kind = this.kinds.get(first);
    let rows: number;
    const bounds: unknown[] = [];
    try {
      rows = await this.count({});
      if (!(rows > 0)) return [{}];
      const step = Math.ceil(rows / wanted);
      for (let k = 1; k < wanted; k++) {
        const q = this.from(this.conn.knex).select(first).orderBy(first).limit(1);
        if (bounds.length === 0) q.offset(step);
        else {
          q.where(first, '>', this.bind(first, bounds[bounds.length - 1]) as never);
          if (step > 1) q.offset(step - 1);
        }
        const found = rowsOf(await q);
        if (found.length === 0) break;
        const value = recordValue(found[0]![first], kind);
        if (value === null) throw new Error(`a row has a NULL in key column ${first}; keyset pagination needs a key that is never null`);
        bounds.push(value);
      }
    } catch (error) {
      throw new Error(`sql: splitting ${this.config.table ?? 'the query'} by ${first} failed: ${this.conn.scrub(describeError(error))}`, { cause: error });
    }
    return Array.from({ length: bounds.length + 1 }, (_, i) => ({
      ...(i > 0 ? { from: bounds[i - 1] } : {}),
      ...(i < bounds.length ? { to: bounds[i] } : {}),
    }));
  }
}

/** Column names (and SQLite's declared types) of a query's result, from a run that returns no rows. */
async function queryColumns(conn: SqlConnection, query: string): Promise<Map<string, ColumnKind>> {
  const sql = `select * from (${query}) as sluice_q where 1 = 0`;
  const kinds = new Map<string, ColumnKind>();
  if (conn.dialect.name === 'sqlite') {
    await conn.withRaw(async (raw) => {
      const columns = (raw as { prepare(s: string): { columns(): Array<{ name: string; type: string | null }> } }).prepare(sql).columns();
      for (const c of columns) kinds.set(c.name, conn.dialect.kindOf(c.type ?? ''));
    });
    return kinds;
  }
  const result = (await conn.knex.raw(sql)) as unknown;
  const fields = conn.dialect.name === 'postgres' ? (result as { fields: Array<{ name: string }> }).fields : ((result as unknown[])[1] as Array<{ name: string }>);
  for (const f of fields ?? []) kinds.set(f.name, 'other');
  return kinds;
}

/** The `sql` source: a table or query in key order, resumable after the last key read. */
export const sqlSource = defineSource({
  name: 'sql',
  description: 'Reads a table or query (PostgreSQL, MySQL/MariaDB, SQLite) in key order by keyset pagination; resumes after the last key read.',
  schema: sqlSourceSchema,
  rules: [tableOrQuery, queryNeedsKey, tableOptionsNeedTable],
  async create(config, ctx): Promise<SourceInstance> {
    const conn = await acquireConnection(ctx.connections, config.connection, ctx.job.dir);
    let key = keyList(config.key);
    const kinds = new Map<string, ColumnKind>();
    let select: string[] | undefined;
    const drop: string[] = [];
    if (config.table !== undefined) {
      let info: TableInfo | undefined;
      try {
        info = await describeTable(conn, config.table);
      } catch (error) {
        throw new Error(`sql: cannot read table ${config.table} on connection '${config.connection}': ${conn.scrub(describeError(error))}`, { cause: error });
      }
      if (!info) throw new Error(`sql: table ${config.table} does not exist on connection '${config.connection}'`);
      for (const c of info.columns) kinds.set(c.name, c.kind);
      if (key.length === 0) {
        key = [...info.primaryKey];
        if (key.length === 0) throw new Error(`sql: table ${config.table} has no primary key; set key: the column(s) to read in order of (unique, not null)`);
      }
      const problems = [...(config.columns ?? []).filter((c) => !info.byName.has(c)).map((c) => `${missingColumn(c, info)} (columns)`), ...key.filter((k) => !info.byName.has(k)).map((k) => `${missingColumn(k, info)} (key)`)];
      if (problems.length) throw new Error(`sql: ${problems.join('; ')}`);
      const unsound = keyProblem(info, key);
      if (unsound) throw new Error(`sql: ${unsound}`);
      if (config.columns) {
        select = [...config.columns];
        for (const k of key) {
          if (!select.includes(k)) {
            select.push(k);
            drop.push(k);
          }
        }
      }
      if (config.where !== undefined) {
        try {
          await conn.knex.from(config.table).whereRaw(`(${config.where})`).select(key).limit(0);
        } catch (error) {
          throw new Error(`sql: where is not a valid condition on ${config.table}: ${conn.scrub(describeError(error))}`, { cause: error });
        }
      }
    } else {
      let columns: Map<string, ColumnKind>;
      try {
        columns = await queryColumns(conn, config.query!);
      } catch (error) {
        throw new Error(`sql: query failed: ${conn.scrub(describeError(error))}`, { cause: error });
      }
      const missing = key.filter((k) => !columns.has(k));
      if (missing.length) throw new Error(`sql: key column(s) ${missing.join(', ')} are not among the query's columns (${[...columns.keys()].join(', ')})`);
      for (const [name, kind] of columns) if (kind !== 'other') kinds.set(name, kind);
    }
    conn.useRetry(ctx.step.retry);
    return new KeysetReader(conn, config, key, select, drop, kinds, ctx);
  },
});
