// Distributed runs: how an http source with page or offset pagination and a known total is cut
// into partitions, and what each partition reads.
import { firstRequest, type Request } from './pagination.js';
import type { SourceSettings } from './source-config.js';

/**
 * A partition of an http source (distributed runs), for pagination page or offset with a known
 * total: pages `firstPage`…`lastPage` (`itemsPerPage`: the page size the split saw), or the
 * items at offsets `fromOffset` up to `toOffset` (exclusive). The last partition has no
 * `lastPage`/`toOffset` and reads on to the empty page, like a normal read. `{}` is everything.
 */
export type HttpPartition =
  | { readonly firstPage: number; readonly lastPage?: number; readonly itemsPerPage: number }
  | { readonly fromOffset: number; readonly toOffset?: number }
  | Readonly<Record<string, never>>;

type PageRange = { readonly firstPage: number; readonly lastPage?: number; readonly itemsPerPage: number };
type OffsetRange = { readonly fromOffset: number; readonly toOffset?: number };
/** What one read covers: a page range, an offset range, or (undefined) everything. */
export type Range = PageRange | OffsetRange | undefined;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The range a partition spec names, checked against the pagination style; undefined for everything. */
export function rangeOf(partition: unknown, s: SourceSettings): Range {
  if (partition === undefined || partition === null) return undefined;
  const p = partition as Record<string, unknown>;
  if (typeof p === 'object' && !Array.isArray(p)) {
    const keys = Object.keys(p);
    if (keys.length === 0) return undefined;
    const only = (allowed: string[]) => keys.every((k) => allowed.includes(k));
    if (
      s.style === 'page' &&
      only(['firstPage', 'lastPage', 'itemsPerPage']) &&
      isCount(p.firstPage) &&
      isCount(p.itemsPerPage) &&
      p.itemsPerPage > 0 &&
      (p.lastPage === undefined || (isCount(p.lastPage) && p.lastPage >= p.firstPage))
    ) {
      return p as PageRange;
    }
    if (s.style === 'offset' && only(['fromOffset', 'toOffset']) && isCount(p.fromOffset) && (p.toOffset === undefined || (isCount(p.toOffset) && p.toOffset > p.fromOffset))) {
      return p as OffsetRange;
    }
  }
  throw new Error(`${JSON.stringify(partition)} is not a partition of this http source (pagination: ${s.style})`);
}

/** Whether the source can be split at all: page or offset pagination with a stated total. */
export function splittable(s: SourceSettings): boolean {
  return (s.style === 'page' || s.style === 'offset') && (s.total !== undefined || s.totalHeader !== undefined);
}

/** At most `n` contiguous runs of pages, from the total and the size of the first page. */
export function cut(s: SourceSettings, total: number, size: number, n: number): HttpPartition[] {
  if (size === 0 || total <= size) return [{}];
  const pages = Math.ceil(total / size);
  const count = Math.min(n, pages);
  const out: HttpPartition[] = [];
  for (let i = 0; i < count; i++) {
    const from = Math.floor((i * pages) / count);
    const to = Math.floor(((i + 1) * pages) / count);
    const last = i === count - 1;
    out.push(
      s.style === 'page'
        ? { firstPage: s.startPage + from, ...(last ? {} : { lastPage: s.startPage + to - 1 }), itemsPerPage: size }
        : { fromOffset: from * size, ...(last ? {} : { toOffset: to * size }) },
    );
  }
  return out;
}

/** How many of `total` records the range holds. */
export function shareOf(r: Range, total: number, s: SourceSettings): number {
  if (!r) return total;
  if ('fromOffset' in r) return Math.max(0, Math.min(total, r.toOffset ?? total) - r.fromOffset);
  const before = (r.firstPage - s.startPage) * r.itemsPerPage;
  const upTo = r.lastPage === undefined ? total : Math.min(total, (r.lastPage - s.startPage + 1) * r.itemsPerPage);
  return Math.max(0, upTo - before);
}

/** Whether a request lies past the end of the range. */
export function beyond(r: Range, at: Request): boolean {
  if (!r) return false;
  if ('page' in at && 'firstPage' in r) return r.lastPage !== undefined && at.page > r.lastPage;
  if ('offset' in at && 'fromOffset' in r) return r.toOffset !== undefined && at.offset >= r.toOffset;
  return false;
}

/** Where a read starts: the first request of the range, or of the source. */
export function startOf(r: Range, s: SourceSettings): Request {
  if (r && 'firstPage' in r) return { page: r.firstPage };
  if (r && 'fromOffset' in r) return { offset: r.fromOffset };
  return firstRequest(s);
}

/** The items of a page that belong to the range: an offset range stops mid-page if it must. */
export function itemsIn<T>(r: Range, at: Request, items: T[]): T[] {
  return r && 'fromOffset' in r && r.toOffset !== undefined && 'offset' in at ? items.slice(0, Math.max(0, r.toOffset - at.offset)) : items;
}
