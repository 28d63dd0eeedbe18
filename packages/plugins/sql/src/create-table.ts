import type { SqlConnection } from './connection.js';
import { isZonedDateTime, quote, quoteColumn, type DialectName } from './dialect.js';
import { describeTable } from './introspect.js';

type Inferred = 'int' | 'float' | 'bool' | 'text' | 'timestamptz' | 'json';

const TYPES: Record<DialectName, Record<Inferred, string> & { key: string }> = {
  postgres: { int: 'bigint', float: 'double precision', bool: 'boolean', text: 'text', timestamptz: 'timestamptz', json: 'jsonb', key: 'text' },
  mysql: { int: 'bigint', float: 'double', bool: 'boolean', text: 'text', timestamptz: 'datetime(6)', json: 'json', key: 'varchar(191)' },
  sqlite: { int: 'integer', float: 'real', bool: 'boolean', text: 'text', timestamptz: 'timestamp', json: 'json', key: 'text' },
};

function inferOne(value: unknown): Inferred | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number' || typeof value === 'bigint') return typeof value === 'bigint' || Number.isInteger(value) ? 'int' : 'float';
  if (value instanceof Date) return 'timestamptz';
  if (typeof value === 'string') return isZonedDateTime(value) ? 'timestamptz' : 'text';
  return 'json';
}

/** The column type that holds every value seen: int widens to float; mixed kinds fall back to text (json for objects). */
function widen(a: Inferred | undefined, b: Inferred | undefined): Inferred | undefined {
  if (a === undefined) return b;
  if (b === undefined || a === b) return a;
  if ((a === 'int' && b === 'float') || (a === 'float' && b === 'int')) return 'float';
  if (a === 'json' || b === 'json') return 'json';
  return 'text';
}

/** Column → inferred type over `rows`, in first-seen order (only `only` columns when given). */
function inferColumns(rows: ReadonlyArray<Record<string, unknown>>, only?: ReadonlySet<string>): Map<string, Inferred | undefined> {
  const kinds = new Map<string, Inferred | undefined>();
  for (const row of rows) {
    for (const column in row) {
      if (only && !only.has(column)) continue;
      kinds.set(column, widen(kinds.get(column), inferOne(row[column])));
    }
  }
  return kinds;
}

/**
 * `createTable: true`: when the table is missing, creates it from the first batch — one column per
 * field (in first-seen order), typed from the values (integer, float, boolean, text, timestamp
 * with zone for ISO date-times with an offset, JSON for objects and arrays; text when every value
 * is null), with `key` as the primary key. Column names are quoted exactly as given (knex's
 * schema builder would trim them).
 */
export async function createTableFrom(
  conn: SqlConnection,
  table: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  key: readonly string[],
): Promise<void> {
  const kinds = inferColumns(rows);
  for (const k of key) {
    if (!kinds.has(k)) throw new Error(`cannot create table ${table}: key column '${k}' is not a field of the first batch`);
  }
  const d = conn.dialect.name;
  const types = TYPES[d];
  const columns = [...kinds].map(([column, kind]) => {
    const type = key.includes(column) && (kind === 'text' || kind === undefined) ? types.key : types[kind ?? 'text'];
    return `${quoteColumn(d, column)} ${type}${key.includes(column) ? ' not null' : ''}`;
  });
  if (key.length) columns.push(`primary key (${key.map((k) => quoteColumn(d, k)).join(', ')})`);
  await conn.knex.raw(`create table ${quote(conn.knex, table)} (${columns.join(', ')})`);
}

/**
 * `evolve: addColumns`: adds a nullable column for each of `missing`, typed from the values `rows`
 * hold for it (as createTable would). Returns the columns added.
 */
export async function addColumnsFrom(conn: SqlConnection, table: string, rows: ReadonlyArray<Record<string, unknown>>, missing: ReadonlySet<string>): Promise<string[]> {
  const kinds = inferColumns(rows, missing);
  const d = conn.dialect.name;
  const added: string[] = [];
  for (const [column, kind] of kinds) {
    const sql = `alter table ${quote(conn.knex, table)} add column ${quoteColumn(d, column)} ${TYPES[d][kind ?? 'text']}`;
    try {
      await conn.knex.raw(sql);
      added.push(column);
    } catch (error) {
      // Another run (or partition) may have added it first: fine if it is there now.
      if (!(await describeTable(conn, table))?.byName.has(column)) throw error;
    }
  }
  return added;
}
