import { PermanentError, type SourceRecordError } from '@sluice/core';
import { Parser, type CsvError, type InfoField, type InfoRecord, type Options } from 'csv-parse';
import { FileChunks } from './chunks.js';
import type { InputFile } from './files.js';
import { trimRaw } from './formats.js';
import { recordErrorAt, type PositionMode } from './lines.js';
import type { PageCollector } from './page.js';

export interface CsvReadOptions {
  readonly delimiter: string;
  /** true: the first row names the columns; false: columns are named "0", "1", …; or the names. */
  readonly header: boolean | readonly string[];
  /** "" turns quoting off. */
  readonly quote: string;
  readonly skipEmptyLines: boolean;
  readonly cast: boolean;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:true|false)$/i;

/**
 * `cast: true`: numbers and booleans become JSON values, an unquoted empty field becomes null.
 * Left as text: quoted empty fields (""), numbers with leading zeros (zip codes, ids like 007),
 * and integers too large to be exact.
 */
export function castCsvValue(value: string, context: Pick<InfoField, 'header' | 'quoting'>): unknown {
  if (context.header) return value;
  if (value === '') return context.quoting ? '' : null;
  if (BOOLEAN.test(value)) return value.toLowerCase() === 'true';
  if (NUMBER.test(value)) {
    const n = Number(value);
    const integral = !/[.eE]/.test(value);
    if (Number.isFinite(n) && (!integral || Number.isSafeInteger(n))) return n;
  }
  return value;
}

const MESSAGES: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'unterminated quoted field: the file ends inside quotes',
  CSV_INVALID_CLOSING_QUOTE: 'invalid closing quote: a closing quote must be followed by the delimiter or the end of the line',
  INVALID_OPENING_QUOTE: 'invalid opening quote: a quote inside an unquoted field (quote the whole field and double inner quotes)',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'invalid closing quote: found a character after it',
};

/** csv-parse's message without its line numbers, which count from where this parse began. */
function describeCsvError(error: CsvError | Error): string {
  const code = (error as CsvError).code;
  return MESSAGES[code] ?? `invalid CSV: ${error.message.replace(/\s*(?:at|on) line \d+/g, '')}`;
}

/** Drops the empty lines csv-parse keeps in front of a record and the record's line break. */
function trimLineBreaks(raw: string): string {
  let start = 0;
  let end = raw.length;
  while (start < end && (raw.charCodeAt(start) === 10 || raw.charCodeAt(start) === 13)) start++;
  while (end > start && (raw.charCodeAt(end - 1) === 10 || raw.charCodeAt(end - 1) === 13)) end--;
  return start === 0 && end === raw.length ? raw : raw.slice(start, end);
}

function countLineBreaks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function parserOptions(options: CsvReadOptions, fromStart: boolean, columns: RawOptions['columns']): RawOptions {
  return {
    delimiter: options.delimiter,
    quote: options.quote === '' ? false : options.quote,
    skip_empty_lines: options.skipEmptyLines,
    bom: fromStart,
    columns,
    // Bad rows are reported, not fatal: wrong field counts arrive as records with `info.error`,
    // quote errors through `on_skip`.
    relax_column_count: true,
    skip_records_with_error: true,
    raw: true,
  };
}

/**
 * Line numbers from the bytes themselves: csv-parse's `info.lines` counts a CRLF inside a quoted
 * field twice. Keeps the chunks not yet passed by a record, counts `\n` up to each record's end.
 */
class LineCounter {
  private chunks: Buffer[] = [];
  /** Offset (from where parsing began) of `chunks[0]`'s first byte. */
  private first = 0;
  /** Bytes up to here are counted. */
  private pos = 0;
  /** `\n` bytes before `pos`, plus the line number parsing began after. */
  private newlines: number;
  /** Whether the byte before `pos` is a `\n` (so `pos` starts a new line). */
  private endsWithNewline = true;

  constructor(lineBase: number) {
    this.newlines = lineBase;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /** The line of the last byte before `end` (a record's last line), counting up to `end`. */
  lineEndingAt(end: number): number {
    if (end > this.pos) {
      let start = this.first;
      let dropped = 0;
      for (const chunk of this.chunks) {
        const chunkEnd = start + chunk.length;
        if (chunkEnd > this.pos) {
          const to = Math.min(end, chunkEnd) - start;
          for (let i = chunk.indexOf(10, Math.max(this.pos, start) - start); i !== -1 && i < to; i = chunk.indexOf(10, i + 1)) this.newlines++;
          if (end > start && end <= chunkEnd) this.endsWithNewline = chunk[end - 1 - start] === 10;
        }
        if (chunkEnd > end) break;
        dropped++;
        start = chunkEnd;
      }
      for (let i = 0; i < dropped; i++) this.first += this.chunks.shift()!.length;
      this.pos = end;
    }
    return this.endsWithNewline ? this.newlines : this.newlines + 1;
  }

  /**
   * Where the next row starts: the offset (from where parsing began) of the first byte at or
   * after `pos` that is not a line break.
   */
  nextContentOffset(): number {
    let start = this.first;
    for (const chunk of this.chunks) {
      for (let i = Math.max(0, this.pos - start); i < chunk.length; i++) {
        const c = chunk[i];
        if (c !== 10 && c !== 13) return start + i;
      }
      start += chunk.length;
    }
    return Math.max(this.pos, start);
  }

  /**
   * Where a record that ends at `end` (its line break included) and holds `breaks` line breaks
   * starts: just after the line break before its first line. Found backwards from `end`, so text
   * skipped before it (a broken quote) does not count; when that line break lies before `pos`,
   * the record starts at the first byte after `pos` that is not a line break.
   */
  recordStart(end: number, breaks: number): number {
    let base = this.first;
    const bases: number[] = [];
    for (const chunk of this.chunks) {
      bases.push(base);
      base += chunk.length;
    }
    let seen = -1; // -1: still in the record's own line break
    for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c]!;
      const at = bases[c]!;
      if (at >= end) continue;
      for (let i = Math.min(chunk.length, end - at) - 1; i >= 0 && at + i >= this.pos; i--) {
        const b = chunk[i];
        if (seen === -1) {
          if (b === 10 || b === 13) continue;
          seen = 0;
        }
        if (b === 10 && ++seen > breaks) return at + i + 1;
      }
      if (at <= this.pos) break;
    }
    return this.nextContentOffset();
  }

  /** The line of the first byte after `pos` that is not a line break (where the next row starts). */
  nextContentLine(): number {
    let line = this.newlines + 1;
    let start = this.first;
    for (const chunk of this.chunks) {
      for (let i = Math.max(0, this.pos - start); i < chunk.length; i++) {
        const c = chunk[i];
        if (c === 10) line++;
        else if (c !== 13) return line;
      }
      start += chunk.length;
    }
    return line;
  }
}

type RawRecord = { record: Record<string, unknown> | unknown[]; raw: string };
/** Options whose `on_record` sees `{ record, raw }` (csv-parse's `raw: true` shape). */
type RawOptions = Options<RawRecord, RawRecord>;
const asOptions = (options: RawOptions) => options as unknown as Options;

/** How a {@link CsvRecordParser} reports positions, and where its input stops short of the file's end. */
export interface CsvParseRange {
  /** `offset`: positions are `{ file, offset }` (a byte range of a split file). Default `line`. */
  readonly mode?: PositionMode;
  /**
   * The absolute offset where the input stops before the end of the file (a byte range): an
   * unterminated quote there means a quoted field with a line break crosses the range's end.
   */
  readonly cutAt?: number;
}

/**
 * CSV through csv-parse, fed chunk by chunk. Records arrive synchronously through `on_record`
 * (returning null keeps them out of the stream's buffer), with the byte offset after the record
 * (`info.bytes`) and its line. A quote error surfaces mid-record without an end offset, so it is
 * held and added to the page just before the next item, whose offset covers it.
 */
export class CsvRecordParser {
  private readonly parser: Parser;
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private held: SourceRecordError[] = [];
  private fed = 0;
  private readonly named: boolean;
  private readonly lines: LineCounter;
  private firstLength: number | undefined;
  private readonly mode: PositionMode;
  /** The input ended inside quotes. */
  private openQuote = false;

  constructor(
    private readonly out: PageCollector,
    private readonly file: string,
    private readonly offset: number,
    lineBase: number,
    options: CsvReadOptions,
    /** The header row when resuming past it; ignored unless `options.header` is true. */
    resumeColumns?: readonly string[],
    private readonly range: CsvParseRange = {},
  ) {
    this.mode = range.mode ?? 'line';
    const header = options.header;
    const columns: RawOptions['columns'] =
      header === false ? false : header === true ? (resumeColumns ? [...resumeColumns] : true) : [...header];
    this.named = columns !== false;
    this.lines = new LineCounter(lineBase);
    this.parser = new Parser(
      asOptions({
        ...parserOptions(options, offset === 0, columns),
        cast: options.cast ? castCsvValue : false,
        on_record: (record, info) => {
          this.onRecord(record, info);
          return null;
        },
        on_skip: (error, raw) => {
          this.onSkip(error, raw);
          return undefined;
        },
      }),
    );
    this.done = new Promise((resolve, reject) => {
      this.parser.once('finish', resolve);
      this.parser.once('error', (error) => {
        this.failure = error;
        reject(error);
      });
    });
    this.done.catch(() => {});
    this.parser.resume();
  }

  feed(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    this.fed += chunk.length;
    this.lines.push(chunk);
    this.parser.write(chunk);
  }

  async end(): Promise<void> {
    if (this.failure) throw this.failure;
    this.parser.end();
    await this.done;
    if (this.openQuote && this.range.cutAt !== undefined) {
      throw new PermanentError(
        `file: '${this.file}' is inside a quoted CSV field at byte ${this.range.cutAt}, where it was split for a distributed run (a quoted field with a line break, or a broken quote); set split: files on this source`,
      );
    }
    if (this.held.length > 0) {
      const out = this.out;
      out.offset = this.offset + this.fed;
      out.line = this.lines.lineEndingAt(this.fed);
      const last = this.held.pop()!;
      for (const error of this.held) out.error(error, false);
      out.error(last);
      this.held = [];
    }
  }

  private positionAt(line: number, offset: number): Record<string, unknown> {
    return this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset };
  }

  private onRecord(item: RawRecord, info: InfoRecord): void {
    const out = this.out;
    const raw = trimLineBreaks(item.raw);
    const breaks = countLineBreaks(raw);
    const first = this.mode === 'offset' ? this.offset + this.lines.recordStart(info.bytes, breaks) : 0;
    const endLine = this.lines.lineEndingAt(info.bytes);
    const line = endLine - breaks;
    const position = this.positionAt(line, first);
    for (const error of this.held) out.error(error, false);
    this.held = [];
    out.offset = this.offset + info.bytes;
    out.line = endLine;
    // Without names, csv-parse expects every row to be as long as the first one it saw.
    this.firstLength ??= info.index;
    if (info.error) {
      const columns = (info as unknown as { columns: unknown }).columns;
      const expected = Array.isArray(columns) ? columns.length : this.firstLength;
      const message = `wrong number of fields: expected ${expected}, got ${info.index}`;
      out.error({ error: recordErrorAt(message, position, info.error), raw: trimRaw(raw), position });
      return;
    }
    const record = this.named ? (item.record as Record<string, unknown>) : { ...(item.record as unknown[]) };
    out.record(record, position);
  }

  private onSkip(error: CsvError | undefined, rawText: string | undefined): void {
    const raw = trimLineBreaks(rawText ?? '');
    const position =
      this.mode === 'line' ? this.positionAt(this.lines.nextContentLine(), 0) : this.positionAt(0, this.offset + this.lines.nextContentOffset());
    const cause = error ?? new Error('invalid CSV row');
    if ((cause as CsvError).code === 'CSV_QUOTE_NOT_CLOSED') this.openQuote = true;
    this.held.push({ error: recordErrorAt(describeCsvError(cause), position, cause), raw: trimRaw(raw), position });
  }
}

/**
 * The header row of a CSV file, read from its start: a resumed read seeks past it, but still
 * needs the column names.
 */
export async function readCsvHeader(file: InputFile, options: CsvReadOptions): Promise<string[]> {
  return (await readCsvHeaderRow(file, options)).columns;
}

/** The header row of a CSV file and the offset just after it (the first data row starts at or after it). */
export async function readCsvHeaderRow(file: InputFile, options: CsvReadOptions): Promise<{ columns: string[]; end: number }> {
  let header: string[] | undefined;
  let end = 0;
  const parser = new Parser(
    asOptions({
      ...parserOptions(options, true, false),
      on_record: (item, info) => {
        if (!header) {
          header = (item.record as unknown[]).map(String);
          end = info.bytes;
        }
        return null;
      },
    }),
  );
  parser.on('error', () => {});
  parser.resume();
  const chunks = new FileChunks(file, 0);
  for await (const chunk of chunks) {
    parser.write(chunk);
    if (header) break;
  }
  if (!header) {
    parser.end();
    await new Promise((resolve) => parser.once('finish', resolve).once('error', resolve));
  }
  parser.destroy();
  if (!header) throw new PermanentError(`file: cannot read the header row of '${file.name}' to resume; run with --fresh`);
  return { columns: header, end };
}
