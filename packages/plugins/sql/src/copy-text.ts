import type { PreparedBatch } from './batch.js';
import { jsonText, type ColumnKind } from './dialect.js';

// ---------- PostgreSQL COPY text format ----------

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function copyText(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c]!) : text;
}

/** A PostgreSQL array literal: `{"a","b",NULL}`. */
function arrayLiteral(value: unknown[]): string {
  const items = value.map((item) => {
    if (item === null || item === undefined) return 'NULL';
    if (Array.isArray(item)) return arrayLiteral(item);
    const text = typeof item === 'object' ? jsonText(item) : String(item);
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

/** One value as a field of COPY's text format. */
export function copyField(kind: ColumnKind, value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (kind === 'json') return copyText(jsonText(value instanceof Date ? value.toISOString() : value));
  switch (typeof value) {
    case 'string':
      return copyText(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
    case 'boolean':
      return value ? 't' : 'f';
    case 'bigint':
      return value.toString();
    case 'object':
      if (value instanceof Date) return value.toISOString();
      if (Array.isArray(value) && kind === 'array') return copyText(arrayLiteral(value));
      return copyText(jsonText(value));
    default:
      return copyText(String(value));
  }
}

/** Bytes a chunk of COPY data aims for before it is handed to the connection. */
const CHUNK = 64 * 1024;
const BACKSLASH = 0x5c;

/**
 * COPY data written straight into Buffers of ~64 KiB: the bytes the text of {@link copyField} would
 * encode to, without a string per field, per row and per chunk on the way. Those strings (and each
 * chunk's `Buffer.from`) were a third of all the bytes a CSV → PostgreSQL load allocated; fewer
 * young-generation collections mean fewer in-flight records surviving into the old generation.
 * Strings are copied character by character while they are ASCII, escaped as they go; the rest of a
 * string that is not goes through `copyText` and `buf.write`, which encode as `Buffer.from` would.
 */
class CopyBuffer {
  buf = Buffer.allocUnsafe(CHUNK);
  pos = 0;

  constructor(private readonly out: Buffer[]) {}

  /** Room for `bytes` more; the chunk so far is moved to `out` first when they would not fit. */
  room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    if (this.pos > 0) this.out.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, bytes));
    this.pos = 0;
  }

  /** `text`, escaped for COPY (`escape`), or as it is (text `copyField` already made). */
  put(text: string, escape: boolean): void {
    const n = text.length;
    // At most 3 bytes per UTF-16 unit: an escape is 2, a surrogate pair 4 for 2 units.
    this.room(3 * n + 1);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) {
        const rest = text.slice(i);
        pos += buf.write(escape ? copyText(rest) : rest, pos, 'utf8');
        break;
      }
      if (escape && (c === BACKSLASH || c === 0x0a || c === 0x0d || c === 0x09)) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = c === BACKSLASH ? BACKSLASH : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : 0x74;
      } else {
        buf[pos++] = c;
      }
    }
    this.pos = pos;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  /**
   * A number as `String(value)` writes it, for a number that is `r / 10^k` for an integer `r` of
   * at most 31 bits and `k` ≤ 6 (ids, counts, amounts): from `r`'s digits, not from the string —
   * the shortest round-trip decimal `String` computes for a fraction was 0.2 µs a value, a third of
   * encoding the benchmark's rows. Any other number goes through {@link copyField}.
   */
  number(value: number): void {
    if (value < INT31 && value > -INT31) {
      for (let k = 0; k < SCALES.length; k++) {
        const r = Math.round(value * SCALES[k]!);
        // r / 10^k is the double nearest the decimal r·10^-k, so that decimal reads back as `value`;
        // with at most 15 significant digits no other such decimal does, so it is the shortest one,
        // the one String writes — in plain notation, since 1e-6 ≤ |value| < 1e21 (or it is 0).
        if (r / SCALES[k]! === value && r < INT31 && r > -INT31) return this.decimal(r | 0, k);
      }
    }
    this.put(copyField('float', value), false);
  }

  /** `r · 10^-k` in plain decimal notation, `r` an integer of at most 31 bits (int arithmetic), `k` ≤ 6 (-0 as `0`, as String does). */
  private decimal(r: number, k: number): void {
    this.room(16);
    const buf = this.buf;
    let pos = this.pos;
    if (r < 0) {
      buf[pos++] = 0x2d;
      r = -r;
    }
    let digits = 1;
    for (let t = r; t >= 10; t = (t / 10) | 0) digits++;
    // No trailing zero after the point: with one, the smaller k before it would have matched.
    // Digits before the point (at least one: a leading 0), the point, then k digits after it.
    const whole = digits > k ? digits - k : 1;
    const end = pos + whole + (k > 0 ? k + 1 : 0);
    let at = end;
    for (let i = 0; i < whole + k; i++) {
      if (i === k && k > 0) buf[--at] = 0x2e;
      const q = (r / 10) | 0;
      buf[--at] = 0x30 + r - q * 10;
      r = q;
    }
    this.pos = end;
  }
}

/** 2^31: below it, a number's digits are worked out in int arithmetic. */
const INT31 = 2 ** 31;
/** The powers of ten {@link CopyBuffer.number} tries. */
const SCALES = [1, 10, 100, 1000, 10000, 100000, 1000000];

/**
 * COPY data (text format) for rows `positions` of `batch`, in Buffers of ~64 KiB (a longer field
 * gets a Buffer of its own size); `extra` adds a trailing integer field per row (the staging
 * table's row number).
 */
export function* copyChunks(batch: PreparedBatch, positions: readonly number[], extra?: (position: number) => number): Generator<Buffer> {
  const kinds = batch.columns.map((c) => c.kind);
  const { fields, records } = batch;
  const cols = kinds.length;
  const out: Buffer[] = [];
  const b = new CopyBuffer(out);
  for (const p of positions) {
    const record = records[p]!;
    for (let c = 0; c < cols; c++) {
      if (c > 0) b.byte(0x09);
      const value = record[fields[c]!];
      const kind = kinds[c]!;
      if (kind === 'json') b.put(copyField(kind, value), false);
      else if (typeof value === 'string') b.put(value, true);
      else if (typeof value === 'number') b.number(value);
      else b.put(copyField(kind, value), false);
    }
    if (extra) {
      b.byte(0x09);
      b.put(String(extra(p)), false);
    }
    b.byte(0x0a);
    while (out.length > 0) yield out.shift()!;
  }
  if (b.pos > 0) yield b.buf.subarray(0, b.pos);
}
