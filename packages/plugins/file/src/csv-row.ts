const LF = 0x0a;
const CR = 0x0d;

/** What went wrong in a row, in the words a user can act on. */
export const CSV_ROW_ERRORS = {
  unterminated: 'unterminated quoted field: the file ends inside quotes',
  closing: 'invalid closing quote: a closing quote must be followed by the delimiter or the end of the line',
  opening: 'invalid opening quote: a quote inside an unquoted field (quote the whole field and double inner quotes)',
} as const;

export type CsvRowError = keyof typeof CSV_ROW_ERRORS;

/**
 * Splits one CSV row out of bytes, RFC 4180 style: fields separated by the delimiter, a field in
 * quotes may hold delimiters, line breaks and doubled quotes. A row ends at a line break (LF or
 * CRLF) outside quotes. Works on one contiguous Buffer; when the row's end is not in it (and more
 * input may come), `scan` says so and the caller retries with more bytes.
 *
 * After a quote error the row goes on to the end of the line the error is on, so one bad row costs
 * one row: an invalid opening quote (a quote inside an unquoted field) or an invalid closing quote
 * (something other than the delimiter or a line break after it).
 */
export class CsvRowScanner {
  /** The fields of the last row scanned (reused: read them before the next scan). */
  readonly fields: string[] = [];
  /** `quoted[i]`: whether `fields[i]` was in quotes (`cast` leaves a quoted empty field a string). */
  readonly quoted: boolean[] = [];
  /** Just after the row's line break (or the end of the input at its end). */
  end = 0;
  /** The end of the row's text, before its line break. */
  contentEnd = 0;
  error: CsvRowError | undefined;
  private readonly delimiter: Buffer;
  private readonly d0: number;
  private readonly quote: number;

  constructor(delimiter: string, quote: string) {
    this.delimiter = Buffer.from(delimiter, 'utf8');
    this.d0 = this.delimiter[0]!;
    this.quote = quote === '' ? -1 : Buffer.from(quote, 'utf8')[0]!;
  }

  private delimiterAt(buf: Buffer, i: number): boolean {
    const d = this.delimiter;
    if (buf[i] !== this.d0) return false;
    for (let k = 1; k < d.length; k++) if (buf[i + k] !== d[k]) return false;
    return true;
  }

  /** The first delimiter at or after `from` and before `limit`, or -1. */
  private delimiterIn(buf: Buffer, from: number, limit: number): number {
    if (this.delimiter.length === 1) {
      const i = buf.indexOf(this.d0, from);
      return i !== -1 && i < limit ? i : -1;
    }
    for (let i = buf.indexOf(this.d0, from); i !== -1 && i < limit; i = buf.indexOf(this.d0, i + 1)) if (this.delimiterAt(buf, i)) return i;
    return -1;
  }

  /**
   * Scans the row starting at `start`. Returns false when its end is not within `buf` and `final`
   * is false (more input may complete it). Otherwise fills `fields`, `quoted`, `end`,
   * `contentEnd` and `error` and returns true; at the end of the input (`final`) a row always ends.
   */
  scan(buf: Buffer, start: number, final: boolean): boolean {
    const fields = this.fields;
    const quoted = this.quoted;
    fields.length = 0;
    quoted.length = 0;
    this.error = undefined;
    const n = buf.length;
    const Q = this.quote;
    const dlen = this.delimiter.length;
    let i = start;
    for (;;) {
      if (i < n && buf[i] === Q) {
        let j = i + 1;
        let doubled = false;
        for (;;) {
          const q = buf.indexOf(Q, j);
          if (q === -1 || (q + 1 >= n && !final)) {
            if (!final) return false;
            return this.finish(n, n, 'unterminated');
          }
          if (buf[q + 1] === Q) {
            doubled = true;
            j = q + 2;
            continue;
          }
          let value = buf.toString('utf8', i + 1, q);
          if (doubled) value = value.replaceAll(String.fromCharCode(Q) + String.fromCharCode(Q), String.fromCharCode(Q));
          fields.push(value);
          quoted.push(true);
          i = q + 1;
          break;
        }
        if (i >= n) return this.finish(n, n);
        const c = buf[i];
        if (c === LF) return this.finish(i, i + 1);
        if (c === CR) {
          if (i + 1 >= n) return final ? this.finish(i, n) : false;
          if (buf[i + 1] === LF) return this.finish(i, i + 2);
        } else {
          if (i + dlen > n && !final) return false;
          if (this.delimiterAt(buf, i)) {
            i += dlen;
            continue;
          }
        }
        return this.skipLine(buf, i, 'closing', final);
      }
      const lf = buf.indexOf(LF, i);
      if (lf === -1 && !final) return false;
      const limit = lf === -1 ? n : lf;
      const d = this.delimiterIn(buf, i, limit);
      const fieldEnd = d === -1 ? limit : d;
      if (Q !== -1) {
        const q = buf.indexOf(Q, i);
        if (q !== -1 && q < fieldEnd) return this.skipLine(buf, q, 'opening', final);
      }
      if (d !== -1) {
        fields.push(buf.toString('utf8', i, d));
        quoted.push(false);
        i = d + dlen;
        continue;
      }
      const textEnd = lf !== -1 && lf > i && buf[lf - 1] === CR ? lf - 1 : limit;
      fields.push(buf.toString('utf8', i, textEnd));
      quoted.push(false);
      return this.finish(textEnd, lf === -1 ? n : lf + 1);
    }
  }

  private finish(contentEnd: number, end: number, error?: CsvRowError): true {
    this.contentEnd = contentEnd;
    this.end = end;
    this.error = error;
    return true;
  }

  /** A quote error: the row goes on to the end of the line the error is on. */
  private skipLine(buf: Buffer, from: number, error: CsvRowError, final: boolean): boolean {
    const lf = buf.indexOf(LF, from);
    if (lf === -1) return final ? this.finish(buf.length, buf.length, error) : false;
    return this.finish(lf > 0 && buf[lf - 1] === CR ? lf - 1 : lf, lf + 1, error);
  }
}
