import { open } from 'node:fs/promises';
import { PermanentError } from '@sluice/core';
import type { InputFile } from './files.js';

/**
 * One file, or a byte range of one, in a partition of a distributed run. `file` and `name` are the
 * file's index and name in the sorted list of matches, as the coordinator saw them. A byte range
 * has `start` (and `end`, exclusive; no `end`: up to the end of the file, whatever it has grown
 * to); a whole file has neither.
 */
export interface FileSlice {
  readonly file: number;
  readonly name: string;
  readonly start?: number;
  readonly end?: number;
}

/** What `partitions()` returns for the file source: the slices one partition reads, in order. */
export interface FilePartition {
  readonly slices: readonly FileSlice[];
}

/** No byte range is cut smaller than this: tiny ranges cost more than they save. */
export const MIN_RANGE_BYTES = 64 * 1024;

const LF = 0x0a;
const SCAN = 64 * 1024;

/**
 * The first line start at or after `pos`: `pos` itself when the byte before it is a newline (or
 * `pos` is 0), otherwise the byte after the next newline, or the file's size when none follows.
 * This is the rule that gives every line to exactly one range: the range holding its first byte.
 */
export async function lineStartAtOrAfter(file: InputFile, pos: number): Promise<number> {
  if (pos <= 0) return 0;
  const fh = await open(file.path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (pos >= size) return size;
    const buf = Buffer.allocUnsafe(SCAN);
    for (let at = pos - 1; at < size; ) {
      const { bytesRead } = await fh.read(buf, 0, SCAN, at);
      if (bytesRead === 0) break;
      const nl = buf.subarray(0, bytesRead).indexOf(LF);
      if (nl !== -1) return at + nl + 1;
      at += bytesRead;
    }
    return size;
  } finally {
    await fh.close();
  }
}

/** Whether a slice is a byte range (positions are then byte offsets, not lines). */
export const isRange = (slice: FileSlice): boolean => slice.start !== undefined || slice.end !== undefined;

/** Bytes a slice covers, in the unit of progress (compressed bytes for `.gz`). */
export function sliceSpan(slice: FileSlice, file: InputFile): number {
  if (!isRange(slice)) return file.size;
  return Math.max(0, Math.min(slice.end ?? file.size, file.size) - (slice.start ?? 0));
}

/**
 * Splits the files into at most `n` partitions of about equal size, in order:
 * 1. a file that `cuttable` allows and that is at least 1.5 times a partition's share
 *    (total / n) is cut into about size / share byte ranges of at least `minRange` bytes;
 * 2. the pieces (whole files and ranges), in order, are grouped into at most `n` contiguous
 *    partitions, each boundary at the piece edge nearest to k × share;
 * 3. cuts are moved forward to the next line start, and adjacent ranges of one file in the same
 *    partition become one.
 * Small inputs give fewer partitions; there is always at least one.
 */
export async function planPartitions(
  files: readonly InputFile[],
  n: number,
  cuttable: (file: InputFile) => boolean,
  minRange = MIN_RANGE_BYTES,
): Promise<FilePartition[]> {
  const whole: FilePartition = { slices: files.map((f, i) => ({ file: i, name: f.name })) };
  const count = Math.floor(n);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (!(count > 1) || total === 0) return [whole];
  const share = total / count;

  // Where each file starts in the concatenation of all files.
  const starts: number[] = [];
  for (let i = 0, at = 0; i < files.length; at += files[i]!.size, i++) starts.push(at);
  // Candidate boundaries: every file edge and every cut of a large file, as global offsets.
  const edges = new Set<number>();
  for (const [i, f] of files.entries()) {
    edges.add(starts[i]! + f.size);
    if (!cuttable(f)) continue;
    const pieces = Math.min(Math.round(f.size / share), Math.floor(f.size / minRange));
    for (let j = 1; j < pieces; j++) edges.add(starts[i]! + Math.round((j * f.size) / pieces));
  }
  const candidates = [...edges].filter((e) => e > 0 && e < total).sort((a, b) => a - b);
  if (candidates.length === 0) return [whole];

  const chosen = new Set<number>();
  for (let k = 1; k < count; k++) {
    const target = k * share;
    let best = candidates[0]!;
    for (const c of candidates) if (Math.abs(c - target) < Math.abs(best - target)) best = c;
    chosen.add(best);
  }

  // Move cuts inside a file to its next line start.
  const fileAt = (g: number) => {
    for (let i = 0; i < files.length; i++) if (g > starts[i]! && g < starts[i]! + files[i]!.size) return i;
    return -1;
  };
  const bounds = new Set<number>();
  for (const g of chosen) {
    const i = fileAt(g);
    if (i === -1) bounds.add(g);
    else bounds.add(starts[i]! + (await lineStartAtOrAfter(files[i]!, g - starts[i]!)));
  }
  const sorted = [0, ...[...bounds].filter((b) => b > 0 && b < total).sort((a, b) => a - b), total];

  const out: FilePartition[] = [];
  for (let p = 0; p + 1 < sorted.length; p++) {
    const [from, to] = [sorted[p]!, sorted[p + 1]!];
    const last = p + 2 === sorted.length;
    const slices: FileSlice[] = [];
    for (const [i, f] of files.entries()) {
      const s = starts[i]!;
      if (f.size === 0) {
        // An empty file goes where its position falls (the last partition when at the very end).
        if ((s >= from && s < to) || (last && s === total)) slices.push({ file: i, name: f.name });
        continue;
      }
      const lo = Math.max(from, s) - s;
      const hi = Math.min(to, s + f.size) - s;
      if (hi <= lo) continue;
      if (lo === 0 && hi === f.size) slices.push({ file: i, name: f.name });
      else slices.push({ file: i, name: f.name, start: lo, ...(hi < f.size ? { end: hi } : {}) });
    }
    if (slices.length > 0) out.push({ slices });
  }
  return out.length > 0 ? out : [whole];
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * The slices a read covers: every file when `partition` is undefined (or null), otherwise the
 * partition's, checked against the files this process matched.
 */
export function slicesOf(partition: unknown, files: readonly InputFile[], patterns: string, rangesAllowed: boolean): readonly FileSlice[] {
  if (partition === undefined || partition === null) return files.map((f, i) => ({ file: i, name: f.name }));
  const slices = (partition as FilePartition | undefined)?.slices;
  const bad = () => new PermanentError(`file: ${JSON.stringify(partition)} is not a partition of a file source`);
  if (!Array.isArray(slices)) throw bad();
  for (const s of slices as unknown[]) {
    const slice = s as Record<string, unknown>;
    if (!slice || typeof slice !== 'object' || !isCount(slice.file) || typeof slice.name !== 'string') throw bad();
    if (slice.start !== undefined && !isCount(slice.start)) throw bad();
    if (slice.end !== undefined && (!isCount(slice.end) || slice.end <= ((slice.start as number | undefined) ?? 0))) throw bad();
    const file = files[slice.file];
    if (!file || file.name !== slice.name) {
      throw new PermanentError(
        `file: the partition reads file #${slice.file + 1} '${slice.name}', but here the files matching ${patterns} ${file ? `have '${file.name}' there` : `are only ${files.length}`}; every worker must see the same files as the coordinator`,
      );
    }
    if (isRange(slice as unknown as FileSlice) && (file.gzip || !rangesAllowed)) {
      throw new PermanentError(`file: the partition reads a byte range of '${file.name}', which can only be read whole (gzip or JSON array)`);
    }
  }
  return slices as FileSlice[];
}
