import { TransientError } from '@sluice/core';
import type { SqlConnection } from './connection.js';
import type { DialectName } from './dialect.js';
import { rowsOf } from './introspect.js';

/**
 * Sluice's own tables in a database it writes to:
 * - `sluice_checkpoints`: one row per job, the checkpoint as JSON text (the `sql` checkpoint store);
 * - `sluice_sink_markers`: per job and sql sink, the seq of the last batch committed — written in
 *   the same transaction as the batch's rows, so a resume skips batches already committed;
 * - `sluice_sink_parts`: per job and sql sink, the ranges of a halved batch whose parts committed
 *   (markers.ts), written with the part's rows, kept until a run starts past the batch;
 * - `sluice_sink_rejects`: the records such a batch refused, so a skipped batch still reports them;
 * - `sluice_ledgers`: ledger keys (hashed) for at-most-once sinks (email).
 */
export const TABLES = {
  checkpoints: 'sluice_checkpoints',
  markers: 'sluice_sink_markers',
  parts: 'sluice_sink_parts',
  rejects: 'sluice_sink_rejects',
  ledgers: 'sluice_ledgers',
} as const;

function ddl(dialect: DialectName): string[] {
  const text = dialect === 'mysql' ? 'longtext' : 'text';
  const time = dialect === 'postgres' ? 'timestamptz' : dialect === 'mysql' ? 'datetime(3)' : 'text';
  const id = 'varchar(191)';
  return [
    `create table if not exists ${TABLES.checkpoints} (job ${id} not null primary key, body ${text} not null, updated_at ${time} not null)`,
    `create table if not exists ${TABLES.markers} (job ${id} not null, sink ${id} not null, seq bigint not null, updated_at ${time} not null, primary key (job, sink))`,
    `create table if not exists ${TABLES.parts} (job ${id} not null, sink ${id} not null, seq bigint not null, first_idx integer not null, end_idx integer not null, primary key (job, sink, seq, first_idx))`,
    `create table if not exists ${TABLES.rejects} (job ${id} not null, sink ${id} not null, seq bigint not null, idx integer not null, error ${text} not null, primary key (job, sink, seq, idx))`,
    `create table if not exists ${TABLES.ledgers} (job ${id} not null, name ${id} not null, key_hash char(64) not null, primary key (job, name, key_hash))`,
  ];
}

/** Creates Sluice's tables when missing (once per connection per run). */
export function ensureSystemTables(conn: SqlConnection): Promise<void> {
  return conn.onlyOnce('system-tables', async () => {
    for (const statement of ddl(conn.dialect.name)) {
      try {
        await conn.knex.raw(statement);
      } catch (error) {
        // Two runs creating the same table at once: the loser's error is harmless if it now exists.
        const table = /exists (\w+)/.exec(statement)![1]!;
        if (!(await conn.knex.schema.hasTable(table))) throw error;
      }
    }
  });
}

/** A statement in the driver's own placeholder style (`$1` for pg, `?` otherwise). */
export interface Statement {
  readonly sql: string;
  readonly params: unknown[];
  /**
   * Set on the marker update: it must change exactly one row, else the writer throws this error
   * (the marker is not below the batch's seq: another run of the job committed this batch, or its
   * markers were cleared) and the batch rolls back.
   */
  readonly fence?: () => Error;
}

/** The marker of a batch another run committed (or cleared): the batch rolls back, its retry reads the marker again. */
export class MarkerFenceError extends TransientError {}

/** `?` placeholders → `$n` for PostgreSQL (only for SQL Sluice writes itself, with no `?` in identifiers). */
export function native(dialect: DialectName, sql: string, params: unknown[]): Statement {
  if (dialect !== 'postgres') return { sql, params };
  let n = 0;
  return { sql: sql.replace(/\?/g, () => `$${++n}`), params };
}

export function nowValue(dialect: DialectName): unknown {
  const now = new Date();
  return dialect === 'mysql' ? now.toISOString().replace('T', ' ').replace('Z', '') : now.toISOString();
}

/** An upsert of one row keyed by `key`, in the dialect's words. */
export function upsertRow(dialect: DialectName, table: string, key: string[], row: Record<string, unknown>): Statement {
  const cols = Object.keys(row);
  const update = cols.filter((c) => !key.includes(c));
  const values = cols.map(() => '?').join(', ');
  const sql =
    dialect === 'mysql'
      ? `insert into ${table} (${cols.join(', ')}) values (${values}) on duplicate key update ${update.map((c) => `${c} = values(${c})`).join(', ')}`
      : `insert into ${table} (${cols.join(', ')}) values (${values}) on conflict (${key.join(', ')}) do update set ${update.map((c) => `${c} = excluded.${c}`).join(', ')}`;
  return native(dialect, sql, cols.map((c) => row[c]));
}

/**
 * A sink's marker row, made before its first batch with seq -1 (no batch yet), so each batch's
 * marker is a fenced update (`markerStatements`) rather than an upsert.
 */
export async function ensureMarkerRow(conn: SqlConnection, job: string, sink: string): Promise<void> {
  const d = conn.dialect.name;
  const verb = d === 'mysql' ? 'insert ignore into' : 'insert into';
  const tail = d === 'mysql' ? '' : ' on conflict (job, sink) do nothing';
  await conn.knex.raw(`${verb} ${TABLES.markers} (job, sink, seq, updated_at) values (?, ?, ?, ?)${tail}`, [job, sink, -1, nowValue(d)] as never[]);
}

/**
 * The statements that record a committed batch: its marker and the records it refused. The marker
 * moves only forward, from below this batch's seq: were another run of the job writing too (it
 * took the run lock while this run's lock session was lost), a batch commits once, by whichever
 * run gets there first; the other's rolls back and its retry finds it done.
 */
export function markerStatements(
  dialect: DialectName,
  job: string,
  sink: string,
  seq: number,
  rejected: ReadonlyArray<{ index: number; error: Error }>,
): Statement[] {
  const marker = native(dialect, `update ${TABLES.markers} set seq = ?, updated_at = ? where job = ? and sink = ? and seq < ?`, [seq, nowValue(dialect), job, sink, seq]);
  const fence = () => new MarkerFenceError(`sql: the marker of sink '${sink}' of job '${job}' is not below batch ${seq} (another run of the job wrote it, or its markers were cleared); batch ${seq} is rolled back`);
  const out: Statement[] = [{ ...marker, fence }];
  // A retried batch (same seq) must not collide with its own earlier refusals.
  out.push(native(dialect, `delete from ${TABLES.rejects} where job = ? and sink = ? and seq = ?`, [job, sink, seq]));
  for (let i = 0; i < rejected.length; i += 200) {
    const chunk = rejected.slice(i, i + 200);
    const params: unknown[] = [];
    for (const r of chunk) params.push(job, sink, seq, r.index, r.error.message);
    out.push(native(dialect, `insert into ${TABLES.rejects} (job, sink, seq, idx, error) values ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`, params));
  }
  return out;
}

/** The seq of the last batch sink `sink` committed for `job`, or undefined. */
export async function readMarker(conn: SqlConnection, job: string, sink: string): Promise<number | undefined> {
  const rows = rowsOf(await conn.knex.raw(`select seq from ${TABLES.markers} where job = ? and sink = ?`, [job, sink]));
  // seq -1: the row `ensureMarkerRow` made, no batch committed yet.
  return rows.length && Number(rows[0]!.seq) >= 0 ? Number(rows[0]!.seq) : undefined;
}
