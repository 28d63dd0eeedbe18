import type { BatchGrowth } from '../checkpoint/types.js';
import type { RawPage, SluiceRecord, SourceRecordError } from '../plugin/types.js';
import type { EnginePage } from './batch.js';
import { joinPositions } from './positions.js';

export type { BatchGrowth } from '../checkpoint/types.js';

/**
 * Batches of a job that sets no `batch.size`: source pages of 1,000 records merged into batches of
 * 1,000, 2,000, 4,000, then 5,000 records, and never past ~2 MiB of record data. Every batch is a
 * commit of every sink and a checkpoint; a thousand of them made a 1M-row load wait on a thousand
 * fsynced commits. (Batches of 10,000 were no faster than 5,000 on a 1M-row load into PostgreSQL and
 * peaked 25 MB higher.)
 */
export const DEFAULT_GROWTH: BatchGrowth = { records: 5000, bytes: 2 * 1024 * 1024 };

/** Records (and record errors) batch `seq` aims for: the page size doubled per batch, up to the cap. */
export function targetItems(seq: number, pageSize: number, growth: BatchGrowth): number {
  return Math.max(pageSize, Math.min(growth.records, pageSize * 2 ** Math.min(Math.max(seq, 0), 20)));
}

/** A rough size of a value in memory, in bytes (strings by length, numbers 8, containers summed); never throws. */
export function approxBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return 16 + value.length;
    case 'number':
    case 'boolean':
    case 'undefined':
      return 8;
    case 'bigint':
      return 16 + value.toString(16).length;
    case 'object': {
      if (value === null) return 8;
      if (depth > 8) return 64;
      if (value instanceof Uint8Array) return 64 + value.byteLength;
      if (value instanceof Date) return 32;
      let size = 24;
      if (Array.isArray(value)) {
        for (const item of value) size += 8 + approxBytes(item, depth + 1);
      } else {
        for (const key in value) size += 16 + approxBytes((value as Record<string, unknown>)[key], depth + 1);
      }
      return size;
    }
    default:
      return 16;
  }
}

/** Estimated bytes of a page's records, from at most four of them (first, thirds, last). */
export function pageBytes(records: readonly SluiceRecord[]): number {
  const n = records.length;
  if (n === 0) return 0;
  const picks = n <= 4 ? records.map((_, i) => i) : [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n - 1];
  let sampled = 0;
  for (const i of picks) sampled += approxBytes(records[i]);
  return Math.round((sampled / picks.length) * n);
}

/**
 * Cuts the source's pages into batches: with `growth`, consecutive pages are merged into one batch
 * until it holds `targetItems(seq)` items or `growth.bytes`; without, a batch is a page. The cut
 * depends only on the pages and the batch's seq, so a resume from a checkpoint (whose cursor is a
 * page's) cuts the same batches as the run before it — sinks that keep a per-batch marker rely on
 * that. A batch is never cut short by a stop: pages read towards an unfinished batch are dropped
 * (they are not counted anywhere, and a resume reads them again).
 */
export class BatchCutter {
  /** True once the source said it has no more pages. */
  private ended = false;

  constructor(
    private readonly pages: AsyncIterator<EnginePage>,
    private readonly pageSize: number,
    private readonly growth: BatchGrowth | undefined,
  ) {}

  /**
   * The batches as an iterable (what the engine reads, and what the crash hook journals batch by
   * batch): `seq()` and `room()` are read as each batch is asked for; it ends early when the run
   * stops while a batch is being gathered, and closes the source whenever it ends before it.
   */
  async *batches(seq: () => number, room: () => number | undefined, stopping: () => boolean): AsyncGenerator<EnginePage> {
    try {
      for (;;) {
        const next = await this.next(seq(), room(), stopping);
        if (next === 'stopped' || next.done) return;
        yield next.value;
      }
    } finally {
      if (!this.ended) await Promise.resolve(this.pages.return?.()).catch(() => undefined);
    }
  }

  /**
   * The next batch's page, `done` at the end of the source, or `stopped` when `stopping()` turned
   * true while it was being gathered. `room`: records still allowed by `--limit`.
   */
  async next(seq: number, room: number | undefined, stopping: () => boolean): Promise<IteratorResult<EnginePage> | 'stopped'> {
    const first = await this.pages.next();
    if (first.done) this.ended = true;
    if (first.done || !this.growth) return first;
    const target = targetItems(seq, this.pageSize, this.growth);
    const parts = [first.value];
    let items = itemsOf(first.value);
    let records = rowsOf(first.value);
    let bytes = bytesOf(first.value);
    while (items < target && bytes < this.growth.bytes && (room === undefined || records < room)) {
      if (stopping()) return 'stopped';
      const next = await this.pages.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      parts.push(next.value);
      items += itemsOf(next.value);
      records += rowsOf(next.value);
      bytes += bytesOf(next.value);
    }
    // A source told to stop may end early: a batch cut by the stop could differ from the run's cut.
    if (stopping()) return 'stopped';
    return { done: false, value: await merge(parts) };
  }
}

const itemsOf = (page: EnginePage): number => (page.raw ? page.raw.count : page.records.length + (page.errors?.length ?? 0));
const rowsOf = (page: EnginePage): number => (page.raw ? page.raw.count : page.records.length);

/**
 * A page's size for the `growth.bytes` cap. A raw page has no records to sample: what `approxBytes`
 * gives for the records of its rows when they are ASCII text (24 per record, 16 per key, 16 per
 * string plus its characters; the delimiters and line breaks are not characters of a field), so a
 * raw run cuts batches about as large as a record run would.
 */
function bytesOf(page: EnginePage): number {
  const raw = page.raw;
  if (!raw) return pageBytes(page.records);
  const columns = raw.columns.length;
  return raw.bytes.length - raw.count * columns + raw.count * (24 + 32 * columns);
}

/** Raw pages merge into one raw page only when the database would read them alike. */
function sameRawShape(a: RawPage, b: RawPage): boolean {
  return (
    a.format === b.format &&
    a.delimiter === b.delimiter &&
    a.quote === b.quote &&
    a.cast === b.cast &&
    a.columns.length === b.columns.length &&
    a.columns.every((c, i) => c === b.columns[i])
  );
}

/** Several raw pages as one: their bytes one after another, their counts summed; `materialize` makes every part's page and merges them. */
function mergeRaw(parts: readonly EnginePage[]): EnginePage {
  const last = parts[parts.length - 1]!;
  const first = parts[0]!.raw!;
  const raws = parts.map((p) => p.raw!);
  const raw: RawPage = {
    format: first.format,
    bytes: joined(raws.map((r) => r.bytes)),
    count: raws.reduce((sum, r) => sum + r.count, 0),
    columns: first.columns,
    delimiter: first.delimiter,
    quote: first.quote,
    ...(first.cast ? { cast: first.cast } : {}),
    materialize: async () => mergeRecords(await materialized(parts)),
  };
  return { records: [], cursor: last.cursor, raw, ...(last.progress !== undefined ? { progress: last.progress } : {}) };
}

/**
 * The bytes one after another: a view of them where they already lie one after another in one
 * memory block (pages cut from one read of a file), a copy otherwise.
 */
function joined(parts: readonly Buffer[]): Buffer {
  const first = parts[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.buffer !== first.buffer || part.byteOffset !== end) return Buffer.concat(parts);
    end += part.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/** The pages with every raw one made into records (keeping its cursor and progress). */
async function materialized(parts: readonly EnginePage[]): Promise<EnginePage[]> {
  return Promise.all(
    parts.map(async (p) => {
      if (!p.raw) return p;
      const page = await p.raw.materialize();
      return { ...page, cursor: p.cursor, ...(p.progress !== undefined ? { progress: p.progress } : {}) };
    }),
  );
}

/**
 * One page of several. Raw pages of one shape stay raw; raw and record pages mixed (a slice the
 * source would not give raw) become records: a batch is never part raw.
 */
async function merge(parts: readonly EnginePage[]): Promise<EnginePage> {
  if (parts.length === 1) return parts[0]!;
  const raws = parts.filter((p) => p.raw !== undefined).length;
  if (raws === 0) return mergeRecords(parts);
  if (raws === parts.length && parts.every((p) => sameRawShape(p.raw!, parts[0]!.raw!))) return mergeRaw(parts);
  return mergeRecords(await materialized(parts));
}

/** One page of several record pages: records, positions and errors in order; the last page's cursor and progress. */
function mergeRecords(parts: readonly EnginePage[]): EnginePage {
  if (parts.length === 1) return parts[0]!;
  const last = parts[parts.length - 1]!;
  // concat makes each array at its final size at once (pushing grew it step by step).
  const records: SluiceRecord[] = parts[0]!.records.concat(...parts.slice(1).map((p) => p.records));
  const everyPositioned = parts.every((p) => p.positions !== undefined);
  const positions = everyPositioned ? joinPositions(parts.map((p) => p.positions!)) : undefined;
  let errors: SourceRecordError[] | undefined;
  for (const part of parts) {
    if (part.errors?.length) (errors ??= []).push(...part.errors);
  }
  return { records, cursor: last.cursor, ...(positions ? { positions } : {}), ...(errors ? { errors } : {}), ...(last.progress !== undefined ? { progress: last.progress } : {}) };
}
