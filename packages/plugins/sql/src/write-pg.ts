import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { PermanentError, type RawPage } from '@sluice/core';
import type { BatchPlan, BatchWriter, PreparedBatch, Rejection, WriteTarget } from './batch.js';
import type { SqlConnection } from './connection.js';
import { copyChunks } from './copy-text.js';
import { quoteColumn, type ColumnInfo } from './dialect.js';
import { classify, describeError } from './errors.js';
import { mergeFits, PgUpsert } from './upsert-pg.js';

interface PgClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>>; rowCount?: number | null }>;
  query<T>(stream: T): T;
}

type CopyFrom = (sql: string) => NodeJS.WritableStream;

export { copyField } from './copy-text.js';

/** The 1-based line of COPY data a PostgreSQL error names (`COPY users, line 5, column id: …`). */
function copyLine(error: unknown): number | undefined {
  const where = (error as { where?: unknown }).where;
  const m = typeof where === 'string' ? /COPY [^,]+, line (\d+)/.exec(where) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * PostgreSQL: insert/replace stream the batch with `COPY … FROM STDIN`; upsert copies it into a
 * temporary staging table, then merges it into the table (`MERGE` where it fits, else
 * `INSERT … ON CONFLICT`: upsert-pg.ts). When the data is refused, the batch is written again with
 * each step under a savepoint: a refused row is found from COPY's line number (or by halving the
 * upsert's `INSERT … ON CONFLICT`), dropped with the database's message, and the rest written
 * again — all inside the batch's one transaction, which also carries the exactly-once marker.
 */
export class PgWriter implements BatchWriter {
  /** Staging tables known to exist, per pooled client (they are temporary: one per session). */
  private readonly staged = new WeakMap<object, Set<string>>();
  private copyFrom: CopyFrom | undefined;
  private readonly upsert: PgUpsert;
  /** Whether MERGE may merge a whole stage (`mergeFits`), learned at the first upsert. */
  private mergeFits: boolean | undefined;

  constructor(
    private readonly conn: SqlConnection,
    private readonly target: WriteTarget,
  ) {
    this.upsert = new PgUpsert(target);
  }

  private get knex(): Knex {
    return this.conn.knex;
  }

  /** pg-copy-streams, loaded at the first write: a job that never writes to PostgreSQL does not load it. */
  private async loadCopyFrom(): Promise<void> {
    if (this.copyFrom) return;
    const module = (await import('pg-copy-streams')) as unknown as { from: CopyFrom; default?: { from: CopyFrom } };
    this.copyFrom = module.from ?? module.default!.from;
  }

  async write(plan: BatchPlan): Promise<Rejection[]> {
    await this.loadCopyFrom();
    return this.conn.withRaw(async (raw) => {
      const client = raw as PgClient;
      let rejected: Rejection[] = [];
      let stage: string | undefined;
      /**
       * One transaction for the batch. First without savepoints (two round trips fewer per batch);
       * when the data is refused, again from the start, isolating the refused rows under savepoints.
       */
      const transaction = async (isolate: boolean) => {
        await client.query('begin');
        try {
          for (const s of plan.before) await client.query(s.sql, s.params);
          for (const [i, part] of plan.parts.entries()) {
            const all = part.records.map((_, p) => p);
            if (this.target.mode === 'upsert') {
              stage ??= await this.ensureStage(client);
              if (isolate) {
                const copied = await this.copyIsolated(client, part, all, stage, rejected);
                if (copied.length) await this.mergeIsolated(client, part, copied, stage, copied.length === all.length, rejected);
              } else {
                await this.copy(client, part, all, stage);
                await this.mergeWhole(client, part.columns, stage);
              }
              if (i < plan.parts.length - 1) await client.query(`delete from ${stage}`);
            } else if (isolate) {
              await this.copyIsolated(client, part, all, undefined, rejected);
            } else {
              await this.copy(client, part, all, undefined);
            }
          }
          rejected.sort((a, b) => a.index - b.index);
          for (const s of plan.after(rejected)) {
            const done = await client.query(s.sql, s.params);
            if (s.fence && done.rowCount !== 1) throw s.fence();
          }
          await plan.beforeCommit?.();
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          // A staging table made in this transaction went with it.
          if (stage) this.staged.get(client as object)?.delete(stage);
          stage = undefined;
          throw error;
        }
      };
      try {
        // One COPY is atomic by itself: a batch of one shape with nothing else to commit with it
        // (no marker, no emptying, no merge) needs no BEGIN and COMMIT of its own.
        if (this.target.mode !== 'upsert' && plan.parts.length === 1 && plan.before.length === 0 && plan.after([]).length === 0) {
          const part = plan.parts[0]!;
          await this.copy(client, part, part.records.map((_, p) => p), undefined);
          return rejected;
        }
        await transaction(false);
      } catch (error) {
        if (classify(error) !== 'data') throw error;
        rejected = [];
        await transaction(true);
      }
      return rejected;
    });
  }

  /**
   * A raw CSV page (`SinkInstance.raw`) in one transaction: `before`, the page's bytes through
   * `COPY … (FORMAT csv)`, `after` (the exactly-once marker), then COMMIT — what `write` does for
   * a batch nothing of which is refused. `FORCE_NOT_NULL` on every column: an empty field is '',
   * as the reader (cast: false) makes it and `copyChunks` writes it, never NULL. COPY must count
   * `page.count` rows, else it is rolled back: the engine then writes the page's records.
   */
  async writeRaw(page: RawPage, plan: Pick<BatchPlan, 'before' | 'after' | 'beforeCommit'>, columns: readonly ColumnInfo[]): Promise<void> {
    await this.loadCopyFrom();
    await this.conn.withRaw(async (raw) => {
      const client = raw as PgClient;
      let stage: string | undefined;
      await client.query('begin');
      try {
        for (const s of plan.before) await client.query(s.sql, s.params);
        // Upsert: into the raw staging table, whose identity column numbers the rows in file order.
        if (this.target.mode === 'upsert') stage = await this.ensureRawStage(client);
        const stream = client.query(this.copyFrom!(rawCopySql(stage ?? this.target.table, page))) as NodeJS.WritableStream & { rowCount?: number };
        await pipeline(Readable.from([page.bytes]), stream);
        if (stream.rowCount !== page.count) {
          throw new PermanentError(`sql: COPY read ${stream.rowCount} rows of a raw page of ${page.count}; the page is written record by record`);
        }
        if (stage) await this.mergeWhole(client, columns, stage);
        for (const s of plan.after([])) {
          const done = await client.query(s.sql, s.params);
          if (s.fence && done.rowCount !== 1) throw s.fence();
        }
        await plan.beforeCommit?.();
        await client.query('commit');
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        // A staging table made in this transaction went with it.
        if (stage) this.staged.get(client as object)?.delete(stage);
        throw error;
      }
    });
  }

  /**
   * The record path's staging table: the target's columns, and `sluice_row` set by the writer to
   * the row's position in the batch.
   */
  private ensureStage(client: PgClient): Promise<string> {
    return this.ensureStageTable(client, 'sluice_stage', 'integer');
  }

  /**
   * The raw pages' staging table for upsert: `sluice_row` an identity, so rows are numbered in the
   * order COPY reads them and the merge keeps the last row of a key, as the record path does.
   */
  private ensureRawStage(client: PgClient): Promise<string> {
    return this.ensureStageTable(client, 'sluice_rawstage', 'bigint generated always as identity');
  }

  /** A session's staging table named by `prefix`, the target and its columns; `sluice_row` of type `row`. */
  private async ensureStageTable(client: PgClient, prefix: string, row: string): Promise<string> {
    const columns = this.target.allColumns.map((c) => c.name);
    const name = `${prefix}_${createHash('sha1').update(`${this.target.table}\u0000${columns.join('\u0000')}`).digest('hex').slice(0, 16)}`;
    let known = this.staged.get(client as object);
    if (!known) this.staged.set(client as object, (known = new Set()));
    if (!known.has(name)) {
      // Types only (no constraints), so the target's own constraints speak in the INSERT.
      await client.query(
        `create temporary table if not exists ${name} on commit delete rows as select ${columns.map((c) => quoteColumn('postgres', c)).join(', ')} from ${this.target.table} with no data`,
      );
      await client.query(`alter table ${name} add column if not exists sluice_row ${row}`);
      known.add(name);
    }
    return name;
  }

  /** COPY rows `positions` under a savepoint; refused rows go to `rejected`. Returns the positions copied. */
  private async copyIsolated(client: PgClient, batch: PreparedBatch, positions: number[], stage: string | undefined, rejected: Rejection[]): Promise<number[]> {
    const copied: number[] = [];
    let rest = positions;
    while (rest.length) {
      await client.query('savepoint sluice_copy');
      try {
        await this.copy(client, batch, rest, stage);
        await client.query('release savepoint sluice_copy');
        copied.push(...rest);
        break;
      } catch (error) {
        await client.query('rollback to savepoint sluice_copy');
        if (classify(error) !== 'data') throw error;
        const line = copyLine(error);
        if (line === undefined || line < 1 || line > rest.length) {
          // No line to go by: halve.
          if (rest.length === 1) {
            rejected.push({ index: batch.index[rest[0]!]!, error: new Error(describeError(error)) });
            break;
          }
          const half = Math.ceil(rest.length / 2);
          copied.push(...(await this.copyIsolated(client, batch, rest.slice(0, half), stage, rejected)));
          rest = rest.slice(half);
          continue;
        }
        const bad = rest[line - 1]!;
        rejected.push({ index: batch.index[bad]!, error: new Error(describeError(error)) });
        if (line > 1) copied.push(...(await this.copyIsolated(client, batch, rest.slice(0, line - 1), stage, rejected)));
        rest = rest.slice(line);
      }
    }
    return copied;
  }

  private async copy(client: PgClient, batch: PreparedBatch, positions: readonly number[], stage: string | undefined): Promise<void> {
    const cols = batch.columns.map((c) => quoteColumn('postgres', c.name));
    const sql = stage ? `copy ${stage} (${cols.join(', ')}, sluice_row) from stdin` : `copy ${this.target.table} (${cols.join(', ')}) from stdin`;
    const stream = client.query(this.copyFrom!(sql));
    await pipeline(Readable.from(copyChunks(batch, positions, stage ? (p) => p : undefined)), stream);
  }

  /**
   * INSERT … SELECT … ON CONFLICT from the staging table, halving under savepoints to isolate
   * refused rows. Never MERGE: a subset needs `$1`, and a batch here may be one a MERGE failed on
   * (see `mergeWhole`).
   */
  private async mergeIsolated(client: PgClient, batch: PreparedBatch, positions: number[], stage: string, whole: boolean, rejected: Rejection[]): Promise<void> {
    await client.query('savepoint sluice_merge');
    try {
      await client.query(this.upsert.onConflict(batch.columns, stage, whole), whole ? [] : [positions]);
      await client.query('release savepoint sluice_merge');
    } catch (error) {
      await client.query('rollback to savepoint sluice_merge');
      if (classify(error) !== 'data') throw error;
      if (positions.length === 1) {
        rejected.push({ index: batch.index[positions[0]!]!, error: new Error(describeError(error)) });
        return;
      }
      const half = Math.ceil(positions.length / 2);
      await this.mergeIsolated(client, batch, positions.slice(0, half), stage, false, rejected);
      await this.mergeIsolated(client, batch, positions.slice(half), stage, false, rejected);
    }
  }

  /**
   * The whole stage into the table, in one statement. A MERGE that meets a key a concurrent write
   * inserted first fails (a unique violation, so the batch is refused as data): the batch is then
   * written again through `mergeIsolated`, whose ON CONFLICT updates that row instead.
   */
  private async mergeWhole(client: PgClient, columns: readonly ColumnInfo[], stage: string): Promise<void> {
    this.mergeFits ??= await mergeFits(client, this.target.table);
    await client.query(this.mergeFits ? this.upsert.merge(columns, stage) : this.upsert.onConflict(columns, stage, true));
  }
}

/** A one-character SQL string literal. */
const literal = (c: string) => `'${c === "'" ? "''" : c}'`;

/** The COPY of a raw CSV page: its columns in the page's order, its delimiter and quote, no NULLs. */
export function rawCopySql(table: string, page: RawPage): string {
  const cols = page.columns.map((c) => quoteColumn('postgres', c)).join(', ');
  return `copy ${table} (${cols}) from stdin with (format csv, delimiter ${literal(page.delimiter)}, quote ${literal(page.quote)}, escape ${literal(page.quote)}, force_not_null (${cols}))`;
}
