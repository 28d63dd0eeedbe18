import type { RawPage } from '@sluice/core';
import { quoteColumn, type ColumnInfo } from './dialect.js';

/**
 * Raw CSV pages into MySQL/MariaDB: the `LOAD DATA LOCAL INFILE` statement that turns a page's
 * bytes into exactly the column values the record path writes, or makes the server warn (the
 * writer then rolls the page back and the engine writes its records).
 *
 * What the record path writes for a CSV record (`cast: false`, so every value is a string, an
 * empty field ''): `bindValue('mysql', kind, value)` leaves a string as it is, except into a
 * DATETIME/TIMESTAMP column, where a date-time with a zone becomes UTC text (`mysqlUtc`). json
 * columns are not raw (the sink declines them). So:
 * - every column but a date-time one is loaded straight from its field: LOAD DATA with
 *   `ESCAPED BY ''` reads a quoted or unquoted field as its text ('' for an empty one, doubled
 *   quotes as one), as the reader does — except the unquoted word `NULL`, which it reads as NULL.
 *   A page that holds such a field goes through user variables, `IFNULL(@v, 'NULL')`.
 * - a date-time column goes through a user variable: a `…Z` value of the form `mysqlUtc` rewrites
 *   from its digits (valid month, day, hour, minute, second) is rewritten the same way in SQL; any
 *   other zoned value (an offset, 24:00, a day its month lacks) becomes text no date-time column
 *   takes, so the server warns and the page takes the record path; an unzoned value stays as it is.
 */

/**
 * The form `toISOString` writes (`2023-04-10T06:03:28.039Z`), days 01–28 (every month has them):
 * `mysqlUtc` makes `2023-04-10 06:03:28.039` of it. Tried first: one pattern and a concat cost the
 * server 0.85 s of CPU per 300,000 rows against 0.97 s for the general expression alone (0.72 s
 * with no rewrite at all; bench/results/mariadb-raw-2026-12-02.md).
 */
const ISO_FORM = "'^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9][.][0-9]{3}Z$'";
/** A `…Z` date-time `mysqlUtc` rewrites from its digits (its day checked apart); binary, so `Z` is only Z or z. */
const Z_FORM = "'^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]+)?)?[Zz]$'";
/** `ZONED_PARTS` of dialect.ts (`\d` is ASCII digits there too): a date-time with a zone or offset. */
const ZONED = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'";
/** Text no DATETIME/TIMESTAMP column takes: the server warns, the page is rolled back and written as records. */
const NOT_RAW = "'sluice: this value is written as a record'";

/** A one-character SQL string literal (the source allows no backslash, line break or NUL here). */
const literal = (c: string) => `'${c === "'" ? "''" : c}'`;

/**
 * The value `mysqlUtc` gives a date-time column for user variable `v` (see above): days 29–31 are
 * checked against the month (leap years as `daysIn`); fractions are cut or padded to milliseconds.
 */
export function dateTimeExpression(v: string): string {
  const year = `cast(left(${v}, 4) as unsigned)`;
  const leap = `(${year} % 4 = 0 and (${year} % 100 <> 0 or ${year} % 400 = 0))`;
  const lastDay = `elt(cast(substr(${v}, 6, 2) as unsigned), '31', if(${leap}, '29', '28'), '31', '30', '31', '30', '31', '31', '30', '31', '30', '31')`;
  const dayFits = `(substr(${v}, 9, 2) < '29' or substr(${v}, 9, 2) <= ${lastDay})`;
  const seconds = `if(substr(${v}, 17, 1) = ':', substr(${v}, 18, 2), '00')`;
  const millis = `if(substr(${v}, 20, 1) = '.', rpad(substr(${v}, 21, least(3, length(${v}) - 21)), 3, '0'), '000')`;
  const utc = `concat(left(${v}, 10), ' ', substr(${v}, 12, 5), ':', ${seconds}, '.', ${millis})`;
  // Nested IFs, not AND: the day's arithmetic runs only on text the first pattern matched.
  const general = `if(binary ${v} regexp ${Z_FORM}, if(${dayFits}, ${utc}, ${NOT_RAW}), if(binary ${v} regexp ${ZONED}, ${NOT_RAW}, ifnull(${v}, 'NULL')))`;
  return `if(binary ${v} regexp ${ISO_FORM}, concat(left(${v}, 10), ' ', substr(${v}, 12, 12)), ${general})`;
}

/**
 * The LOAD DATA of a raw page into `table`: `columns` are the page's columns (its field order) as
 * the table describes them. `nullWord`: the page may hold an unquoted field `NULL`
 * ({@link holdsNullWord}), so every column goes through a user variable.
 */
export function rawLoadSql(table: string, page: RawPage, columns: readonly ColumnInfo[], nullWord: boolean): string {
  const targets: string[] = [];
  const sets: string[] = [];
  columns.forEach((column, i) => {
    const name = quoteColumn('mysql', column.name);
    const dateTime = column.kind === 'timestamp' || column.kind === 'timestamptz';
    if (!dateTime && !nullWord) {
      targets.push(name);
      return;
    }
    const v = `@sluice_${i}`;
    targets.push(v);
    sets.push(`${name} = ${dateTime ? dateTimeExpression(v) : `ifnull(${v}, 'NULL')`}`);
  });
  return (
    `load data local infile 'sluice-raw-page' into table ${table} character set utf8mb4 ` +
    `fields terminated by ${literal(page.delimiter)} optionally enclosed by ${literal(page.quote)} escaped by '' ` +
    `lines terminated by '\\n' (${targets.join(', ')})${sets.length ? ` set ${sets.join(', ')}` : ''}`
  );
}

const NULL_WORD = Buffer.from('NULL');
const LF = 0x0a;

/**
 * Whether the page may hold a field that is the word `NULL` unquoted (LOAD DATA reads it as NULL,
 * the reader as the text 'NULL'): `NULL` between delimiters or line breaks. One native search of
 * the bytes; an occurrence inside a quoted field counts too (the page then just takes the slower,
 * still exact, statement).
 */
export function holdsNullWord(page: RawPage): boolean {
  const bytes = page.bytes;
  const d = page.delimiter.charCodeAt(0);
  for (let i = bytes.indexOf(NULL_WORD); i !== -1; i = bytes.indexOf(NULL_WORD, i + 1)) {
    const before = i === 0 ? LF : bytes[i - 1];
    const after = bytes[i + 4];
    if ((before === LF || before === d) && (after === LF || after === d || after === undefined)) return true;
  }
  return false;
}
