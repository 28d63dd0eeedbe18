import { trimRaw } from './formats.js';
import { InexactNumberError, parseJson } from './json-values.js';
import { isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_LINE_BYTES, invalidUtf8, rawBytes, tooLong } from './limits.js';
import { describeJson, recordError } from './lines.js';
import type { PageCollector } from './page.js';

const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

const enum State {
  /** Before the opening `[`. */
  Before,
  /** After `[` or `,`: an element or `]` comes next. */
  Expect,
  Element,
  /** After an element: `,` or `]` comes next. */
  After,
  /** After the closing `]`. */
  End,
  /** The rest of the file is not read (it is not an array, or data follows the array). */
  Ignore,
}

const isSpace = (c: number) => c === SPACE || c === LF || c === CR || c === TAB;

/**
 * Streams the elements of a top-level JSON array (`[ {...}, {...} ]`, pretty-printed or not, of
 * any size). It tracks string/escape state and bracket depth to cut top-level elements, then
 * `JSON.parse`s each. The resume point after an element is the byte right after its last byte;
 * resuming there starts in the "after an element" state.
 */
export class JsonArrayParser {
  private state: State;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private missingComma = false;
  /** Parts of the current element from earlier chunks. */
  private parts: Buffer[] = [];
  /** Start of the current element in the current chunk, or -1 when it began in an earlier one. */
  private elementStart = -1;
  private elementLine = 0;
  /** Absolute offset of the current chunk's first byte. */
  private base: number;
  /** The current line (1-based). */
  private line: number;
  private index: number;
  private readonly startOffset: number;
  private problem: { message: string; line: number } | undefined;
  /** Bytes of the current element in `parts`; past `maxElementBytes` the rest is scanned but not kept. */
  private held = 0;
  private tooLong = false;

  constructor(
    private readonly out: PageCollector,
    private readonly file: string,
    offset: number,
    line: number,
    lastIndex: number,
    private readonly maxElementBytes = DEFAULT_MAX_LINE_BYTES,
  ) {
    this.base = offset;
    this.startOffset = offset;
    this.line = Math.max(1, line);
    this.index = lastIndex + 1;
    this.state = offset === 0 ? State.Before : State.After;
  }

  feed(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.state === State.Element) {
        i = this.scanElement(chunk, i);
        continue;
      }
      const c = chunk[i];
      switch (this.state) {
        case State.After:
          if (c === COMMA) this.state = State.Expect;
          else if (c === RBRACKET) this.state = State.End;
          else if (!isSpace(c)) {
            this.missingComma = true;
            this.begin(i);
            continue;
          }
          break;
        case State.Expect:
          // Lenient where no data is at stake: `[1,,2]` and a trailing comma are accepted.
          if (c === RBRACKET) this.state = State.End;
          else if (c !== COMMA && !isSpace(c)) {
            this.begin(i);
            continue;
          }
          break;
        case State.Before:
          if (c === LBRACKET) this.state = State.Expect;
          else if (!isSpace(c) && !(this.base + i < 3 && (c === 0xef || c === 0xbb || c === 0xbf))) {
            this.stop(`expected a JSON array: the file should start with '[', found '${String.fromCharCode(c)}'`);
          }
          break;
        case State.End:
          if (!isSpace(c)) this.stop(`unexpected data after the end of the JSON array ('${String.fromCharCode(c)}' at line ${this.line})`);
          break;
        case State.Ignore:
          i = n;
          continue;
      }
      if (c === LF) this.line++;
      i++;
    }
    if (this.state === State.Element) {
      const part = this.elementStart === -1 ? chunk : chunk.subarray(this.elementStart);
      this.held += part.length;
      if (this.held > this.maxElementBytes) {
        // Keep only the head (for the error's raw text); the scan goes on to the element's end.
        if (!this.tooLong) this.parts = [Buffer.concat([...this.parts, part]).subarray(0, 4096)];
        this.tooLong = true;
      } else this.parts.push(part);
      this.elementStart = -1;
    }
    this.base += n;
  }

  /**
   * The hot loop: scans element bytes from `i` with the state in locals. Returns where the main
   * loop goes on: after the element's last byte, or at the byte that ended a bare value (a
   * separator or space, which the "after" state then reads), or at the chunk's end.
   */
  private scanElement(chunk: Buffer, i: number): number {
    const n = chunk.length;
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let line = this.line;
    let end = -1;
    for (; i < n; i++) {
      const c = chunk[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === QUOTE) {
          inString = false;
          if (depth === 0) {
            end = i + 1;
            break;
          }
        } else if (c === BACKSLASH) escaped = true;
        else if (c === LF) line++;
        continue;
      }
      if (c === QUOTE) inString = true;
      else if (c === LBRACE || c === LBRACKET) depth++;
      else if (c === RBRACE || c === RBRACKET) {
        if (depth > 0) {
          if (--depth === 0) {
            end = i + 1;
            break;
          }
        } else if (c === RBRACKET) {
          end = i;
          break;
        }
        // A stray `}` stays part of the element, which then fails to parse.
      } else if (depth === 0 && (c === COMMA || isSpace(c))) {
        end = i;
        break;
      } else if (c === LF) line++;
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.line = line;
    if (end === -1) return n;
    this.complete(chunk, end);
    return end;
  }

  /** Reports what the end of the file leaves open. */
  end(): void {
    const atEnd = this.base;
    if (this.state === State.Element) {
      const text = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.report(`the file ends inside array element ${this.index} (truncated JSON)`, text, this.elementLine, atEnd);
    } else if ((this.state === State.Expect || this.state === State.After) && (atEnd > this.startOffset || this.startOffset === 0)) {
      // Not when resuming exactly at the end: the run that read it has already reported it.
      this.report(`the JSON array is not closed: the file ends before ']'`, undefined, this.line, atEnd);
    } else if (this.problem) {
      this.report(this.problem.message, undefined, this.problem.line, atEnd);
    }
    this.problem = undefined;
  }

  private stop(message: string): void {
    // Reported at the end of the file, so its resume point is the end and it is said once.
    this.problem ??= { message, line: this.line };
    this.state = State.Ignore;
  }

  private begin(i: number): void {
    this.state = State.Element;
    this.held = 0;
    this.elementStart = i;
    this.elementLine = this.line;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  private complete(chunk: Buffer, endIdx: number): void {
    const size = this.parts.length === 0 ? endIdx - this.elementStart : this.held + endIdx;
    if (this.tooLong || size > this.maxElementBytes) {
      const head = this.parts.length === 0 ? chunk.subarray(this.elementStart, Math.min(endIdx, this.elementStart + 4096)) : Buffer.concat(this.parts).subarray(0, 4096);
      this.parts = [];
      this.tooLong = false;
      this.state = State.After;
      return this.report(`array element ${this.index}: ${tooLong('element', this.maxElementBytes)}`, head.toString('utf8'), this.elementLine, this.base + endIdx);
    }
    let bytes: Buffer;
    if (this.parts.length === 0) {
      bytes = chunk.subarray(this.elementStart, endIdx);
    } else {
      this.parts.push(chunk.subarray(0, endIdx));
      bytes = Buffer.concat(this.parts);
      this.parts = [];
    }
    this.state = State.After;
    if (!isUtf8(bytes)) return this.report(`array element ${this.index}: ${invalidUtf8(bytes).replace('of the line', 'of the element')}`, rawBytes(bytes), this.elementLine, this.base + endIdx, undefined, true);
    const text = bytes.toString('utf8');
    const after = this.base + endIdx;
    const line = this.elementLine;

    if (this.missingComma) {
      this.missingComma = false;
      return this.report(`expected ',' before array element ${this.index}`, text, line, after);
    }
    let value: unknown;
    try {
      value = parseJson(text);
    } catch (error) {
      const why = error instanceof InexactNumberError ? `array element ${this.index}: ${error.message}` : `invalid JSON in array element ${this.index}: ${(error as Error).message}`;
      return this.report(why, text, line, after, error);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.report(`expected a JSON object in array element ${this.index}, got ${describeJson(value)}`, text, line, after);
    }
    const out = this.out;
    out.offset = after;
    out.line = this.line;
    out.index = this.index;
    out.record(value as Record<string, unknown>, { file: this.file, line, index: this.index++ });
  }

  /** A record-level error; `text` is given for a (broken) element, which then uses up an index. */
  private report(message: string, text: string | undefined, line: number, after: number, cause?: unknown, rawIsBytes = false): void {
    const out = this.out;
    out.offset = after;
    out.line = this.line;
    const position: Record<string, unknown> = { file: this.file, line };
    if (text !== undefined) {
      position.index = this.index;
      out.index = this.index++;
    } else {
      out.index = this.index - 1;
    }
    out.error({
      error: recordError(message, this.file, line, cause),
      ...(text !== undefined ? { raw: rawIsBytes ? text : trimRaw(text) } : {}),
      position,
    });
  }
}
