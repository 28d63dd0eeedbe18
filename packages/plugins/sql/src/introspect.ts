import type { SqlConnection } from './connection.js';
import { quote, splitTable, type ColumnInfo, type TableInfo } from './dialect.js';

type Row = Record<string, unknown>;

/** Rows of a raw query, whatever the driver's result shape. */
export function rowsOf(result: unknown): Row[] {
  if (Array.isArray(result)) {
    // mysql2: [rows, fields]; sqlite: rows.
    if (result.length === 2 && Array.isArray(result[0]) && Array.isArray(result[1])) return result[0] as Row[];
    return result as Row[];
  }
  const rows = (result as { rows?: Row[] } | undefined)?.rows;
  return rows ?? [];
}

function lowerKeys(row: Row): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k.toLowerCase()] = v;
  return out;
}

function groupKeys(rows: Row[], index: string, column: string, seq: string): string[][] {
  const groups = new Map<string, Array<{ seq: number; column: string }>>();
  for (const row of rows.map(lowerKeys)) {
    const name = String(row[index]);
    let list = groups.get(name);
    if (!list) groups.set(name, (list = []));
    list.push({ seq: Number(row[seq]), column: String(row[column]) });
  }
  return [...groups.values()].map((list) => list.sort((a, b) => a.seq - b.seq).map((c) => c.column));
}

/**
 * Columns, primary key and unique keys of `table`, or undefined when it does not exist.
 * Read once at `create`, so a missing table or column is an error at startup.
 */
export async function describeTable(conn: SqlConnection, table: string): Promise<TableInfo | undefined> {
  const { knex, dialect } = conn;
  const { schema, table: name } = splitTable(table);
  let columns: ColumnInfo[] = [];
  let primaryKey: string[] = [];
  let uniqueKeys: string[][] = [];
  let view = false;
  if (dialect.name === 'postgres') {
    const found = rowsOf(
      await knex.raw(
        `select c.oid::bigint as oid, c.relkind as kind from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relname = ? and c.relkind in ('r','p','v','m','f') and ${schema === undefined ? 'n.nspname = any(current_schemas(false))' : 'n.nspname = ?'}
          order by array_position(current_schemas(false), n.nspname) limit 1`,
        schema === undefined ? [name] : [name, schema],
      ),
    );
    if (found.length === 0) return undefined;
    const oid = Number(found[0]!.oid);
    view = !['r', 'p'].includes(String(found[0]!.kind));
    columns = rowsOf(
      await knex.raw(
        `select attname as name, format_type(atttypid, atttypmod) as type, not attnotnull as nullable
           from pg_attribute where attrelid = ? and attnum > 0 and not attisdropped order by attnum`,
        [oid],
      ),
    ).map((r) => ({ name: String(r.name), type: String(r.type).toLowerCase(), kind: dialect.kindOf(String(r.type)), nullable: Boolean(r.nullable) }));
    const keys = rowsOf(
      await knex.raw(
        `select i.indexrelid::bigint as idx, i.indisprimary as pk, a.attname as col, k.n as seq
           from pg_index i cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, n)
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
          where i.indrelid = ? and i.indisunique and i.indpred is null`,
        [oid],
      ),
    );
    uniqueKeys = groupKeys(keys, 'idx', 'col', 'seq');
    primaryKey = groupKeys(keys.filter((r) => r.pk === true), 'idx', 'col', 'seq')[0] ?? [];
  } else if (dialect.name === 'mysql') {
    const where = schema === undefined ? 'table_schema = database()' : 'table_schema = ?';
    const params = schema === undefined ? [name] : [schema, name];
    const raw = rowsOf(
      await knex.raw(
        `select column_name as name, column_type as type, is_nullable as nullable from information_schema.columns
          where ${where} and table_name = ? order by ordinal_position`,
        params,
      ),
    ).map(lowerKeys);
    if (raw.length === 0) return undefined;
    const kind = rowsOf(await knex.raw(`select table_type as type from information_schema.tables where ${where} and table_name = ?`, params)).map(lowerKeys);
    view = String(kind[0]?.type ?? '').toUpperCase() !== 'BASE TABLE';
    // MariaDB's JSON is LONGTEXT with a json_valid() check.
    const checks = rowsOf(
      await knex
        .raw(`select check_clause as clause from information_schema.check_constraints where constraint_schema = ${schema === undefined ? 'database()' : '?'} and table_name = ?`, schema === undefined ? [name] : [schema, name])
        .catch(() => []),
    ).map(lowerKeys);
    const jsonColumns = new Set<string>();
    for (const check of checks) {
      const m = /json_valid\(`?([^`)]+)`?\)/i.exec(String(check.clause));
      if (m) jsonColumns.add(m[1]!);
    }
    columns = raw.map((r) => {
      const colName = String(r.name);
      const type = String(r.type).toLowerCase();
      return { name: colName, type, kind: jsonColumns.has(colName) ? 'json' : dialect.kindOf(type), nullable: r.nullable === 'YES' };
    });
    const keys = rowsOf(
      await knex.raw(
        `select index_name as idx, column_name as col, seq_in_index as seq from information_schema.statistics
          where ${where} and table_name = ? and non_unique = 0`,
        params,
      ),
    ).map(lowerKeys);
    uniqueKeys = groupKeys(keys, 'idx', 'col', 'seq');
    primaryKey = groupKeys(keys.filter((r) => r.idx === 'PRIMARY'), 'idx', 'col', 'seq')[0] ?? [];
  } else {
    const prefix = schema === undefined ? '' : `${quote(knex, schema)}.`;
    const info = rowsOf(await knex.raw(`pragma ${prefix}table_info(${quote(knex, name)})`));
    if (info.length === 0) return undefined;
    const kind = rowsOf(await knex.raw(`select type from ${prefix}sqlite_master where name = ?`, [name]));
    view = String(kind[0]?.type ?? 'table') !== 'table';
    columns = info.map((r) => ({ name: String(r.name), type: String(r.type ?? '').toLowerCase(), kind: dialect.kindOf(String(r.type ?? '')), nullable: !r.notnull && !(Number(r.pk) > 0) }));
    primaryKey = info
      .filter((r) => Number(r.pk) > 0)
      .sort((a, b) => Number(a.pk) - Number(b.pk))
      .map((r) => String(r.name));
    const indexes = rowsOf(await knex.raw(`pragma ${prefix}index_list(${quote(knex, name)})`)).filter((r) => Number(r.unique) === 1 && !Number(r.partial));
    for (const index of indexes) {
      const cols = rowsOf(await knex.raw(`pragma ${prefix}index_info(${quote(knex, String(index.name))})`))
        .sort((a, b) => Number(a.seqno) - Number(b.seqno))
        .map((r) => String(r.name));
      uniqueKeys.push(cols);
    }
    if (primaryKey.length) uniqueKeys.push(primaryKey);
  }
  return { name: table, columns, byName: new Map(columns.map((c) => [c.name, c])), primaryKey, uniqueKeys, view };
}

/** Whether some unique index covers exactly `key` (in any order): what ON CONFLICT / upsert needs. */
export function hasUniqueKey(info: TableInfo, key: readonly string[]): boolean {
  const want = [...key].sort().join('\u0000');
  return info.uniqueKeys.some((k) => [...k].sort().join('\u0000') === want);
}

/**
 * Why keyset pagination by `key` could skip rows of this table, when the database can tell: a key
 * column that may hold NULL, or no unique index among the key's columns. Undefined when the key
 * is sound, or for a view (whose ties are caught while reading).
 */
export function keyProblem(info: TableInfo, key: readonly string[]): string | undefined {
  if (info.view) return undefined;
  const nullable = key.filter((k) => info.byName.get(k)?.nullable);
  if (nullable.length) {
    return `key column(s) ${nullable.join(', ')} of table ${info.name} may hold NULL, and rows with a NULL key would never be read; use NOT NULL columns (alter table … alter column … set not null), or another key`;
  }
  if (!info.uniqueKeys.some((unique) => unique.every((c) => key.includes(c)))) {
    return `key (${key.join(', ')}) of table ${info.name} is not unique (no primary key or unique index on these columns or a part of them), and rows that share a key across a page boundary would be skipped; add the primary key to it (e.g. key: [${[...key, ...(info.primaryKey.length ? info.primaryKey : ['id'])].filter((c, i, all) => all.indexOf(c) === i).join(', ')}]) or create a unique index`;
  }
  return undefined;
}

/** `did you mean` for a column name. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** "no column 'emial' in table users; did you mean 'email'? columns: …" */
export function missingColumn(column: string, info: TableInfo, what = 'column'): string {
  const names = info.columns.map((c) => c.name);
  const guess = closest(column, names);
  return `table ${info.name} has no ${what} '${column}'${guess ? `; did you mean '${guess}'?` : ''} (columns: ${names.join(', ')})`;
}
