import { PermanentError } from '@sluice/core';
import { Parser, type CsvError, type InfoField, type InfoRecord, type Options } from 'csv-parse';
import { ByteWindow } from './byte-window.js';
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

function parserOptions(options: CsvReadOptions, fromStart: boolean, columns: Options['columns']): Options {
  return {
    delimiter: options.delimiter,
    quote: options.quote === '' ? false : options.quote,
    skip_empty_lines: options.skipEmptyLines,
    bom: fromStart,
    columns,
    // Bad rows are reported, not fatal: wrong field counts arrive as records (counted here),
    // quote errors through `on_skip`.
    relax_column_count: true,
    skip_records_with_error: true,
  };
}

/** A broken header row: every row after it would be read under the wrong names. */
function headerError(file: string, cause: Error): PermanentError {
  return new PermanentError(`file: the header row of '${file}' is not valid CSV: ${describeCsvError(cause)}; fix the header row`, { cause });
}

/**
 * Thrown from csv-parse's callbacks to stop the parser in the middle of a write: after the header
 * row (the rows after it are parsed with its names), and after a quote error (csv-parse would go
 * on inside a quoted field that never closes, swallowing the rows after it).
 */
const RESTART = new Error('csv: restart the parser');

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

/** A row csv-parse gave up on, waiting for the end of the line where it gave up. */
interface BadRow {
  /** Offset of its first byte. */
  readonly start: number;
  readonly line: number;
  /** Offset of the byte after the one csv-parse stopped at: the row ends at the first line break from here. */
  from: number;
  readonly cause: Error;
}

/**
 * CSV through csv-parse, fed chunk by chunk. Records arrive synchronously through `on_record`
 * (returning null keeps them out of the stream's buffer), with the byte offset after the record
 * (`info.bytes`, counted from where that parser began).
 *
 * A quote error is csv-parse's last word on the rest of its input (after an invalid closing
 * quote it stays inside the field), so the parser is dropped: the row is reported up to the end of
 * the line the error is on, and a new parser starts at the next line with the same column names.
 * The header row is read by a parser of its own for the same reason: each later one starts at a
 * known offset. Row starts, line numbers and raw text come from the bytes (a {@link ByteWindow}),
 * not from csv-parse's `raw` and `info.lines`.
 */
export class CsvRecordParser {
  private parser!: Parser;
  /** Offset where `parser`'s input begins. */
  private parserStart = 0;
  private failure: Error | undefined;
  private fed = 0;
  private ended = false;
  /** Column names; undefined with `header: false`, and with `header: true` until the header row is read. */
  private names: string[] | undefined;
  private readonly readsHeader: boolean;
  private readonly window: ByteWindow;
  private firstLength: number | undefined;
  private readonly mode: PositionMode;
  /** Where a new parser must start (after the header row, or after a bad row). */
  private restartAt: number | undefined;
  private bad: BadRow | undefined;
  private readonly delimiterLength: number;
  /** The quote and csv-parse's default escape (`"`), when each is a single byte: to find where a quoted field went wrong. */
  private readonly quote: number | undefined;
  private readonly escape = 0x22;
  /** The input ended inside quotes. */
  private openQuote = false;

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
    this.readsHeader = header === true && !resumeColumns;
    this.window = new ByteWindow(lineBase);
    this.delimiterLength = Buffer.byteLength(options.delimiter);
    const quote = Buffer.from(options.quote);
    this.quote = quote.length === 1 ? quote[0] : undefined;
    this.startParser(0);
  }

  feed(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    this.fed += chunk.length;
    this.window.push(chunk);
    if (this.restartAt === undefined && this.bad === undefined) this.parser.write(chunk);
    this.settle();
    if (this.failure) throw this.failure;
  }

  async end(): Promise<void> {
    this.ended = true;
    for (;;) {
      this.settle();
      if (this.failure) throw this.failure;
      const parser = this.parser;
      const done = new Promise<void>((resolve, reject) => parser.once('finish', resolve).once('error', reject));
      parser.end();
      try {
        await done;
      } catch (error) {
        if (error !== RESTART) throw this.failure ?? error;
      }
      if (this.failure) throw this.failure;
      if (this.restartAt === undefined && this.bad === undefined) break;
    }
    if (this.openQuote && this.range.cutAt !== undefined) {
      throw new PermanentError(
        `file: '${this.file}' is inside a quoted CSV field at byte ${this.range.cutAt}, where it was split for a distributed run (a quoted field with a line break, or a broken quote); set split: files on this source`,
      );
    }
  }

  private startParser(at: number): void {
    const header = this.readsHeader && this.names === undefined;
    const fromStart = at === 0 && this.offset === 0;
    const parser = new Parser({
      ...parserOptions(this.options, fromStart, this.names ?? false),
      // The header row is names, not values.
      cast: this.options.cast && !header ? castCsvValue : false,
      on_record: (record: unknown, info: InfoRecord) => {
        try {
          if (header) this.onHeader(record as unknown[], info);
          else this.onRecord(record, info);
        } catch (error) {
          this.stop(error);
        }
        return null;
      },
      on_skip: (error: CsvError | undefined) => {
        try {
          this.onSkip(error, header);
        } catch (error) {
          this.stop(error);
        }
        return undefined;
      },
    });
    // Errors are taken from the callbacks (`failure`), or are a RESTART; a stream error arrives a tick later.
    parser.on('error', (error) => {
      if (error !== RESTART && parser === this.parser) this.failure ??= error;
    });
    parser.resume();
    this.parser = parser;
    this.parserStart = at;
  }

  /** Stops csv-parse from one of its callbacks (it turns what they throw into a stream error); an error other than RESTART fails the read. */
  private stop(error: unknown): never {
    if (error !== RESTART) this.failure ??= error as Error;
    throw error;
  }

  /** Carries out what the callbacks asked for: a new parser after the header row or after a bad row. */
  private settle(): void {
    while (!this.failure && (this.restartAt !== undefined || this.bad !== undefined)) {
      if (this.bad) {
        const end = this.badRowEnd(this.bad);
        if (end === undefined) return; // its line goes on in the next chunk
        this.reportBadRow(this.bad, end);
        this.bad = undefined;
        this.restartAt = end;
      }
      const at = this.restartAt!;
      this.restartAt = undefined;
      this.startParser(at);
      for (const bytes of this.window.bytesFrom(at)) {
        this.parser.write(bytes);
        if (this.failure || this.restartAt !== undefined || this.bad !== undefined) break;
      }
    }
  }

  private positionAt(line: number, start: number): Record<string, unknown> {
    return this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset: this.offset + start };
  }

  /** Where the current row starts: past the empty lines csv-parse skipped (with `skipEmptyLines`, an empty line is a row). */
  private rowStart(limit: number): number {
    return this.options.skipEmptyLines ? this.window.skipBreaks(limit) : this.window.position;
  }

  private onHeader(record: unknown[], info: InfoRecord): void {
    this.names = record.map(String);
    this.restartAt = this.parserStart + info.bytes;
    this.window.lineEndingAt(this.restartAt);
    throw RESTART;
  }

  private onRecord(record: unknown, info: InfoRecord): void {
    const out = this.out;
    const window = this.window;
    const end = this.parserStart + info.bytes;
    const start = this.rowStart(end);
    const position = this.positionAt(window.nextLine, start);
    // Counted here, not by csv-parse: a parser started after a bad row would take its first row's length.
    const fields = info.index;
    const expected = this.names ? this.names.length : (this.firstLength ??= fields);
    if (fields !== expected) {
      const raw = trimRaw(this.rawText(start, end));
      out.offset = this.offset + end;
      out.line = window.lineEndingAt(end);
      out.error({ error: recordErrorAt(`wrong number of fields: expected ${expected}, got ${fields}`, position, info.error ?? undefined), raw, position });
      return;
    }
    out.offset = this.offset + end;
    out.line = window.lineEndingAt(end);
    out.record(this.names ? (record as Record<string, unknown>) : { ...(record as unknown[]) }, position);
  }

  private onSkip(error: CsvError | undefined, header: boolean): void {
    const cause = error ?? new Error('invalid CSV row');
    if (header) {
      this.failure = headerError(this.file, cause);
      throw RESTART;
    }
    const start = this.rowStart(this.fed);
    const line = this.window.nextLine;
    if ((cause as CsvError).code === 'CSV_QUOTE_NOT_CLOSED') this.openQuote = true;
    this.bad = { start, line, from: this.stopOffset(cause as CsvError, start), cause };
    throw RESTART;
  }

  /**
   * The offset just after the byte csv-parse stopped at, from the error's context: `index` fields of
   * the row were complete, the last one ending at the delimiter at `bytes`.
   */
  private stopOffset(error: CsvError, start: number): number {
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') return this.fed;
    const { index, bytes } = error;
    const field = typeof index === 'number' && index > 0 && typeof bytes === 'number' ? this.parserStart + bytes + this.delimiterLength : start;
    if (error.code === 'CSV_INVALID_CLOSING_QUOTE') return this.closingQuoteEnd(field) ?? field;
    return field;
  }

  /** After the first quote that ends the quoted field at `field` (its opening quote), skipping escaped ones. */
  private closingQuoteEnd(field: number): number | undefined {
    const { quote, escape, window } = this;
    if (quote === undefined || window.byteAt(field) !== quote) return undefined;
    for (let i = field + 1; ; ) {
      const q = window.indexOf(quote, i);
      if (q === -1) return undefined;
      if (escape === quote) {
        if (window.byteAt(q + 1) === quote) {
          i = q + 2;
          continue;
        }
      } else {
        const e = window.indexOf(escape, i);
        if (e !== -1 && e < q) {
          i = e + 2;
          continue;
        }
      }
      return q + 1;
    }
  }

  /** Where a bad row ends: after the line break that ends the line csv-parse stopped on; undefined until it has arrived. */
  private badRowEnd(bad: BadRow): number | undefined {
    const lf = this.window.indexOf(0x0a, bad.from);
    if (lf !== -1) return lf + 1;
    bad.from = this.fed; // the next chunk is searched from its start
    return this.ended ? this.fed : undefined;
  }

  private reportBadRow(bad: BadRow, end: number): void {
    const out = this.out;
    const position = this.positionAt(bad.line, bad.start);
    const raw = trimRaw(this.rawText(bad.start, end));
    out.offset = this.offset + end;
    out.line = this.window.lineEndingAt(end);
    out.error({ error: recordErrorAt(describeCsvError(bad.cause), position, bad.cause), raw, position });
  }

  private rawText(start: number, end: number): string {
    const text = this.window.text(start, end);
    return start === 0 && this.offset === 0 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
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
  let broken: Error | undefined;
  let end = 0;
  const parser = new Parser({
    ...parserOptions(options, true, false),
    on_record: (record: unknown, info: InfoRecord) => {
      if (!header && !broken) {
        header = (record as unknown[]).map(String);
        end = info.bytes;
      }
      return null;
    },
    on_skip: (error: CsvError | undefined) => {
      if (!header) broken ??= error ?? new Error('invalid CSV row');
      return undefined;
    },
  });
  parser.on('error', () => {});
  parser.resume();
  const chunks = new FileChunks(file, 0);
  for await (const chunk of chunks) {
    parser.write(chunk);
    if (header || broken) break;
  }
  if (!header && !broken) {
    parser.end();
    await new Promise((resolve) => parser.once('finish', resolve).once('error', resolve));
  }
  parser.destroy();
  if (broken) throw headerError(file.name, broken);
  if (!header) throw new PermanentError(`file: cannot read the header row of '${file.name}' to resume; run with --fresh`);
  return { columns: header, end };
}
