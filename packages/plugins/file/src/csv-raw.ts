import { isAscii, isUtf8 } from 'node:buffer';
import type { CsvReadOptions } from './csv-read.js';

const LF = 0x0a;
const CR = 0x0d;
/** `\.` and a line break: on a line of its own, PostgreSQL's COPY takes it for the end of the data. */
const END_OF_DATA = Buffer.from('\\.\n');

/**
 * How raw pages of a CSV source look to the database: one-byte ASCII delimiter and quote. With
 * quoting off (`quote: ""`) the database still needs a quote character: `"`, and a page holding
 * one is read as records (the reader would keep it as text, the database would not).
 */
export interface RawCsvShape {
  readonly delimiter: string;
  readonly quote: string;
  readonly quoteByte: number;
  readonly delimiterByte: number;
  /** False with quoting off: a quote byte is text to the reader, so a page holding one is records. */
  readonly quoting: boolean;
}

/**
 * The shape of raw pages for these options, or undefined when none can be raw: a delimiter or quote
 * the database cannot take or might read otherwise (not one ASCII byte, a line break, a backslash).
 * With `cast: true` the pages say so (`RawPage.cast`), and a sink that would read text declines them.
 */
export function rawCsvShape(options: CsvReadOptions): RawCsvShape | undefined {
  const delimiter = options.delimiter;
  const quote = options.quote === '' ? '"' : options.quote;
  const plain = (c: string) => c.length === 1 && c.charCodeAt(0) < 0x80 && c !== '\n' && c !== '\r' && c !== '\\' && c !== '\0';
  if (!plain(delimiter) || !plain(quote) || delimiter === quote) return undefined;
  return { delimiter, quote, quoteByte: quote.charCodeAt(0), delimiterByte: delimiter.charCodeAt(0), quoting: options.quote !== '' };
}

/**
 * Column names a raw page can carry: some. Empty and duplicate names are the sink's to judge (the
 * reader's record has a duplicate name once, with the last field's value; a table has no such
 * columns).
 */
export function rawColumnsOk(names: readonly string[]): boolean {
  return names.length > 0;
}

/** What the next page of a raw read is. */
export type RawScan =
  /** `rows` whole rows in `buf[pos, end)` that the database reads exactly as the reader would. */
  | { readonly kind: 'raw'; readonly end: number }
  /** The page's last row is not in `buf` yet: wait for more input. */
  | { readonly kind: 'wait' }
  /** A page of records: something in it is not plain, or it is not a whole page within `hold` bytes. `until`: its rows end at or after it. */
  | { readonly kind: 'records'; readonly until: number | undefined };

const records = (until?: number): RawScan => ({ kind: 'records', until: until !== undefined && until > 0 ? until : undefined });

/**
 * True when the row `buf[from, lf)` (which holds a quote byte) is quoted the way the reader and
 * PostgreSQL's CSV mode read alike: every quote opens a field (right after a delimiter or at the
 * row's start) and closes it before the row's line break, right before a delimiter or the line
 * break, with doubled quotes inside. The reader refuses a quote anywhere else (PostgreSQL would
 * read one in mid-field as the start of a quoted part), and a field whose quotes span lines would
 * make a row of more than one line.
 */
export function plainlyQuoted(buf: Buffer, from: number, lf: number, quote: number, delimiter: number): boolean {
  let i = from;
  for (;;) {
    if (buf[i] === quote) {
      let j = i + 1;
      for (;;) {
        const q = buf.indexOf(quote, j);
        if (q === -1 || q >= lf) return false;
        if (buf[q + 1] === quote) {
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i === lf) return true;
      if (buf[i] !== delimiter) return false;
      i++;
      continue;
    }
    const d = buf.indexOf(delimiter, i);
    const fieldEnd = d === -1 || d > lf ? lf : d;
    const q = buf.indexOf(quote, i);
    if (q !== -1 && q < fieldEnd) return false;
    if (fieldEnd === lf) return true;
    i = fieldEnd + 1;
  }
}

/**
 * Looks at the `rows` rows from `pos` and says whether they can go to the database as they are.
 * They can when every one ends in `\n` within `hold` bytes of `pos`, and the bytes hold no `\r`
 * (the reader drops it before `\n`), no empty line (skipped, or a one-field row, to the reader),
 * no row over `maxLineBytes`, no `\.` line, quotes only as {@link plainlyQuoted} says, and are
 * UTF-8. Whatever they hold, the decision depends only on those rows (not on where the input's
 * chunks end), so a resumed read makes the same pages. Costs a native `indexOf` per row, one per
 * row with a quote, and three scans of the page's bytes in C++.
 */
export function scanRawPage(buf: Buffer, pos: number, rows: number, final: boolean, hold: number, maxLineBytes: number, shape: RawCsvShape): RawScan {
  const n = buf.length;
  const limit = Math.min(n, pos + hold);
  let at = pos;
  let k = 0;
  while (k < rows) {
    const lf = buf.indexOf(LF, at);
    if (lf === -1 || lf >= limit) break;
    if (lf === at || lf - at > maxLineBytes) return records(lf + 1);
    at = lf + 1;
    k++;
  }
  if (k < rows) {
    // Past `hold` bytes, or the input ends before the page is full: records (the last page of a
    // file continues into the next file's rows). Otherwise wait for the rest.
    return limit < n || final ? records(at) : { kind: 'wait' };
  }
  const end = at;
  // Searched within the page only: a search of the whole buffer per page would cost as many
  // passes over it as it holds pages.
  const region = buf.subarray(pos, end);
  if (region.indexOf(CR) !== -1) return records(end);
  const Q = shape.quoteByte;
  for (let q = region.indexOf(Q); q !== -1; ) {
    // The row the quote is in: only rows with a quote are looked at closely.
    const from = region.lastIndexOf(LF, q) + 1;
    const lf = region.indexOf(LF, q);
    if (!shape.quoting || !plainlyQuoted(region, from, lf, Q, shape.delimiterByte)) return records(end);
    q = region.indexOf(Q, lf + 1);
  }
  if (!isAscii(region) && !isUtf8(region)) return records(end);
  for (let i = region.indexOf(END_OF_DATA); i !== -1; i = region.indexOf(END_OF_DATA, i + 1)) {
    if (i === 0 || region[i - 1] === LF) return records(end);
  }
  return { kind: 'raw', end };
}
