import type { Knex } from 'knex';

/** What a column holds, as far as turning record values into column values goes. */
export type ColumnKind = 'json' | 'bool' | 'int' | 'float' | 'timestamptz' | 'timestamp' | 'date' | 'text' | 'array' | 'other';

export interface ColumnInfo {
  readonly name: string;
  /** The database's type name, lowercase. */
  readonly type: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
}

export interface TableInfo {
  /** As written in the job (`users`, `public.users`). */
  readonly name: string;
  readonly columns: readonly ColumnInfo[];
  readonly byName: ReadonlyMap<string, ColumnInfo>;
  readonly primaryKey: readonly string[];
  /** Column lists of every unique index, the primary key included. */
  readonly uniqueKeys: ReadonlyArray<readonly string[]>;
  /** A view (or another relation without indexes of its own): the database cannot tell what is unique in it. */
  readonly view: boolean;
}

export type DialectName = 'postgres' | 'mysql' | 'sqlite';

export interface Dialect {
  readonly name: DialectName;
  readonly client: 'pg' | 'mysql2' | 'better-sqlite3';
  /** Kind of a column from its type name. */
  kindOf(type: string): ColumnKind;
  /**
   * Keyset pagination after a cursor: row values `(a, b) > (?, ?)` where the planner uses an index
   * for them (PostgreSQL, SQLite); the expanded OR form for MySQL/MariaDB, whose range optimiser
   * does not use an index for row values.
   */
  readonly rowValues: boolean;
}

const kindByPattern = (type: string, extra: (t: string) => ColumnKind | undefined): ColumnKind => {
  const t = type.toLowerCase().trim();
  const special = extra(t);
  if (special) return special;
  if (/json/.test(t)) return 'json';
  if (/^bool/.test(t)) return 'bool';
  if (/^(big|small|tiny|medium)?int|^integer|^serial|^bigserial|^smallserial|^int[248]/.test(t)) return 'int';
  if (/^(double|float|real|numeric|decimal)/.test(t)) return 'float';
  if (/^timestamp.*with time zone|^timestamptz/.test(t)) return 'timestamptz';
  if (/^(timestamp|datetime)/.test(t)) return 'timestamp';
  if (/^date$/.test(t)) return 'date';
  if (/char|text|clob|string|uuid|enum/.test(t)) return 'text';
  return 'other';
};

export const postgres: Dialect = {
  name: 'postgres',
  client: 'pg',
  rowValues: true,
  kindOf: (type) => kindByPattern(type, (t) => (t.endsWith('[]') || t === 'array' ? 'array' : undefined)),
};

export const mysql: Dialect = {
  name: 'mysql',
  client: 'mysql2',
  rowValues: false,
  kindOf: (type) =>
    kindByPattern(type, (t) => {
      if (t === 'tinyint(1)' || t === 'bit(1)') return 'bool';
      // MySQL TIMESTAMP converts from the session time zone (UTC here): an instant.
      if (/^timestamp/.test(t)) return 'timestamptz';
      return undefined;
    }),
};

export const sqlite: Dialect = {
  name: 'sqlite',
  client: 'better-sqlite3',
  rowValues: true,
  kindOf: (type) => kindByPattern(type, (t) => (t === '' ? 'other' : undefined)),
};

export function dialectOf(client: 'pg' | 'mysql2' | 'better-sqlite3'): Dialect {
  return client === 'pg' ? postgres : client === 'mysql2' ? mysql : sqlite;
}

/** A quoted identifier (`"users"`, `` `users` ``, `"public"."users"`), quoted by knex. */
export function quote(knex: Knex, identifier: string): string {
  return knex.raw('??', [identifier]).toQuery();
}

/**
 * A quoted column name, exactly as given: unlike knex's `??`, which trims the name and reads a dot
 * as a qualifier and ` as ` as an alias, so `"name "` or `"a.b"` would reach another column.
 */
export function quoteColumn(dialect: DialectName, name: string): string {
  return dialect === 'mysql' ? `\`${name.replace(/`/g, '``')}\`` : `"${name.replace(/"/g, '""')}"`;
}

/** The longest column name each database keeps whole: PostgreSQL cuts longer ones silently (63 bytes); MySQL refuses them. */
const MAX_NAME: Record<DialectName, { length: number; unit: 'bytes' | 'characters' } | undefined> = {
  postgres: { length: 63, unit: 'bytes' },
  mysql: { length: 64, unit: 'characters' },
  sqlite: undefined,
};

/**
 * Why `name` cannot be a column exactly as written, or undefined when it can: empty, leading or
 * trailing white space (knex, most tools and MySQL trim or refuse it: a different column would be
 * meant), control characters, or longer than the database keeps.
 */
export function columnNameProblem(dialect: DialectName, name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (/^\s|\s$/.test(name)) return `it ${/^\s/.test(name) ? 'starts' : 'ends'} with white space`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it contains a control character';
  const max = MAX_NAME[dialect];
  if (max) {
    const size = max.unit === 'bytes' ? Buffer.byteLength(name) : [...name].length;
    if (size > max.length) return `it is ${size} ${max.unit} long; ${dialect === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'} keeps at most ${max.length}`;
  }
  return undefined;
}

/** Splits `schema.table` into its parts (a name without a dot has no schema). */
export function splitTable(table: string): { schema?: string; table: string } {
  const dot = table.lastIndexOf('.');
  return dot > 0 ? { schema: table.slice(0, dot), table: table.slice(dot + 1) } : { table };
}

/** `2024-01-02 03:04:05.123000` in UTC, as MySQL DATETIME/TIMESTAMP take it. */
function mysqlDateTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** An ISO date-time with a zone or offset; its parts: date, hour, minute, second, fraction, zone. */
const ZONED_PARTS = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  return month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS[month - 1]!;
}

/**
 * A date-time with a zone as MySQL's DATETIME/TIMESTAMP text in UTC (`2024-01-02 03:04:05.123`), or
 * undefined when it is none or names a day its month does not have: `2023-02-29T…Z` goes to the
 * database as written, which refuses it, where `Date` would have rolled it over to 1 March. UTC text
 * (`…Z`) is rewritten from its digits: parsing it into a `Date` and printing it again was a fifth of
 * a CSV → MariaDB load's CPU. Fractions are cut to milliseconds, as `Date` cuts them.
 */
export function mysqlUtc(value: string): string | undefined {
  const m = ZONED_PARTS.exec(value);
  if (m === null) return undefined;
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(Number(m[1]), month)) return undefined;
  const zone = m[8]!;
  if ((zone === 'Z' || zone === 'z') && Number(m[4]) < 24 && Number(m[5]) < 60 && (m[6] === undefined || Number(m[6]) < 60)) {
    return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6] ?? '00'}.${m[7] === undefined ? '000' : `${m[7]}00`.slice(0, 3)}`;
  }
  // An offset, or 24:00 (the next day's midnight): Date's arithmetic, as before.
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : mysqlDateTime(date);
}

/** Whether a string is a date-time with a zone or offset (so it names an instant). */
export function isZonedDateTime(value: string): boolean {
  return ZONED_PARTS.test(value);
}

const BIGINT_MARK = '\u0000sluice-bigint:';

/**
 * JSON text of a value, BigInts (whole numbers beyond 2^53 from a JSON Lines source) written as
 * their digits — the number they are, which JSON.stringify refuses to write.
 */
export function jsonText(value: unknown): string {
  let big = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    big = true;
    return `${BIGINT_MARK}${v.toString()}`;
  });
  return big ? text.replace(/"\\u0000sluice-bigint:(-?\d+)"/g, '$1') : text;
}

const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** Whether a BigInt fits a 64-bit integer column (SQLite INTEGER, BIGINT). */
export function fitsInt64(value: bigint): boolean {
  return value >= INT64.min && value <= INT64.max;
}

/**
 * Turns a record value into the value bound for a column (MySQL, SQLite). JSON columns always
 * get the value's JSON text (a string becomes a JSON string); objects elsewhere get JSON text too.
 */
export function bindValue(dialect: DialectName, kind: ColumnKind, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (kind === 'json') return jsonText(value instanceof Date ? value.toISOString() : value);
  if (value instanceof Date) {
    if (dialect === 'mysql' && (kind === 'timestamp' || kind === 'timestamptz')) return mysqlDateTime(value);
    return value.toISOString();
  }
  switch (typeof value) {
    case 'boolean':
      return dialect === 'sqlite' || dialect === 'mysql' ? (value ? 1 : 0) : value;
    case 'string':
      if (dialect === 'mysql' && (kind === 'timestamp' || kind === 'timestamptz')) return mysqlUtc(value) ?? value;
      return value;
    case 'number':
      // SQLite binds a JS number as REAL, which a text column stores as '7.0': give it the number's own text.
      return kind === 'text' && dialect === 'sqlite' ? String(value) : value;
    case 'bigint':
      // Bound as a whole number (mysql2 and better-sqlite3 take BigInt); a text column gets its digits.
      // SQLite cannot bind one beyond 64 bits: the sink refuses such a record (misfitColumn).
      return kind === 'text' || (dialect === 'sqlite' && !fitsInt64(value)) ? value.toString() : value;
    case 'object':
      return jsonText(value);
    default:
      return String(value);
  }
}

/** A value as a record carries it: dates as ISO text, buffers as base64, whole numbers beyond 2^53 as BigInt. */
export function recordValue(value: unknown, kind?: ColumnKind): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (kind === 'bool' && (typeof value === 'number' || typeof value === 'bigint')) return Number(value) !== 0;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (kind === 'json' && typeof value === 'string') {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * A whole or decimal number the database sent as text (BIGINT, NUMERIC/DECIMAL), kept exactly: a
 * number when a double holds it exactly, a BigInt when it is whole, else its digits as text.
 */
export function exactNumeric(text: string): number | bigint | string {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  // 12.50 and 12.5 are the same number; 0.10000000000000000001 is not 0.1.
  const canonical = (t: string) => t.replace(/^(-?)0+(?=\d)/, '$1').replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return canonical(text) === canonical(String(n)) ? n : text;
}

/** Cursor values are JSON: a BigInt key is kept as `{ "bigint": "digits" }` and read back as the BigInt. */
export function toCursorValue(value: unknown): unknown {
  return typeof value === 'bigint' ? { bigint: value.toString() } : value;
}

export function fromCursorValue(value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const digits = (value as { bigint?: unknown }).bigint;
    if (typeof digits === 'string' && /^-?\d+$/.test(digits)) return BigInt(digits);
  }
  return value;
}
