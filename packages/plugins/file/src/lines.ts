import { RecordError, type RecordPosition } from '@sluice/core';
import { trimRaw } from './formats.js';
import type { PageCollector } from './page.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * What a record's position says: `line` (its line number, when the read began at the start of
 * the file), or `offset` (the byte offset of its first byte, for a byte range of a file split
 * for a distributed run, where counting the lines before the range would mean reading them).
 */
export type PositionMode = 'line' | 'offset';

/** A record-level error with the file position in its details. */
export function recordError(message: string, file: string, line: number, cause?: unknown): RecordError {
  return recordErrorAt(message, { file, line }, cause);
}

/** A record-level error with `position` as its details. */
export function recordErrorAt(message: string, position: RecordPosition, cause?: unknown): RecordError {
  return new RecordError(message, { ...position }, cause === undefined ? undefined : { cause });
}

/**
 * JSON Lines: splits Buffers on `\n` with `indexOf` (so a line may be any length), parses each
 * line and hands records to the collector with the byte offset just after their line.
 * Synchronous per chunk; no per-record promises or closures.
 */
export class JsonLinesParser {
  private pending: Buffer[] = [];
  /** Absolute offset of the next chunk's first byte. */
  private base: number;
  /** Number of the last line seen (1-based; counted from where the read began in offset mode). */
  private line: number;
  /** Absolute offset of the current line's first byte. */
  private lineStart: number;

  constructor(
    private readonly out: PageCollector,
    private readonly file: string,
    offset: number,
    line: number,
    private readonly mode: PositionMode = 'line',
  ) {
    this.base = offset;
    this.line = line;
    this.lineStart = offset;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(LF);
    if (nl === -1) {
      this.pending.push(chunk);
      this.base += chunk.length;
      return;
    }
    if (this.pending.length > 0) {
      this.pending.push(chunk.subarray(0, nl));
      const joined = Buffer.concat(this.pending);
      this.pending = [];
      this.onLine(joined, 0, joined.length, this.base + nl + 1);
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    const base = this.base;
    while (nl !== -1) {
      this.onLine(chunk, start, nl, base + nl + 1);
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
    this.base += chunk.length;
  }

  /** The last line, when the file does not end with a newline. */
  end(): void {
    if (this.pending.length === 0) return;
    const joined = Buffer.concat(this.pending);
    this.pending = [];
    this.onLine(joined, 0, joined.length, this.base);
  }

  private onLine(buf: Buffer, start: number, end: number, after: number): void {
    const line = ++this.line;
    const first = this.lineStart;
    this.lineStart = after;
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return;
    const text = buf.toString('utf8', start, end);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      // Rare paths only: a blank line, or a UTF-8 byte order mark before the first line.
      if (text.trim() === '') return;
      if (first === 0 && text.charCodeAt(0) === 0xfeff) {
        return this.onText(text.slice(1), line, first, after);
      }
      return this.fail(`invalid JSON: ${(error as Error).message}`, text, line, first, after, error);
    }
    this.accept(value, text, line, first, after);
  }

  private onText(text: string, line: number, first: number, after: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.fail(`invalid JSON: ${(error as Error).message}`, text, line, first, after, error);
    }
    this.accept(value, text, line, first, after);
  }

  private position(line: number, first: number): RecordPosition {
    return this.mode === 'line' ? { file: this.file, line } : { file: this.file, offset: first };
  }

  private accept(value: unknown, text: string, line: number, first: number, after: number): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.fail(`expected a JSON object, got ${describeJson(value)}`, text, line, first, after);
    }
    const out = this.out;
    out.offset = after;
    out.line = line;
    out.record(value as Record<string, unknown>, this.position(line, first));
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
