/** Lines (JSON Lines) and rows (CSV) longer than this are record errors unless `maxLineBytes` says otherwise. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** The record error of a line or row over the cap. */
export function tooLong(what: 'line' | 'row' | 'element', max: number): string {
  return `${what} longer than ${max.toLocaleString('en-US')} bytes (maxLineBytes); the rest of it was skipped — raise maxLineBytes if it is real data`;
}

/** The record error of bytes that are not UTF-8, naming the first bad byte. */
export function invalidUtf8(bytes: Buffer): string {
  const at = firstInvalidUtf8(bytes);
  return `invalid UTF-8 at byte ${at + 1} of the line (0x${bytes[at]?.toString(16).padStart(2, '0') ?? '??'}); raw holds the line's bytes in base64 — convert the file to UTF-8`;
}

/** A line's bytes for a dead letter, when they are not text: base64 (at most 64 KiB of them). */
export function rawBytes(bytes: Buffer): string {
  return bytes.subarray(0, 64 * 1024).toString('base64');
}

/** The index of the first byte that does not belong to a well-formed UTF-8 sequence, or the length. */
export function firstInvalidUtf8(b: Buffer): number {
  const n = b.length;
  for (let i = 0; i < n; ) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) (need = 1), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (need = 2), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (need = 3), (min = 0x10000);
    else return i;
    if (i + need >= n) return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return n;
}
