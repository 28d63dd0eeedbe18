import { isAscii } from 'node:buffer';
import type { RawPage } from '@sluice/core';
import { castCsvValue, castMayChange } from './csv-cast.js';
import { recordMaker } from './csv-read.js';
import { decoders } from './lines.js';

const LF = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = '0123456789abcdef';

/**
 * How a page's fields become a JSON Lines line, worked out once per column list: the keys in the
 * order `JSON.stringify` writes the reader's record (integer-like names first, a duplicate name
 * once, where it first stands, with the last field's value — exactly as the record the reader's
 * {@link recordMaker} builds), each with the field it takes and its `{"name":` or `,"name":` bytes.
 */
interface Layout {
  readonly fields: number;
  /** For the k-th key written: the index of its field. */
  readonly source: Int32Array;
  /** For the k-th key written: `{"name":` (k = 0) or `,"name":` as UTF-8. */
  readonly prefix: readonly Buffer[];
  readonly prefixBytes: number;
  /** Keys in field order, each once (no integer-like or repeated names): a row is written as it is read. */
  readonly inOrder: boolean;
}

let lastColumns: readonly string[] | undefined;
let lastLayout: Layout | undefined;

function layoutOf(columns: readonly string[]): Layout {
  // A file's pages share one column list: worked out once, not per page.
  if (columns === lastColumns && lastLayout) return lastLayout;
  const probe = recordMaker(columns)(columns.map((_, i) => i));
  const keys = Object.keys(probe);
  const source = Int32Array.from(keys, (k) => probe[k] as number);
  const prefix = keys.map((k, i) => Buffer.from(`${i === 0 ? '{' : ','}${JSON.stringify(k)}:`, 'utf8'));
  const inOrder = source.length === columns.length && source.every((f, k) => f === k);
  const layout = { fields: columns.length, source, prefix, prefixBytes: prefix.reduce((sum, p) => sum + p.length, 0), inOrder };
  lastColumns = columns;
  lastLayout = layout;
  return layout;
}

/**
 * A raw CSV page (`RawPage`, see csv-raw.ts for what the file source lets into one) written as the
 * JSON Lines the record path writes for its records: for each row, the record the reader would make
 * (its fields as text, or through `page.cast` — for the file source's pages its own `castCsvValue`)
 * as `JSON.stringify` writes it, and `\n`. Straight from the bytes: no record, no string per field
 * unless the cast may make something other than the text.
 *
 * A field's text is copied as its UTF-8 bytes with `JSON.stringify`'s escapes (`\"`, `\\`, the short
 * forms `\b \t \n \f \r`, `\u00xx` for other control characters); a raw page is valid UTF-8, so it
 * holds no lone surrogate (the one other thing `JSON.stringify` escapes).
 *
 * Returns undefined when a row has another number of fields than the page has columns: the reader
 * makes a record error of it, so the page has to go the record way.
 */
export function csvPageToJsonLines(page: RawPage): Buffer | undefined {
  const layout = layoutOf(page.columns);
  if (page.bytes.length > 0 && page.bytes[page.bytes.length - 1] !== LF) return undefined;
  return layout.inOrder ? inOrder(page, layout) : reordered(page, layout);
}

/**
 * Output room for a page when no field grows (no escapes, no longer number forms): each row's bytes
 * less its delimiters and line break, plus its keys, quotes and braces. Past it, the buffer grows.
 */
const roomFor = (page: RawPage, layout: Layout) => page.bytes.length + page.count * (layout.prefixBytes + 2 * layout.fields + 2) + 8192;

/** `out` with room for `room` bytes, the first `o` kept. */
function grown(out: Buffer, o: number, room: number): Buffer {
  if (room <= out.length) return out;
  const bigger = Buffer.allocUnsafe(Math.max(room, 2 * out.length));
  out.copy(bigger, 0, 0, o);
  return bigger;
}

/**
 * Keys in field order: one pass over each row, each field's bytes escaped into the output as they
 * are read; a field the cast makes something else of is then written over with that value's JSON.
 * (About 0.8× the CPU of {@link reordered} without a cast, 0.9× with one.)
 */
function inOrder(page: RawPage, layout: Layout): Buffer | undefined {
  const { prefix, prefixBytes, fields: nf } = layout;
  const cast = page.cast;
  const own = cast === castCsvValue;
  const b = page.bytes;
  const n = b.length;
  const decoder = decoders(b);
  const ascii = cast !== undefined && isAscii(b) ? decoder.latin1Slice(0, n) : undefined;
  const D = page.delimiter.charCodeAt(0);
  const Q = page.quote.charCodeAt(0);
  let out: Buffer = Buffer.allocUnsafe(roomFor(page, layout));
  let o = 0;
  let pos = 0;
  while (pos < n) {
    // Quoted fields hold no line break in a raw page: the row ends at the next one.
    const lf = b.indexOf(LF, pos);
    out = grown(out, o, o + 6 * (lf + 1 - pos) + prefixBytes + 32 * nf + 2);
    let f = 0;
    for (;;) {
      if (f === nf) return undefined;
      const p = prefix[f]!;
      for (let i = 0; i < p.length; i++) out[o++] = p[i]!;
      const mark = o;
      out[o++] = QUOTE;
      let c = b[pos];
      let s: number;
      let e: number;
      /** 0: unquoted; 1: quoted; 2: quoted with doubled quotes inside. */
      let kind = 0;
      if (c === Q) {
        kind = 1;
        s = ++pos;
        for (;;) {
          if (pos >= lf) return undefined;
          c = b[pos]!;
          if (c === Q) {
            if (b[pos + 1] !== Q) break;
            // A doubled quote: one quote of the text.
            kind = 2;
            pos++;
          }
          if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) out[o++] = c;
          else o = escape(out, o, c);
          pos++;
        }
        e = pos++;
        c = b[pos];
        if (c !== D && c !== LF) return undefined;
      } else {
        s = pos;
        while (c !== D && c !== LF) {
          if (c! >= 0x20 && c !== QUOTE && c !== BACKSLASH) out[o++] = c!;
          else o = escape(out, o, c!);
          c = b[++pos];
        }
        e = pos;
      }
      out[o++] = QUOTE;
      if (cast !== undefined && (!own || castMayChange(e > s ? b[s]! : -1))) {
        let text = ascii !== undefined ? ascii.slice(s, e) : decoder.utf8Slice(s, e);
        if (kind === 2) text = text.replaceAll(page.quote + page.quote, page.quote);
        const value = cast(text, kind !== 0);
        if (value !== text) {
          o = writeJson(out, mark, value);
          if (o === -1) return undefined;
        }
      }
      f++;
      pos++;
      if (c === LF) break;
    }
    if (f !== nf) return undefined;
    out[o++] = 0x7d; // }
    out[o++] = LF;
  }
  return out.subarray(0, o);
}

/** A cast value's JSON at `out[o]`; returns the new end, or -1 for a value JSON has no text for. */
function writeJson(out: Buffer, o: number, value: unknown): number {
  const json = JSON.stringify(value);
  if (json === undefined) return -1;
  if (typeof value === 'string' || typeof value === 'object') return o + out.write(json, o, 'utf8');
  // A number, a boolean: ASCII, written without a call into C++.
  for (let i = 0; i < json.length; i++) out[o++] = json.charCodeAt(i);
  return o;
}

/** Keys in another order than the fields (integer-like or repeated names): each row split first, then written key by key. */
function reordered(page: RawPage, layout: Layout): Buffer | undefined {
  const nf = layout.fields;
  const { source, prefix, prefixBytes } = layout;
  const cast = page.cast;
  const own = cast === castCsvValue;
  const b = page.bytes;
  const decoder = decoders(b);
  /** With a cast and ASCII bytes, the page as text once: a field's text is then a slice of it, not a decode of its own. */
  const ascii = cast !== undefined && isAscii(b) ? decoder.latin1Slice(0, b.length) : undefined;
  const n = b.length;
  const D = page.delimiter.charCodeAt(0);
  const Q = page.quote.charCodeAt(0);
  const starts = new Int32Array(nf);
  const ends = new Int32Array(nf);
  /** 0: unquoted; 1: quoted; 2: quoted with doubled quotes inside. */
  const quoted = new Uint8Array(nf);
  let out: Buffer = Buffer.allocUnsafe(roomFor(page, layout));
  let o = 0;
  let pos = 0;
  while (pos < n) {
    const rowStart = pos;
    let f = 0;
    // Split the row: each field's content range, and how it was quoted.
    for (;;) {
      if (f === nf) return undefined;
      let c = b[pos];
      if (c === Q) {
        // Quoted: the source lets only whole fields on one line through (csv-raw.ts plainlyQuoted).
        let j = pos + 1;
        let kind = 1;
        let q = b.indexOf(Q, j);
        while (q !== -1 && b[q + 1] === Q) {
          kind = 2;
          j = q + 2;
          q = b.indexOf(Q, j);
        }
        if (q === -1) return undefined;
        starts[f] = pos + 1;
        ends[f] = q;
        quoted[f] = kind;
        pos = q + 1;
        c = b[pos];
        if (c !== D && c !== LF) return undefined;
      } else {
        // The last byte is a line break, so this stops within the page.
        const s = pos;
        while (c !== D && c !== LF) c = b[++pos];
        starts[f] = s;
        ends[f] = pos;
        quoted[f] = 0;
      }
      f++;
      pos++;
      if (c === LF) break;
    }
    if (f !== nf) return undefined;
    // Room for the row written with every byte escaped (`\u00xx`) and every cast value's JSON.
    out = grown(out, o, o + 6 * (pos - rowStart) + prefixBytes + 32 * nf + 2);
    for (let k = 0; k < source.length; k++) {
      const p = prefix[k]!;
      for (let i = 0; i < p.length; i++) out[o++] = p[i]!;
      const fi = source[k]!;
      const s = starts[fi]!;
      const e = ends[fi]!;
      const q = quoted[fi]!;
      if (cast !== undefined && (!own || castMayChange(e > s ? b[s]! : -1))) {
        let text = ascii !== undefined ? ascii.slice(s, e) : decoder.utf8Slice(s, e);
        if (q === 2) text = text.replaceAll(page.quote + page.quote, page.quote);
        const value = cast(text, q !== 0);
        if (value !== text) {
          o = writeJson(out, o, value);
          if (o === -1) return undefined;
          continue;
        }
      }
      out[o++] = QUOTE;
      if (q === 2) {
        // Doubled quotes inside: each pair is one quote of the text.
        for (let i = s; i < e; i++) {
          const c = b[i]!;
          if (c === Q) i++;
          if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) out[o++] = c;
          else o = escape(out, o, c);
        }
      } else {
        for (let i = s; i < e; i++) {
          const c = b[i]!;
          if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) out[o++] = c;
          else o = escape(out, o, c);
        }
      }
      out[o++] = QUOTE;
    }
    out[o++] = 0x7d; // }
    out[o++] = LF;
  }
  return out.subarray(0, o);
}

/** `JSON.stringify`'s escape of a control character, a quote or a backslash at `out[o]`; returns the new end. */
function escape(out: Buffer, o: number, c: number): number {
  out[o++] = BACKSLASH;
  switch (c) {
    case QUOTE:
    case BACKSLASH:
      out[o++] = c;
      return o;
    case 0x08:
      out[o++] = 0x62; // b
      return o;
    case 0x09:
      out[o++] = 0x74; // t
      return o;
    case 0x0a:
      out[o++] = 0x6e; // n
      return o;
    case 0x0c:
      out[o++] = 0x66; // f
      return o;
    case 0x0d:
      out[o++] = 0x72; // r
      return o;
    default:
      out[o++] = 0x75; // u
      out[o++] = 0x30;
      out[o++] = 0x30;
      out[o++] = HEX.charCodeAt(c >> 4);
      out[o++] = HEX.charCodeAt(c & 15);
      return o;
  }
}
