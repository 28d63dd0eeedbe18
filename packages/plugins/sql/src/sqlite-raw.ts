import type { RawPage } from '@sluice/core';
import type { ColumnInfo } from './dialect.js';
import { ROWS_PER_STATEMENT } from './sqlite-batch.js';
import { asNumber, convertibleColumns, misfitColumn } from './sqlite-values.js';

const LF = 0x0a;

/**
 * A raw CSV page's rows as the SQLite writer binds them: chunks of `ROWS_PER_STATEMENT` rows of
 * values, `columns[k]` the column of field k (the page's order). The fields are read as
 * PostgreSQL's COPY reads raw pages (write-pg.ts `rawCopySql`) — the reading the file source
 * checked its own reader agrees with for this page (docs/plugins.md, "Raw pages"): every field a
 * string, an empty one '' (no NULLs), a quoted one without its quotes and with doubled quotes
 * made one. Then each value as the record path binds a record's string (write-sqlite.ts `bind`):
 * numeric text checked and converted alike. Returns the chunks, or why the page must go as
 * records (a row of another width, a quote out of place, a value its column would refuse): the
 * record path then writes or refuses each row as it always does.
 */
export function rawChunks(page: RawPage, columns: readonly ColumnInfo[]): { chunks: unknown[][] } | { refused: string } {
  const width = columns.length;
  const { delimiter, quote } = page;
  const numeric = columns.flatMap((c, k) => (c.kind === 'int' || c.kind === 'float' ? [k] : []));
  const convert = convertibleColumns(columns);
  const convertible = columns.map((_, k) => convert.includes(k));
  const whole = columns.map((c) => c.kind === 'int');
  // One string for the page: its fields are slices of it (no decoding per field).
  const text = page.bytes.toString('utf8');
  const n = text.length;
  const chunks: unknown[][] = [];
  let params: unknown[] = [];
  let rows = 0;
  let i = 0;
  // The next quote: a row before it is split by native searches; a row holding one, field by field.
  let nextQuote = text.indexOf(quote);
  while (i < n) {
    if (params.length === ROWS_PER_STATEMENT * width) {
      chunks.push(params);
      params = [];
    }
    const at = params.length;
    const lf = text.indexOf('\n', i);
    if (lf === -1) return { refused: `row ${rows + 1} does not end in a line break` };
    if (nextQuote !== -1 && nextQuote < lf) {
      i = quotedRow(text, i, width, page, params);
      if (i < 0) return { refused: `row ${rows + 1} does not have ${width} fields, or has a quote out of place` };
      nextQuote = text.indexOf(quote, i);
    } else {
      for (let k = 0; k < width; k++) {
        let end = lf;
        if (k < width - 1) {
          end = text.indexOf(delimiter, i);
          if (end === -1 || end > lf) return { refused: `row ${rows + 1} has fewer than ${width} fields` };
        } else {
          const more = text.indexOf(delimiter, i);
          if (more !== -1 && more < lf) return { refused: `row ${rows + 1} has more than ${width} fields` };
        }
        // A convertible column's plain number straight from the text (no string made for it).
        const n = convertible[k] ? plainValue(text, i, end, whole[k]!) : Number.NaN;
        params.push(n === n ? n : text.slice(i, end));
        i = end + 1;
      }
    }
    const misfit = numeric.length ? misfitColumn(columns, numeric, params, at) : undefined;
    if (misfit !== undefined) return { refused: `row ${rows + 1}: ${misfit}` };
    for (const k of convert) {
      const v = params[at + k];
      if (typeof v === 'string') params[at + k] = asNumber(v, whole[k]!);
    }
    rows++;
  }
  if (rows !== page.count) return { refused: `it holds ${rows} rows, not ${page.count}` };
  if (params.length) chunks.push(params);
  return { chunks };
}

/**
 * The `width` fields of the row at `i` that holds a quote, pushed onto `params`; returns where the
 * next row starts, or -1 when the row is not `width` fields each plainly quoted or not quoted at
 * all (a quote only opening a field, closing it right before a delimiter or the line break,
 * doubled inside it).
 */
function quotedRow(text: string, i: number, width: number, page: RawPage, params: unknown[]): number {
  const D = page.delimiter.charCodeAt(0);
  const Q = page.quote.charCodeAt(0);
  const n = text.length;
  for (let k = 0; k < width; k++) {
    let value: string;
    if (text.charCodeAt(i) === Q) {
      // Quoted: up to the quote that is not doubled.
      value = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf(page.quote, from);
        if (q === -1) return -1;
        if (text.charCodeAt(q + 1) === Q) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
    } else {
      let e = i;
      for (; e < n; e++) {
        const c = text.charCodeAt(e);
        if (c === D || c === LF) break;
        if (c === Q) return -1;
      }
      value = text.slice(i, e);
      i = e;
    }
    if (text.charCodeAt(i) !== (k === width - 1 ? LF : D)) return -1;
    i++;
    params.push(value);
  }
  return i;
}

/** 10^0 … 10^15, each exact as a double. */
const POWERS = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * `text[from, to)` as `asNumber` (sqlite-values.ts) would give it when it is plain numeric text of
 * at most 15 digits (`-?digits`, or unless `whole` `-?digits.digits`), else NaN. The same number:
 * up to 15 digits the mantissa and the power of ten are exact doubles, so one division rounds to
 * the nearest double, as `Number` does.
 */
export function plainValue(text: string, from: number, to: number, whole: boolean): number {
  let p = from;
  const negative = p < to && text.charCodeAt(p) === 45;
  if (negative) p++;
  const start = p;
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; p < to; p++) {
    const c = text.charCodeAt(p);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === 46 && !whole && fraction < 0 && p > start && p < to - 1) {
      fraction = 0;
    } else {
      return Number.NaN;
    }
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  const value = fraction > 0 ? mantissa / POWERS[fraction]! : mantissa;
  return negative ? -value : value;
}
