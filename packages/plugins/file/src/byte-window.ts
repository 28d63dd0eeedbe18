const LF = 0x0a;
const CR = 0x0d;

/** Enough bytes for the 1000 characters `trimRaw` keeps, whatever their UTF-8 length. */
const RAW_BYTES = 4 * 1024;

/**
 * The input of a CSV read not yet passed by a row, and the line count up to there. Offsets count
 * from where the read began. Line numbers come from the bytes themselves: csv-parse's
 * `info.lines` counts a CRLF inside a quoted field twice, and restarts with each parser.
 */
export class ByteWindow {
  private chunks: Buffer[] = [];
  /** Offset of `chunks[0]`'s first byte. */
  private first = 0;
  /** Offset just after the held bytes. */
  private last = 0;
  /** Bytes up to here are counted (the end of the last row, or the start of the next one). */
  private pos = 0;
  /** `\n` bytes before `pos`, plus the line number the read began after. */
  private newlines: number;
  /** Whether the byte before `pos` is a `\n` (so `pos` starts a new line). */
  private endsWithNewline = true;

  constructor(lineBase: number) {
    this.newlines = lineBase;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.last += chunk.length;
  }

  /** The end of the last row (or the start of the next one, once `skipBreaks` has run). */
  get position(): number {
    return this.pos;
  }

  /** The line of `pos` (where the next row starts once `skipBreaks` has run). */
  get nextLine(): number {
    return this.newlines + 1;
  }

  /** Moves `pos` past line breaks (empty lines csv-parse skipped before a row), not beyond `limit`; returns it. */
  skipBreaks(limit: number): number {
    let start = this.first;
    for (const chunk of this.chunks) {
      const end = start + chunk.length;
      if (end > this.pos) {
        for (let i = this.pos - start; i < chunk.length && this.pos < limit; i++) {
          const c = chunk[i];
          if (c === LF) this.newlines++;
          else if (c !== CR) return this.pos;
          this.pos++;
        }
        if (this.pos >= limit) return this.pos;
      }
      start = end;
    }
    return this.pos;
  }

  /** The line of the last byte before `end` (a row's last line), counting up to `end` and dropping the bytes before it. */
  lineEndingAt(end: number): number {
    if (end > this.pos) {
      let start = this.first;
      let dropped = 0;
      for (const chunk of this.chunks) {
        const chunkEnd = start + chunk.length;
        if (chunkEnd > this.pos) {
          const to = Math.min(end, chunkEnd) - start;
          for (let i = chunk.indexOf(LF, Math.max(this.pos, start) - start); i !== -1 && i < to; i = chunk.indexOf(LF, i + 1)) this.newlines++;
          if (end > start && end <= chunkEnd) this.endsWithNewline = chunk[end - 1 - start] === LF;
        }
        if (chunkEnd > end) break;
        dropped++;
        start = chunkEnd;
      }
      for (let i = 0; i < dropped; i++) this.first += this.chunks.shift()!.length;
      this.pos = end;
    }
    return this.endsWithNewline ? this.newlines : this.newlines + 1;
  }

  /** The offset of the first `byte` at or after `from` among the held bytes, or -1. */
  indexOf(byte: number, from: number): number {
    let start = this.first;
    for (const chunk of this.chunks) {
      const end = start + chunk.length;
      if (end > from) {
        const i = chunk.indexOf(byte, Math.max(0, from - start));
        if (i !== -1) return start + i;
      }
      start = end;
    }
    return -1;
  }

  /** The byte at `at`, or -1 when it is not held. */
  byteAt(at: number): number {
    let start = this.first;
    for (const chunk of this.chunks) {
      if (at < start + chunk.length) return at >= start ? chunk[at - start]! : -1;
      start += chunk.length;
    }
    return -1;
  }

  /** The held bytes from `from` on. */
  bytesFrom(from: number): Buffer[] {
    const out: Buffer[] = [];
    let start = this.first;
    for (const chunk of this.chunks) {
      const end = start + chunk.length;
      if (end > from) out.push(from > start ? chunk.subarray(from - start) : chunk);
      start = end;
    }
    return out;
  }

  /** The text of the bytes from `from` to `to` (at most the first few KiB of it), without line breaks at its end. */
  text(from: number, to: number): string {
    const end = Math.min(to, from + RAW_BYTES, this.last);
    const parts: Buffer[] = [];
    let start = this.first;
    for (const chunk of this.chunks) {
      const chunkEnd = start + chunk.length;
      if (chunkEnd > from && start < end) parts.push(chunk.subarray(Math.max(0, from - start), Math.min(chunk.length, end - start)));
      if (chunkEnd >= end) break;
      start = chunkEnd;
    }
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    let n = bytes.length;
    while (n > 0 && (bytes[n - 1] === LF || bytes[n - 1] === CR)) n--;
    return bytes.toString('utf8', 0, n);
  }
}
