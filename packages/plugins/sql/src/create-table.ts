import type { SqlConnection } from './connection.js';
import { isZonedDateTime, type DialectName } from './dialect.js';

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

/**
 * `createTable: true`: when the table is missing, creates it from the first batch — one column per
 * field (in first-seen order), typed from the values (integer, float, boolean, text, timestamp
 * with zone for ISO date-times with an offset, JSON for objects and arrays; text when every value
 * is null), with `key` as the primary key.
 */
export async function createTableFrom(
  conn: SqlConnection,
  table: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  key: readonly string[],
): Promise<void> {
  const kinds = new Map<string, Inferred | undefined>();
  for (const row of rows) {
    for (const [column, value] of Object.entries(row)) kinds.set(column, widen(kinds.get(column), inferOne(value)));
  }
  for (const k of key) {
    if (!kinds.has(k)) throw new Error(`cannot create table ${table}: key column '${k}' is not a field of the first batch`);
  }
  const types = TYPES[conn.dialect.name];
  await conn.knex.schema.createTable(table, (t) => {
    for (const [column, kind] of kinds) {
      const type = key.includes(column) && (kind === 'text' || kind === undefined) ? types.key : types[kind ?? 'text'];
      const col = t.specificType(column, type);
      if (key.includes(column)) col.notNullable();
    }
    if (key.length) t.primary([...key]);
  });
}
