import { fitsInt64, type ColumnInfo } from './dialect.js';

const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const LONG_DIGITS = /^-?\d{19,}$/;

/**
 * SQLite stores any value in any column (a text in an integer column stays text); the other
 * databases refuse it. So that a value that does not fit its column is a record error everywhere,
 * never a silent change of type: numbers (or numeric text) only in integer and real columns.
 * `numeric` lists the integer and real columns of `columns` (the others need no look); `row[at + k]`
 * is the value bound for `columns[k]`. Returns why the row does not fit, or undefined.
 */
export function misfitColumn(columns: readonly ColumnInfo[], numeric: readonly number[], row: readonly unknown[], at: number): string | undefined {
  for (const k of numeric) {
    const v = row[at + k];
    if (v === null || typeof v === 'number' || typeof v === 'bigint') continue;
    const column = columns[k]!;
    const kind = column.kind;
    if (typeof v === 'string' && plainNumber(v, kind === 'int') > 0) continue;
    if (typeof v === 'string' && LONG_DIGITS.test(v) && !fitsInt64(BigInt(v))) {
      return `column ${JSON.stringify(column.name)} is ${column.type || kind}: ${v} does not fit SQLite's 64-bit integers; use a text column to keep its digits`;
    }
    if (typeof v === 'string' && NUMBER.test(v) && (kind === 'float' || Number.isInteger(Number(v)))) continue;
    return `column ${JSON.stringify(column.name)} is ${column.type || kind}: ${JSON.stringify(v)} is not ${kind === 'int' ? 'an integer' : 'a number'}`;
  }
  return undefined;
}

/**
 * The common case of numeric text (a CSV's ids and amounts), decided without the regular
 * expressions of `misfitColumn`: `-?digits` (at most 18, so within 64 bits), or unless `whole`
 * `-?digits.digits`. Returns the count of digits, or 0 for anything else (signs, exponents,
 * spaces, long digits), which takes the full check.
 */
export function plainNumber(v: string, whole: boolean): number {
  const n = v.length;
  let i = n > 0 && v.charCodeAt(0) === 45 ? 1 : 0;
  const start = i;
  let dot = -1;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 46 && dot < 0 && !whole) {
      dot = i;
      continue;
    }
    return 0;
  }
  const ok = n - start > 0 && n - start <= 18 && dot !== start && dot !== n - 1;
  return ok ? n - start - (dot < 0 ? 0 : 1) : 0;
}

/**
 * Whether SQLite converts numeric text bound for a column of this declared type to a number
 * itself: INTEGER, REAL or NUMERIC affinity (SQLite's rules, in its order: "INT"; "CHAR", "CLOB",
 * "TEXT"; "BLOB" or no type; "REAL", "FLOA", "DOUB"; anything else NUMERIC). A TEXT or BLOB column
 * keeps the text as it is.
 */
export function numericAffinity(type: string): boolean {
  const t = type.toUpperCase();
  if (t.includes('INT')) return true;
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return false;
  if (t.includes('BLOB') || t.trim() === '') return false;
  return true;
}

/**
 * The columns of `columns` whose numeric text `asNumber` may bind as a number: integer and real
 * columns SQLite itself converts such text in (`numericAffinity`).
 */
export function convertibleColumns(columns: readonly ColumnInfo[]): number[] {
  return columns.flatMap((c, k) => ((c.kind === 'int' || c.kind === 'float') && numericAffinity(c.type) ? [k] : []));
}

/**
 * Plain numeric text (`plainNumber`) of at most 15 digits as the number it is, else `v` itself.
 * For a column SQLite converts numeric text in (`convertibleColumns`), the stored value is the
 * same either way — SQLite parses such text to the nearest double as `Number` does, and up to 15
 * digits a whole number is exact in one and keeps its integer type — but a bound number costs
 * SQLite no parse and the writer thread no string. Longer digits stay text: NUMERIC keeps a
 * 16–18-digit whole number exact, a double would not.
 */
export function asNumber(v: string, whole: boolean): number | string {
  const digits = plainNumber(v, whole);
  return digits > 0 && digits <= 15 ? Number(v) : v;
}
