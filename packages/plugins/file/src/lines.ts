import { isAscii, isUtf8 } from 'node:buffer';
import { RecordError, type RecordPosition } from '@sluice/core';
import { trimRaw } from './formats.js';
import { InexactNumberError, longDigitRun, longExponent, mayHaveLostExponent, parseJsonExact } from './json-values.js';
import { DEFAULT_MAX_LINE_BYTES, invalidUtf8, rawBytes, tooLong } from './limits.js';
import type { PageCollector } from './page.js';

const LF = 0x0a;
const CR = 0x0d;
const RAW_BYTES = 4 * 1024;
const DECODE_BYTES = 32 * 1024;

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
}

/**
 * JSON Lines: finds line breaks in the bytes (`indexOf`), decodes every whole line of a chunk
 * with one call, and parses each line from that text; records go to the collector with the byte
 * offset just after their line. Synchronous per chunk; no per-record promises or closures.
 *
 * A line with a number a double may not hold (found by scans of the piece's text, not of each
 * parsed value) is parsed exactly instead (see json-values.ts). Bytes that are not UTF-8 make their line a
 * record error. A last line without a line break that does not parse is not consumed: the
 * writer may still be appending it.
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
    // Whole lines are decoded in pieces of about 32 KiB: one string of a whole 1 MiB chunk would be
    // held (with every record sliced from it) until the page is done, which showed in peak RSS
    // (32 KiB: 121 MB on the map/filter benchmark, against 133 MB with 64 KiB pieces before).
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
            out.recordAt(value as Record<string, unknown>, this.mode, this.mode === 'line' ? line : first);
          }
        }
      }
      bpos = after;
      cpos = cnl + 1;
    }
    this.base = base + to;
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
