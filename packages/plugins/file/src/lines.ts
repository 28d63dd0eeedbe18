import { isAscii, isUtf8 } from 'node:buffer';
import { RecordError, type RecordPosition } from '@sluice/core';
import { trimRaw } from './formats.js';
import { InexactNumberError, longDigitRun, longExponent, mayHaveLostExponent, parseJsonExact } from './json-values.js';
import { DEFAULT_MAX_LINE_BYTES, invalidUtf8, rawBytes, tooLong } from './limits.js';
import type { PageCollector } from './page.js';

const LF = 0x0a;
const CR = 0x0d;
const RAW_BYTES = 4 * 1024;
const DECODE_BYTES = 64 * 1024;
/**
 * Two objects with a comma between them, JSON whitespace allowed around it. A piece of text without
 * it has no line holding two records side by side, which the one-parse path relies on (see
 * `processWhole`); inside a string it only sends the piece down the line-by-line path.
 */
const OBJECTS_SIDE_BY_SIDE = /\}[ \t\r\n]*,[ \t\r\n]*\{/;
/**
 * The same, or an exponent of three digits or more (json-values.ts `longExponent`): one scan of a
 * piece answers both in the common case, where neither is there.
 */
const SIDE_BY_SIDE_OR_EXPONENT = /\}[ \t\r\n]*,[ \t\r\n]*\{|[eE][+-]?[0-9]{3}/g;

/**
 * What a record's position says: `line` (its line number, when the read began at the start of
 * the file), or `offset` (the byte offset of its first byte, for a byte range of a file split
 * for a distributed run, where counting the lines before the range would mean reading them).
 */
export type PositionMode = 'line' | 'offset';

/** Node's Buffer decoders behind `toString` (on every Buffer since Node 0.x, untyped). */
export interface SliceDecoder {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
export const decoders = (buf: Buffer) => buf as unknown as SliceDecoder;

/** A record-level error with the file position in its details. */
export function recordError(message: string, file: string, line: number, cause?: unknown): RecordError {
  return recordErrorAt(message, { file, line }, cause);
}

/** A record-level error with `position` as its details. */
export function recordErrorAt(message: string, position: RecordPosition, cause?: unknown): RecordError {
  return new RecordError(message, { ...position }, cause === undefined ? undefined : { cause });
}

/** What else a {@link JsonLinesParser} needs to know. */
export interface JsonLinesOptions {
  readonly mode?: PositionMode;
  readonly maxLineBytes?: number;
  /** Told about a last line that has no line break and does not parse: it is left for a later run. */
  readonly onPartialLastLine?: (line: number, bytes: number) => void;
  /**
   * false: parse every line on its own, never a whole piece of lines with one JSON.parse. The
   * results are the same either way (the equivalence test compares them); true by default.
   */
  readonly wholePieces?: boolean;
}

/**
 * JSON Lines: finds line breaks in the bytes (`indexOf`), decodes the whole lines of a chunk in
 * pieces of ~64 KiB with one call each, and parses a piece's lines with ONE JSON.parse of
 * `[line,line,…]` (far fewer native calls, no string per line); a piece that does not come out as
 * one object per line is read again line by line, so a bad line still costs one record, with its
 * line number and byte offset. Records go to the collector with the byte offset just after their
 * line. Synchronous per chunk; no per-record promises or closures.
 *
 * A line with a number a double may not hold (found by a scan of the piece's text) is parsed
 * exactly instead (see json-values.ts). Bytes that are not UTF-8 make their line a record error.
 * A last line without a line break that does not parse is not consumed: the writer may still be
 * appending it.
 */
export class JsonLinesParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Absolute offset of the next byte to process (the first pending one, if any). */
  private base: number;
  /** Number of the last line seen (1-based; counted from where the read began in offset mode). */
  private line: number;
  private readonly mode: PositionMode;
  private readonly maxLineBytes: number;
  /** A line over `maxLineBytes`, being skipped to its end. */
  private skipping: { start: number; line: number; head: Buffer } | undefined;
  private readonly wholePieces: boolean;
  /** Where the lines of the piece being read end (their `\n`, as offsets in its text); reused. */
  private breaks = new Int32Array(1024);

  constructor(
    private readonly out: PageCollector,
    private readonly file: string,
    offset: number,
    line: number,
    modeOrOptions: PositionMode | JsonLinesOptions = {},
  ) {
    const options = typeof modeOrOptions === 'string' ? { mode: modeOrOptions } : modeOrOptions;
    this.base = offset;
    this.line = line;
    this.mode = options.mode ?? 'line';
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.onPartialLastLine = options.onPartialLastLine;
    this.wholePieces = options.wholePieces ?? true;
  }

  private readonly onPartialLastLine: JsonLinesOptions['onPartialLastLine'];

  feed(chunk: Buffer): void {
    let from = 0;
    if (this.skipping) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.base += chunk.length;
        return;
      }
      this.endSkip(lf + 1);
      from = lf + 1;
    } else if (this.pendingBytes > 0) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        this.checkLength();
        return;
      }
      this.pending.push(chunk.subarray(0, lf + 1));
      const joined = Buffer.concat(this.pending, this.pendingBytes + lf + 1);
      this.pending = [];
      this.pendingBytes = 0;
      if (joined.length - 1 > this.maxLineBytes) this.skipLine(joined.subarray(0, RAW_BYTES), joined.length);
      else this.process(joined, 0, joined.length);
      from = lf + 1;
    }
    const last = chunk.lastIndexOf(LF);
    // Whole lines are decoded in pieces of about 64 KiB: one string of a whole 1 MiB chunk would be
    // held (with every record sliced from it) until the page is done, which showed in peak RSS.
    for (let start = from; start <= last; ) {
      let end = start + DECODE_BYTES >= last ? last : chunk.indexOf(LF, start + DECODE_BYTES);
      if (end === -1 || end > last) end = last;
      this.process(chunk, start, end + 1);
      start = end + 1;
    }
    const rest = last >= from ? last + 1 : from;
    if (rest < chunk.length) {
      this.pending.push(chunk.subarray(rest));
      this.pendingBytes = chunk.length - rest;
      this.checkLength();
    }
  }

  /** The last line, when the file does not end with a newline. */
  end(): void {
    if (this.skipping) return this.endSkip(0);
    if (this.pendingBytes === 0) return;
    const joined = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.process(joined, 0, joined.length, true);
  }

  private checkLength(): void {
    if (this.pendingBytes <= this.maxLineBytes) return;
    const head = Buffer.concat(this.pending).subarray(0, RAW_BYTES);
    this.skipLine(head, 0);
    this.base += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Starts skipping an over-long line that began at `base`; `length` > 0: it is whole already (ends with its line break). */
  private skipLine(head: Buffer, length: number): void {
    this.skipping = { start: this.base, line: this.line + 1, head: Buffer.from(head) };
    if (length > 0) {
      this.base += length;
      this.endSkip(0);
    }
  }

  /** The skipped line ends `used` bytes into the current input (after its line break), or at the end of the input. */
  private endSkip(used: number): void {
    const skipped = this.skipping!;
    this.skipping = undefined;
    this.base += used;
    this.line = skipped.line;
    this.out.offset = this.base;
    this.out.line = this.line;
    const position = this.position(skipped.line, skipped.start);
    let n = skipped.head.length;
    while (n > 0 && (skipped.head[n - 1] === LF || skipped.head[n - 1] === CR)) n--;
    const raw = trimRaw(skipped.head.toString('utf8', 0, n));
    this.out.error({ error: recordErrorAt(tooLong('line', this.maxLineBytes), position), raw, position });
  }

  /**
   * Reads the lines of `buf[from, to)`: whole lines (the last ends with a line break), or the last
   * line of the input (`final`).
   */
  private process(buf: Buffer, from: number, to: number, final = false): void {
    let bpos = from;
    if (this.base === 0 && from === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) bpos = 3;
    const base = this.base - from;
    const region = buf.subarray(bpos, to);
    const ascii = isAscii(region);
    if (!ascii && !isUtf8(region)) return this.processBytes(buf, bpos, to, final, base);
    const text = ascii ? decoders(buf).latin1Slice(bpos, to) : decoders(buf).utf8Slice(bpos, to);
    // Every line of the piece is whole and none can be over the cap: try the one-parse path.
    if (this.wholePieces && !final && to - bpos <= this.maxLineBytes && this.processWhole(buf, bpos, to, text, ascii, base)) return;
    const start = bpos;
    const out = this.out;
    // Where the next number with more digits than a double holds may be (see json-values.ts).
    let suspect = longDigitRun(text, 0);
    // Where the next exponent of three digits or more may be: only a line with one can hold a number JSON.parse changed.
    let exponent = longExponent(text, 0);
    let cpos = 0;
    const n = text.length;
    while (cpos < n) {
      let cnl = text.indexOf('\n', cpos);
      if (cnl === -1) cnl = n;
      // Byte offset just after the line: the same as the character offset for ASCII text.
      let after: number;
      if (ascii) after = start + cnl + 1;
      else {
        const lf = buf.indexOf(LF, bpos);
        after = lf === -1 || lf >= to ? to + 1 : lf + 1;
      }
      if (after > to) after = to;
      const first = base + bpos;
      if (after - bpos - (buf[after - 1] === LF ? 1 : 0) > this.maxLineBytes) {
        this.base = first;
        this.skipLine(buf.subarray(bpos, bpos + RAW_BYTES), after - bpos);
        bpos = after;
        cpos = cnl + 1;
        continue;
      }
      const line = ++this.line;
      const end = cnl > cpos && text.charCodeAt(cnl - 1) === 13 ? cnl - 1 : cnl;
      if (end > cpos) {
        const lineText = text.slice(cpos, end);
        let exact = false;
        if (suspect !== -1 && suspect < cnl) {
          exact = true;
          suspect = longDigitRun(text, cnl);
        }
        let checkExponent = false;
        if (exponent !== -1 && exponent < cnl) {
          checkExponent = true;
          exponent = longExponent(text, cnl);
        }
        let value: unknown;
        try {
          value = exact ? parseJsonExact(lineText) : JSON.parse(lineText);
          if (!exact && checkExponent && mayHaveLostExponent(value, lineText)) value = parseJsonExact(lineText);
        } catch (error) {
          // Rare paths only: a blank line, a number no double holds, or the last line of the input cut short.
          value = undefined;
          if (error instanceof InexactNumberError) {
            this.fail(error.message, lineText, line, first, base + after, error);
          } else if (lineText.trim() !== '') {
            if (final && cnl === n) {
              this.line--;
              this.onPartialLastLine?.(line, to - bpos);
              return;
            }
            this.fail(`invalid JSON: ${(error as Error).message}`, lineText, line, first, base + after, error);
          }
        }
        if (value !== undefined) {
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            this.fail(`expected a JSON object, got ${describeJson(value)}`, lineText, line, first, base + after);
          } else {
            out.offset = base + after;
            out.line = line;
            out.record(value as Record<string, unknown>, this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset: first });
          }
        }
      }
      bpos = after;
      cpos = cnl + 1;
    }
    this.base = base + to;
  }

  /**
   * The lines of `text` (decoded from `buf[bpos, to)`, every line ending with its `\n`) with one
   * JSON.parse of `[` + the lines joined by commas + `]`. False, having consumed nothing, unless
   * that parse gives exactly one object per line; the caller then reads the piece line by line.
   *
   * Why the array's elements are the lines, one each: an element boundary is a comma outside any
   * value. The commas put in at line breaks are the only such commas, because one inside a line
   * would stand between two objects (every element is an object), i.e. `}`, whitespace, `,`,
   * whitespace, `{` on that line, and a piece with that text anywhere is refused up front. So
   * elements = 1 + (line-break commas that separate elements) ≤ lines, with equality only when
   * every line break separates two elements. A blank line (`,,`) fails the parse.
   */
  private processWhole(buf: Buffer, bpos: number, to: number, text: string, ascii: boolean, base: number): boolean {
    const n = text.length;
    if (n === 0 || text.charCodeAt(n - 1) !== LF) return false;
    SIDE_BY_SIDE_OR_EXPONENT.lastIndex = 0;
    const found = SIDE_BY_SIDE_OR_EXPONENT.exec(text);
    let exponent = -1;
    if (found !== null) {
      if (found[0].charCodeAt(0) === 0x7d || OBJECTS_SIDE_BY_SIDE.test(text)) return false;
      exponent = found.index;
    }
    let values: unknown[];
    try {
      values = JSON.parse('[' + text.slice(0, n - 1).replaceAll('\n', ',') + ']') as unknown[];
    } catch {
      return false;
    }
    const count = values.length;
    if (this.breaks.length < count) this.breaks = new Int32Array(count * 2);
    const breaks = this.breaks;
    let lines = 0;
    for (let c = text.indexOf('\n'); c !== -1; c = text.indexOf('\n', c + 1)) {
      if (lines === count) return false;
      breaks[lines++] = c;
    }
    if (lines !== count) return false;
    for (let k = 0; k < count; k++) {
      const value = values[k];
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    }
    const out = this.out;
    const byLine = this.mode === 'line';
    let suspect = longDigitRun(text, 0);
    let cpos = 0;
    let bstart = bpos;
    for (let k = 0; k < count; k++) {
      const cnl = breaks[k]!;
      // Byte offset just after the line: the same as the character offset for ASCII text.
      const after = ascii ? bpos + cnl + 1 : buf.indexOf(LF, bstart) + 1;
      const first = base + bstart;
      const line = ++this.line;
      let value = values[k];
      const exact = suspect !== -1 && suspect < cnl;
      if (exact) suspect = longDigitRun(text, cnl);
      const checkExponent = exponent !== -1 && exponent < cnl;
      if (checkExponent) exponent = longExponent(text, cnl);
      if (exact || checkExponent) value = this.exactValue(text, cpos, cnl, exact, value, line, first, base + after);
      if (value !== undefined) {
        out.offset = base + after;
        out.line = line;
        out.record(value as Record<string, unknown>, byLine ? { file: this.file, line } : { file: this.file, offset: first });
      }
      bstart = after;
      cpos = cnl + 1;
    }
    this.base = base + to;
    return true;
  }

  /**
   * A line (`text[cpos, cnl)`) of the one-parse path that may hold a number JSON.parse changed:
   * its value as the line-by-line path reads it, or undefined after its record error.
   */
  private exactValue(text: string, cpos: number, cnl: number, exact: boolean, parsed: unknown, line: number, first: number, after: number): unknown {
    const lineText = text.slice(cpos, cnl > cpos && text.charCodeAt(cnl - 1) === 13 ? cnl - 1 : cnl);
    let value: unknown;
    try {
      value = exact ? parseJsonExact(lineText) : mayHaveLostExponent(parsed, lineText) ? parseJsonExact(lineText) : parsed;
    } catch (error) {
      if (error instanceof InexactNumberError) this.fail(error.message, lineText, line, first, after, error);
      else this.fail(`invalid JSON: ${(error as Error).message}`, lineText, line, first, after, error);
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(`expected a JSON object, got ${describeJson(value)}`, lineText, line, first, after);
      return undefined;
    }
    return value;
  }

  /** Whole lines of bytes that are not all UTF-8: each line is checked, and one that is not is a record error with its bytes. */
  private processBytes(buf: Buffer, from: number, to: number, final: boolean, base: number): void {
    let pos = from;
    while (pos < to) {
      let lf = buf.indexOf(LF, pos);
      if (lf === -1 || lf >= to) lf = to;
      const after = Math.min(lf + 1, to);
      const end = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
      const bytes = buf.subarray(pos, end);
      if (isUtf8(bytes)) {
        this.base = base + pos;
        this.process(buf, pos, after, final && after === to);
      } else {
        const line = ++this.line;
        const first = base + pos;
        this.out.offset = base + after;
        this.out.line = line;
        const position = this.position(line, first);
        this.out.error({ error: recordErrorAt(invalidUtf8(bytes), position), raw: rawBytes(bytes), position });
      }
      pos = after;
    }
    this.base = base + to;
  }

  private position(line: number, first: number): RecordPosition {
    return this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset: first };
  }

  private fail(message: string, text: string, line: number, first: number, after: number, cause?: unknown): void {
    const out = this.out;
    out.offset = after;
    out.line = line;
    const position = this.position(line, first);
    out.error({ error: recordErrorAt(message, position, cause), raw: trimRaw(text), position });
  }
}

export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
