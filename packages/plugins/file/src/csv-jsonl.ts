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
  const layout = { fields: columns.length, source, prefix, prefixBytes: prefix.reduce((sum, p) => sum + p.length, 0) };
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
  if (n > 0 && b[n - 1] !== LF) return undefined;
  // What the page takes when no field grows (no escapes, no longer number forms): each row's bytes
  // less its delimiters and line break, plus its keys, quotes and braces. Past it, the buffer grows.
  let out = Buffer.allocUnsafe(n + page.count * (prefixBytes + 2 * nf + 2) + 8192);
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
    const room = o + 6 * (pos - rowStart) + prefixBytes + 32 * nf + 2;
    if (room > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(room, 2 * out.length));
      out.copy(bigger, 0, 0, o);
      out = bigger;
    }
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
          const json = JSON.stringify(value);
          if (json === undefined) return undefined;
          if (typeof value === 'string' || typeof value === 'object') {
            o += out.write(json, o, 'utf8');
          } else {
            // A number, a boolean: ASCII, written without a call into C++.
            for (let i = 0; i < json.length; i++) out[o++] = json.charCodeAt(i);
          }
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
