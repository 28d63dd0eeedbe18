import { isAscii, isUtf8 } from 'node:buffer';
import { PermanentError, type SourcePage } from '@sluice/core';
import { FileChunks } from './chunks.js';
import { castCsvValue } from './csv-cast.js';
import { rawColumnsOk, scanRawPage, type RawCsvShape } from './csv-raw.js';
import { CSV_ROW_ERRORS, CsvRowScanner } from './csv-row.js';
import type { InputFile } from './files.js';
import { trimRaw } from './formats.js';
import { DEFAULT_MAX_LINE_BYTES, invalidUtf8, rawBytes, tooLong } from './limits.js';
import { decoders, recordErrorAt, type PositionMode } from './lines.js';
import { PageCollector } from './page.js';

export { castCsvValue } from './csv-cast.js';

const LF = 0x0a;
const CR = 0x0d;
/** Enough bytes for the 1000 characters `trimRaw` keeps, whatever their UTF-8 length. */
const RAW_BYTES = 4 * 1024;

export interface CsvReadOptions {
  readonly delimiter: string;
  /** true: the first row names the columns; false: columns are named "0", "1", …; or the names. */
  readonly header: boolean | readonly string[];
  /** "" turns quoting off. */
  readonly quote: string;
  readonly skipEmptyLines: boolean;
  readonly cast: boolean;
  /** A row longer than this many bytes is a record error (default 64 MiB). */
  readonly maxLineBytes?: number;
}

type Fields = string[] | unknown[];

type MakeRecord = (fields: Fields) => Record<string, unknown>;

const NO_FIELDS: Fields = [];

/**
 * A function that builds a record from a row's fields as an object literal with the column names
 * as keys: every record of a file then has one shape, built without a loop. The names are data,
 * so they enter the code only as JSON string literals; `__proto__` is written as a computed key,
 * which makes it an own property like any other column (a literal `"__proto__": …` would set the
 * prototype instead).
 */
export function recordMaker(names: readonly string[]): MakeRecord {
  const props = names.map((name, i) => `${name === '__proto__' ? '["__proto__"]' : JSON.stringify(name)}: f[${i}]`);
  return new Function('f', `return { ${props.join(', ')} };`) as MakeRecord;
}

type SliceRecord = (text: string, from: number, to: number) => Record<string, unknown> | undefined;

/** Columns up to which a row is sliced into its record directly (generated code grows with them). */
const MAX_SLICED_COLUMNS = 256;

/**
 * A function that makes the record of a row without quotes straight from `text[from, to)`: each
 * field is an `indexOf` of the delimiter and a `slice`, put into an object literal as in
 * {@link recordMaker} — no array of fields in between (`split` then `make` cost about twice as
 * much). It returns undefined when the row has another number of fields than `names`; the caller
 * then splits the row to say so.
 */
export function recordSlicer(names: readonly string[], delimiter: string): SliceRecord | undefined {
  const n = names.length;
  if (n === 0 || n > MAX_SLICED_COLUMNS) return undefined;
  const step = delimiter.length;
  let body = 'let a = from, b;\n';
  for (let i = 0; i < n - 1; i++) body += `b = t.indexOf(d, a); if (b === -1 || b + ${step} > to) return undefined; const f${i} = t.slice(a, b); a = b + ${step};\n`;
  body += `b = t.indexOf(d, a); if (b !== -1 && b + ${step} <= to) return undefined; const f${n - 1} = t.slice(a, to);\n`;
  const props = names.map((name, i) => `${name === '__proto__' ? '["__proto__"]' : JSON.stringify(name)}: f${i}`);
  body += `return { ${props.join(', ')} };`;
  const slice = new Function('d', 't', 'from', 'to', body) as (d: string, t: string, from: number, to: number) => Record<string, unknown> | undefined;
  return (text, from, to) => slice(delimiter, text, from, to);
}

/** The last column lists' record functions: a raw page made into records (`materialize`) starts a parser of its own, and compiling them per page would cost more than its rows. */
const MADE = new Map<string, { make: MakeRecord; slice: SliceRecord | undefined }>();

function madeFor(names: readonly string[], options: CsvReadOptions): { make: MakeRecord; slice: SliceRecord | undefined } {
  const key = JSON.stringify([names, options.cast ? null : options.delimiter]);
  let made = MADE.get(key);
  if (!made) {
    if (MADE.size >= 16) MADE.clear();
    made = { make: recordMaker(names), slice: options.cast ? undefined : recordSlicer(names, options.delimiter) };
    MADE.set(key, made);
  }
  return made;
}

/** A broken header row: every row after it would be read under the wrong names. */
function headerError(file: string, why: string): PermanentError {
  return new PermanentError(`file: the header row of '${file}' is not valid CSV: ${why}; fix the header row`);
}

/** How a {@link CsvRecordParser} reports positions, and where its input stops short of the file's end. */
export interface CsvParseRange {
  /** `offset`: positions are `{ file, offset }` (a byte range of a split file). Default `line`. */
  readonly mode?: PositionMode;
  /**
   * The absolute offset where the input stops before the end of the file (a byte range): an
   * unterminated quote there means a quoted field with a line break crosses the range's end.
   */
  readonly cutAt?: number;
  /** Read the header row only, then ignore the rest (`headerEnd` is where it ends). */
  readonly headerOnly?: boolean;
  /**
   * Yield raw pages (`SourcePage.raw`) of `rows` rows where the database reads them as this reader
   * would (csv-raw.ts); a page is looked at only once it holds `hold` bytes or its end.
   */
  readonly raw?: { readonly shape: RawCsvShape; readonly rows: number; readonly hold: number };
}

/**
 * CSV, fed chunk by chunk, split into rows on the bytes. A row without a quote in it (the common
 * case) is one `indexOf` for its line break, one decode and one `split`; a row with quotes goes
 * through {@link CsvRowScanner}. Byte offsets and line numbers come from the bytes, so a resume
 * can seek and a dead letter can name its line.
 *
 * Bytes of a row not yet complete wait in `pending`; they are joined with what follows only once
 * at least as many new bytes have arrived, so a long row costs linear time.
 */
export class CsvRecordParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** `pendingBytes` when the pending row was last tried. */
  private triedAt = 0;
  /** Absolute offset of the first pending byte (the next byte to be read when none are pending). */
  private base: number;
  /** Line breaks passed, plus the line number the read began after. */
  private lines: number;
  /** Column names; undefined with `header: false` (until the first row) and with `header: true` until the header row is read. */
  private names: string[] | undefined;
  private make: MakeRecord | undefined;
  /** With the names known and `cast: false`: makes a row's record without splitting it first. */
  private slice: SliceRecord | undefined;
  private readonly readsHeader: boolean;
  private readonly mode: PositionMode;
  private readonly scanner: CsvRowScanner;
  private readonly quote: number;
  private readonly maxLineBytes: number;
  /** A row over `maxLineBytes`, being skipped to the end of its line. */
  private skipping: { start: number; line: number; head: Buffer } | undefined;
  /** The input ended inside quotes. */
  private openQuote = false;
  /** With `headerOnly`: the offset just after the header row. */
  headerEnd = 0;

  constructor(
    private readonly out: PageCollector,
    private readonly file: string,
    private readonly offset: number,
    lineBase: number,
    private readonly options: CsvReadOptions,
    /** The header row when resuming past it; ignored unless `options.header` is true. */
    resumeColumns?: readonly string[],
    private readonly range: CsvParseRange = {},
  ) {
    this.mode = range.mode ?? 'line';
    const header = options.header;
    this.names = header === false ? undefined : header === true ? (resumeColumns ? [...resumeColumns] : undefined) : [...header];
    if (this.names) this.setNames(this.names);
    this.readsHeader = header === true && !resumeColumns;
    this.base = offset;
    this.lines = lineBase;
    this.scanner = new CsvRowScanner(options.delimiter, options.quote);
    this.quote = options.quote === '' ? -1 : Buffer.from(options.quote)[0]!;
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  /** Raw pages are made: asked for, and the column names allow them. */
  private rawOn = false;

  private setNames(names: string[]): void {
    this.names = names;
    this.rawOn = this.range.raw !== undefined && rawColumnsOk(names);
    const made = madeFor(names, this.options);
    this.make = made.make;
    this.slice = made.slice;
  }

  /** The column names once the header row is read (or given). */
  get columns(): readonly string[] | undefined {
    return this.names;
  }

  feed(chunk: Buffer): void {
    if (this.headerEnd > 0) return;
    if (this.skipping) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.base += chunk.length;
        return;
      }
      this.endSkip(lf + 1);
      chunk = chunk.subarray(lf + 1);
      if (chunk.length === 0) return;
    }
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < 2 * this.triedAt) return this.checkLength();
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    const used = this.process(buf, false);
    if (used < buf.length) {
      const rest = buf.subarray(used);
      this.pending.push(rest);
      this.pendingBytes = this.triedAt = rest.length;
      this.checkLength();
    }
  }

  end(): void {
    if (this.skipping) {
      this.endSkip(0);
      return;
    }
    if (this.pendingBytes === 0) return;
    const buf = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.process(buf, true);
    if (this.openQuote && this.range.cutAt !== undefined) {
      throw new PermanentError(
        `file: '${this.file}' is inside a quoted CSV field at byte ${this.range.cutAt}, where it was split for a distributed run (a quoted field with a line break, or a broken quote); set split: files on this source`,
      );
    }
  }

  /** A pending row over the cap: report it and skip to the end of its line without holding it. */
  private checkLength(): void {
    if (this.pendingBytes <= this.maxLineBytes) return;
    const head = this.pending[0]!.subarray(0, RAW_BYTES);
    this.skipping = { start: this.base, line: this.lines + 1, head: Buffer.from(head) };
    // The row may have been a quoted field with line breaks: skipping restarts at a line break after the cap.
    const buf = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = this.triedAt = 0;
    const lf = buf.indexOf(LF, this.maxLineBytes);
    if (lf === -1) {
      this.countLines(buf, 0, buf.length);
      this.base += buf.length;
    } else {
      this.countLines(buf, 0, lf);
      this.base += lf;
      const rest = buf.subarray(lf);
      this.feed(rest);
    }
  }

  /** The skipped row ends `used` bytes into the current input (after its line break, or 0 at the end of the input). */
  private endSkip(used: number): void {
    const skipped = this.skipping!;
    this.skipping = undefined;
    const end = this.base + used;
    if (used > 0) this.lines++;
    const position = this.positionAt(skipped.line, skipped.start);
    const out = this.out;
    out.offset = end;
    out.line = this.lines;
    const message = tooLong('row', this.maxLineBytes);
    out.error({ error: recordErrorAt(message, position), raw: trimRaw(decodeRaw(skipped.head, 0, skipped.head.length)), position });
    this.base = end;
  }

  private countLines(buf: Buffer, from: number, to: number): void {
    for (let i = buf.indexOf(LF, from); i !== -1 && i < to; i = buf.indexOf(LF, i + 1)) this.lines++;
  }

  private positionAt(line: number, start: number): Record<string, unknown> {
    return this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset: start };
  }

  /** Reads the rows that end in `buf` (all of them when `final`); returns how many bytes were used. */
  private process(buf: Buffer, final: boolean): number {
    const n = buf.length;
    let pos = 0;
    if (this.base === 0 && buf[0] === 0xef) {
      if (n < 3 && !final) return 0;
      if (buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    if (this.range.raw === undefined) return this.rows(buf, pos, final, undefined);
    // Raw pages asked for: at each page start (nothing in the open page), the page's rows go out as
    // they are when they are plain; otherwise that page is read as records, as always.
    const base = this.base;
    const raw = this.range.raw;
    while (pos < n) {
      let until: number | undefined;
      if (this.rawOn && this.out.empty) {
        const scan = scanRawPage(buf, pos, raw.rows, final, raw.hold, this.maxLineBytes, raw.shape);
        if (scan.kind === 'wait') break;
        if (scan.kind === 'raw') {
          this.rawPage(buf, pos, scan.end, base);
          pos = scan.end;
          continue;
        }
        until = scan.until;
      }
      this.base = base;
      const next = this.rows(buf, pos, final, until);
      if (next <= pos || this.headerEnd > 0) {
        pos = Math.max(pos, next);
        break;
      }
      pos = next;
    }
    this.base = base + pos;
    return pos;
  }

  /** Yields `buf[from, to)` (whole rows, each ending in `\n`) as a raw page; `base` is the offset of `buf[0]`. */
  private rawPage(buf: Buffer, from: number, to: number, base: number): void {
    const shape = this.range.raw!.shape;
    const count = this.range.raw!.rows;
    const start = base + from;
    const linesBefore = this.lines;
    this.lines += count;
    const bytes = buf.subarray(from, to);
    const names = this.names!;
    const { file, options, range } = this;
    this.out.rawPage(
      {
        format: 'csv',
        bytes,
        count,
        columns: names,
        delimiter: shape.delimiter,
        quote: shape.quote,
        ...(options.cast ? { cast: castCsvValue } : {}),
        materialize: () => materializeCsv(bytes, file, start, linesBefore, options, names, range.mode ?? 'line'),
      },
      base + to,
      this.lines,
    );
  }

  /** Reads rows from `pos` (up to `stop`, a line start, when given); returns where it got to. */
  private rows(buf: Buffer, pos: number, final: boolean, stop: number | undefined): number {
    const n = buf.length;
    const Q = this.quote;
    const { delimiter, skipEmptyLines, cast } = this.options;
    const out = this.out;
    const scanner = this.scanner;
    // UTF-8 is checked once for every whole line here; only when that fails is each row checked.
    const whole = stop ?? (final ? n : buf.lastIndexOf(LF) + 1);
    const end_ = stop ?? n;
    const region = buf.subarray(pos, whole);
    // ASCII (most CSV files) decodes as Latin-1, which is faster; `utf8Slice`/`latin1Slice` skip
    // `toString`'s argument handling, which costs as much as the decoding for a short row.
    const ascii = isAscii(region);
    const checkRows = !ascii && !isUtf8(region);
    const decoder = decoders(buf);
    // ASCII: the region is decoded once, and a row is a slice of that string (no string of its own
    // to decode and later copy through the young generation; its fields point into the region's
    // text). Byte offsets are character offsets there: `text[i]` is byte `textAt + i`.
    const text = ascii ? decoder.latin1Slice(pos, whole) : undefined;
    const textAt = pos;
    let q = Q === -1 ? -1 : buf.indexOf(Q, pos);
    const base = this.base;
    while (pos < end_) {
      let lf: number;
      if (text !== undefined && pos <= whole) {
        lf = text.indexOf('\n', pos - textAt);
        if (lf !== -1) lf += textAt;
      } else {
        lf = buf.indexOf(LF, pos);
      }
      if (lf === -1 && !final) break;
      const lineEnd = lf === -1 ? n : lf;
      if (q !== -1 && q < pos) q = buf.indexOf(Q, pos);
      let fields: Fields = NO_FIELDS;
      /** The row's record, when {@link recordSlicer} made it. */
      let record: Record<string, unknown> | undefined;
      let quoted: boolean[] | undefined;
      let end: number;
      let contentEnd: number;
      let newlines: number;
      let error: string | undefined;
      if (q === -1 || q >= lineEnd) {
        end = lf === -1 ? n : lf + 1;
        contentEnd = lineEnd > pos && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
        newlines = lf === -1 ? 0 : 1;
        if (contentEnd === pos && skipEmptyLines) {
          pos = end;
          this.lines += newlines;
          continue;
        }
        if (text !== undefined) {
          record = this.slice?.(text, pos - textAt, contentEnd - textAt);
          if (record === undefined) fields = text.slice(pos - textAt, contentEnd - textAt).split(delimiter);
        } else {
          const line = decoder.utf8Slice(pos, contentEnd);
          record = this.slice?.(line, 0, line.length);
          if (record === undefined) fields = line.split(delimiter);
        }
      } else {
        if (!scanner.scan(buf, pos, final)) break;
        end = scanner.end;
        contentEnd = scanner.contentEnd;
        newlines = 0;
        for (let i = buf.indexOf(LF, pos); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) newlines++;
        if (scanner.error) {
          error = CSV_ROW_ERRORS[scanner.error];
          if (scanner.error === 'unterminated') this.openQuote = true;
        }
        fields = scanner.fields;
        quoted = scanner.quoted;
      }
      if (end - pos - (buf[end - 1] === LF ? 1 : 0) > this.maxLineBytes) {
        // Too long: cut where a read in small chunks would have (the first line break past the cap).
        const lf = buf.indexOf(LF, pos + this.maxLineBytes);
        this.skipping = { start: base + pos, line: this.lines + 1, head: Buffer.from(buf.subarray(pos, pos + RAW_BYTES)) };
        const skipEnd = lf === -1 ? n : lf;
        this.countLines(buf, pos, skipEnd);
        this.base = base + skipEnd;
        this.endSkip(lf === -1 ? 0 : 1);
        pos = lf === -1 ? n : lf + 1;
        if (this.rawOn && out.empty) break;
        continue;
      }
      const start = base + pos;
      const line = this.lines + 1;
      const lastLine = line + newlines - (buf[end - 1] === LF ? 1 : 0);
      this.lines += newlines;
      if (checkRows && error === undefined && !isUtf8(buf.subarray(pos, end))) error = invalidUtf8(buf.subarray(pos, contentEnd));
      if (this.names === undefined && this.readsHeader) {
        if (error !== undefined) throw headerError(this.file, error.split(':')[0]!);
        this.setNames(fields.map(String));
        pos = end;
        if (this.range.headerOnly) {
          this.headerEnd = base + end;
          this.base = base + n;
          return n;
        }
        // The first page may be raw.
        if (this.rawOn) break;
        continue;
      }
      out.offset = base + end;
      out.line = lastLine;
      const position = this.positionAt(line, start);
      if (error === undefined && record === undefined) {
        const expected = this.names ? this.names.length : fields.length;
        if (fields.length !== expected) error = `wrong number of fields: expected ${expected}, got ${fields.length}`;
      }
      if (error !== undefined) {
        const raw = error.startsWith('invalid UTF-8') ? rawBytes(buf.subarray(pos, contentEnd)) : trimRaw(decodeRaw(buf, pos, contentEnd));
        out.error({ error: recordErrorAt(error, position), raw, position });
      } else if (record !== undefined) {
        out.record(record, position);
      } else {
        if (this.make === undefined) {
          // No header row: the first row fixes the number of columns ("0", "1", …).
          this.setNames(fields.map((_, i) => String(i)));
        }
        if (cast) {
          const values: unknown[] = fields;
          for (let i = 0; i < values.length; i++) values[i] = castCsvValue(values[i] as string, quoted !== undefined && quoted[i]!);
        }
        out.record(this.make!(fields), position);
      }
      pos = end;
      // A page just closed: the next one may be raw (with `header: false`, from the first row's page on).
      if (this.rawOn && out.empty) break;
    }
    this.base = base + pos;
    return pos;
  }
}

/**
 * A raw page's records: its bytes read by the reader as they would have been without raw pages
 * (records, positions with line numbers or byte offsets, record errors).
 */
function materializeCsv(bytes: Buffer, file: string, start: number, linesBefore: number, options: CsvReadOptions, names: readonly string[], mode: PositionMode): SourcePage {
  const pages = new PageCollector(Number.MAX_SAFE_INTEGER, false);
  const parser = new CsvRecordParser(pages, file, start, linesBefore, { ...options, header: [...names] }, undefined, { mode });
  parser.feed(bytes);
  parser.end();
  pages.seal();
  const page = pages.ready[0];
  return page ? { records: page.records, ...(page.positions ? { positions: page.positions } : {}), ...(page.errors ? { errors: page.errors } : {}), cursor: undefined } : { records: [], cursor: undefined };
}

/** The text of a row for an error report: its first few KiB, without the line break at its end. */
function decodeRaw(buf: Buffer, from: number, to: number): string {
  let end = Math.min(to, from + RAW_BYTES);
  while (end > from && (buf[end - 1] === LF || buf[end - 1] === CR)) end--;
  return buf.toString('utf8', from, end);
}

/** Reads the header row of a CSV file from its start: a resumed read seeks past it, but still needs the column names. */
export async function readCsvHeader(file: InputFile, options: CsvReadOptions): Promise<string[]> {
  return (await readCsvHeaderRow(file, options)).columns;
}

/** The header row of a CSV file and the offset just after it (the first data row starts at or after it). */
export async function readCsvHeaderRow(file: InputFile, options: CsvReadOptions): Promise<{ columns: string[]; end: number }> {
  // The parser stops at the header row: its collector never takes anything.
  const parser = new CsvRecordParser(undefined as unknown as PageCollector, file.name, 0, 0, { ...options, header: true }, undefined, { headerOnly: true });
  for await (const chunk of new FileChunks(file, 0)) {
    parser.feed(chunk);
    if (parser.columns) break;
  }
  if (!parser.columns) parser.end();
  if (!parser.columns) throw new PermanentError(`file: cannot read the header row of '${file.name}' to resume; run with --fresh`);
  return { columns: [...parser.columns], end: parser.headerEnd };
}
