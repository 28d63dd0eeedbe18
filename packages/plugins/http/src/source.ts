import {
  defineSource,
  type PluginContext,
  type ReadOptions,
  type RecordPosition,
  type RuleViolation,
  type SluiceRecord,
  type SourceEstimate,
  type SourceInstance,
  type SourcePage,
  type SourceRecordError,
} from '@sluice/core';
import { HttpCaller, headerOf, parseBody } from './call.js';
import { displayUrl, type HttpRequest, type HttpResponse } from './client.js';
import { describeBody, HttpFailure, isRetriedBy, trimBody } from './errors.js';
import { nextLink } from './link.js';
import { getPath, isWellFormedPath } from './paths.js';
import {
  authOnce,
  authOption,
  headersOption,
  maxResponseBytes,
  maxResponseSizeOption,
  queryOption,
  RequestTemplate,
  requestTimeoutMs,
  timeoutOption,
  urlIsAbsolute,
  urlOption,
  type RequestConfig,
} from './request.js';
import { allowOriginsAreOrigins, allowOriginsOption, OriginPolicy, withoutCredentials } from './origins.js';

const STYLES = ['none', 'page', 'offset', 'cursor', 'link'] as const;
type Style = (typeof STYLES)[number];

/** JSON Schema of the http source's `with`. */
export const httpSourceSchema = {
  type: 'object',
  description: 'Reads records from a JSON API with GET, page after page.',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { ...urlOption, description: 'The first page\'s URL, http or https (a template with `env` and `job` in scope).', examples: ['https://api.example.com/v1/users'] },
    query: queryOption,
    headers: headersOption,
    auth: authOption,
    allowOrigins: allowOriginsOption,
    maxResponseSize: maxResponseSizeOption,
    timeout: timeoutOption,
    items: {
      type: 'string',
      default: '',
      description: 'Dotted path to the array of records in the response body (`data.items`). Empty: the body is the array.',
      examples: ['data.items', 'results'],
    },
    pagination: {
      type: 'string',
      enum: STYLES,
      default: 'none',
      description:
        'How to get the next page. page: ?page=1,2,3…; offset: ?offset=0,100,…; cursor: the token (or URL) at `next` in each response; link: the Link header\'s rel="next"; none: one request. Reading stops at an empty page or when there is no next cursor or link.',
      examples: ['page', 'cursor', 'link'],
    },
    pageSize: {
      type: 'integer',
      minimum: 1,
      description: 'Records per request, sent as `per_page` (pagination: page) or `limit` (offset, cursor, link); `params.size` changes the name. Left out: the API\'s default and no parameter is sent.',
      examples: [100, 500],
    },
    startPage: { type: 'integer', minimum: 0, default: 1, description: 'The first page number (pagination: page).', examples: [1, 0] },
    next: {
      type: 'string',
      description:
        'pagination: cursor — dotted path to the next cursor in the response body. A value that is a URL (absolute, or starting with /) is fetched as it is; anything else is sent as the `params.cursor` parameter. Missing, null or "": the last page.',
      examples: ['meta.next_cursor', 'links.next', 'next'],
    },
    params: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Names of the query parameters pagination sets.',
      examples: [{ page: 'p', size: 'page_size' }],
      properties: {
        page: { type: 'string', minLength: 1, default: 'page', description: 'Page number parameter (pagination: page).', examples: ['page', 'p'] },
        offset: { type: 'string', minLength: 1, default: 'offset', description: 'Offset parameter (pagination: offset).', examples: ['offset', 'skip'] },
        cursor: { type: 'string', minLength: 1, default: 'cursor', description: 'Cursor parameter (pagination: cursor).', examples: ['cursor', 'after'] },
        size: {
          type: 'string',
          minLength: 1,
          description: 'Page size parameter, sent when `pageSize` is set. Default: per_page for page, limit otherwise.',
          examples: ['per_page', 'limit', 'page_size'],
        },
      },
    },
    total: {
      type: 'string',
      description: 'Dotted path to the total number of records in the first response, for the progress total and ETA.',
      examples: ['meta.total', 'total_count'],
    },
    totalHeader: {
      type: 'string',
      minLength: 1,
      description: 'A response header with the total number of records (instead of `total`).',
      examples: ['X-Total-Count'],
    },
  },
} as const;

export type HttpSourceConfig = RequestConfig & {
  items?: string;
  pagination?: Style;
  pageSize?: number;
  startPage?: number;
  next?: string;
  params?: { page?: string; offset?: string; cursor?: string; size?: string };
  total?: string;
  totalHeader?: string;
};

/** Where the next request goes: a page number, an offset, a cursor token, a URL, or the first URL. */
type Request = { page: number } | { offset: number } | { cursor: string | null } | { url: string | null } | { single: true };

/** The checkpoint: the request to make and how many of its items are already read. */
export type HttpSourceCursor = Request & { skip: number };

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
type Range = PageRange | OffsetRange | undefined;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The range a partition spec names, checked against the pagination style; undefined for everything. */
function rangeOf(partition: unknown, s: SourceSettings): Range {
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

/** A read that fails at its first page (the engine reports it as the source's failure). */
// eslint-disable-next-line require-yield
async function* failing(error: unknown): AsyncGenerator<SourcePage> {
  throw error;
}

/** Rule: cursor pagination needs `next`; `next` is for cursor pagination only. */
export function cursorNeedsNext(config: HttpSourceConfig): RuleViolation | undefined {
  if (config.pagination === 'cursor' && !config.next) {
    return { path: 'next', message: 'pagination: cursor needs next: the path to the next cursor in the response', hint: 'e.g. next: meta.next_cursor' };
  }
  if (config.next !== undefined && config.pagination !== 'cursor') {
    return { path: 'next', message: `next is for pagination: cursor (this step has ${config.pagination ?? 'none'})`, hint: 'set pagination: cursor, or remove next' };
  }
  return undefined;
}

/** Rule: options that belong to another pagination style, and malformed paths. */
export function sourceOptionsFit(config: HttpSourceConfig): RuleViolation[] {
  const found: RuleViolation[] = [];
  const style = config.pagination ?? 'none';
  if (config.startPage !== undefined && style !== 'page') found.push({ path: 'startPage', message: `startPage is for pagination: page (this step has ${style})` });
  if (config.pageSize !== undefined && style === 'none') found.push({ path: 'pageSize', message: 'pageSize needs a pagination style', hint: 'set pagination: page, offset, cursor or link' });
  if (config.total !== undefined && config.totalHeader !== undefined) found.push({ path: 'total', message: 'total and totalHeader are both set; keep one' });
  for (const key of ['items', 'next', 'total'] as const) {
    const path = config[key];
    if (path !== undefined && !isWellFormedPath(path)) found.push({ path: key, message: `"${path}" has an empty segment`, hint: 'e.g. data.items' });
  }
  return found;
}

interface SourceSettings {
  readonly style: Style;
  readonly items: string;
  readonly pageSize?: number;
  readonly startPage: number;
  readonly next?: string;
  readonly params: { page: string; offset: string; cursor: string; size: string };
  readonly total?: string;
  readonly totalHeader?: string;
}

function settingsOf(config: HttpSourceConfig): SourceSettings {
  const style = config.pagination ?? 'none';
  const p = config.params ?? {};
  return {
    style,
    items: config.items ?? '',
    ...(config.pageSize !== undefined ? { pageSize: config.pageSize } : {}),
    startPage: config.startPage ?? 1,
    ...(config.next !== undefined ? { next: config.next } : {}),
    params: { page: p.page ?? 'page', offset: p.offset ?? 'offset', cursor: p.cursor ?? 'cursor', size: p.size ?? (style === 'page' ? 'per_page' : 'limit') },
    ...(config.total !== undefined ? { total: config.total } : {}),
    ...(config.totalHeader !== undefined ? { totalHeader: config.totalHeader.toLowerCase() } : {}),
  };
}

function firstRequest(s: SourceSettings): Request {
  switch (s.style) {
    case 'page':
      return { page: s.startPage };
    case 'offset':
      return { offset: 0 };
    case 'cursor':
      return { cursor: null };
    case 'link':
      return { url: null };
    case 'none':
      return { single: true };
  }
}

/** Checks a saved cursor against the pagination style; a mismatch means the job changed. */
function resumeFrom(saved: unknown, s: SourceSettings): HttpSourceCursor {
  if (saved === undefined || saved === null) return { ...firstRequest(s), skip: 0 };
  const c = saved as Record<string, unknown>;
  const skip = typeof c.skip === 'number' && c.skip >= 0 ? c.skip : NaN;
  const ok =
    !Number.isNaN(skip) &&
    ((s.style === 'page' && typeof c.page === 'number') ||
      (s.style === 'offset' && typeof c.offset === 'number') ||
      (s.style === 'cursor' && ('cursor' in c ? c.cursor === null || typeof c.cursor === 'string' : typeof c.url === 'string')) ||
      (s.style === 'link' && (c.url === null || typeof c.url === 'string')) ||
      (s.style === 'none' && c.single === true));
  if (!ok) throw new Error(`the checkpoint's cursor ${JSON.stringify(saved)} does not fit pagination: ${s.style}; run with --fresh`);
  return c as HttpSourceCursor;
}

/** A page the API answered, parsed. */
interface FetchedPage {
  readonly request: HttpRequest;
  readonly response: HttpResponse;
  readonly items: unknown[];
  readonly body: unknown;
}

class PageError extends Error {
  constructor(
    message: string,
    readonly raw: string,
  ) {
    super(message);
    this.name = 'PageError';
  }
}

/** Reads the API page after page, each page split into batches of at most `batchSize`. */
class PageReader {
  private estimateResolve?: (estimate: SourceEstimate | undefined) => void;
  readonly estimate: Promise<SourceEstimate | undefined>;
  /** The partition being read (undefined: everything). */
  private range: Range;

  constructor(
    private readonly ctx: PluginContext,
    private readonly s: SourceSettings,
    private readonly template: RequestTemplate,
    private readonly caller: HttpCaller,
  ) {
    this.estimate = new Promise((resolve) => (this.estimateResolve = resolve));
  }

  endEstimate(): void {
    this.estimateResolve?.(undefined);
  }

  private requestOf(at: Request): HttpRequest {
    const s = this.s;
    let url: URL;
    if ('url' in at && at.url) url = new URL(at.url);
    else {
      url = this.template.urlFor();
      if ('page' in at) url.searchParams.set(s.params.page, String(at.page));
      if ('offset' in at) url.searchParams.set(s.params.offset, String(at.offset));
      if ('cursor' in at && at.cursor !== null) url.searchParams.set(s.params.cursor, at.cursor);
      if (s.pageSize !== undefined && s.style !== 'none') url.searchParams.set(s.params.size, String(s.pageSize));
    }
    return { method: 'GET', url, headers: this.template.headersFor() };
  }

  /** GET with the step's retries; a non-retried status or a page that is not the promised shape throws. */
  private async fetch(at: Request, signal: AbortSignal): Promise<FetchedPage> {
    const request = this.requestOf(at);
    const policy = this.caller.retry;
    for (let attempt = 1; ; attempt++) {
      await this.ctx.throttle.take(signal);
      try {
        const response = await this.caller.send(request, { signal });
        return this.parse(request, response);
      } catch (error) {
        if (!(error instanceof HttpFailure)) throw error;
        if (!isRetriedBy(error, this.caller.retryOn) || attempt >= policy.attempts) {
          if (error.kind === 'response') throw new PageError(error.message, error.details.body ?? '');
          throw new Error(attempt > 1 ? `${error.message} (after ${attempt} attempts)` : error.message, { cause: error });
        }
        const retryAfter = error.details.retryAfterMs;
        const exp = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
        const delay = retryAfter !== undefined ? Math.min(policy.maxDelayMs, retryAfter) : policy.jitter ? Math.floor(Math.random() * exp) : exp;
        this.ctx.logger.warn(`${this.ctx.redact(error.message)}; retrying in ${delay}ms (attempt ${attempt + 1} of ${policy.attempts})`);
        this.ctx.countRetry({ attempt: attempt + 1, delayMs: delay, error });
        await this.ctx.clock.sleep(delay, signal);
      }
    }
  }

  private parse(request: HttpRequest, response: HttpResponse): FetchedPage {
    const body = parseBody(request, response, 'json');
    const items = getPath(body, this.s.items);
    if (!Array.isArray(items)) {
      const where = this.s.items ? `at '${this.s.items}'` : 'as the body';
      const got = items === undefined ? (this.s.items ? 'nothing there' : 'nothing') : `${Array.isArray(body) ? 'an array' : typeof items}`;
      throw new HttpFailure(
        `GET ${displayUrl(request.url)}: expected an array of records ${where}, got ${got} in ${describeBody(response.text, headerOf(response, 'content-type'))}`,
        'response',
        { status: response.status, body: trimBody(response.text) },
      );
    }
    this.noteTotal(body, response);
    return { request, response, items, body };
  }

  /** The total number of records a response states (`total` or `totalHeader`), if any. */
  private totalOf(body: unknown, response: HttpResponse): number | undefined {
    const raw = this.s.total !== undefined ? getPath(body, this.s.total) : this.s.totalHeader !== undefined ? headerOf(response, this.s.totalHeader) : undefined;
    const total = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    return typeof total === 'number' && Number.isFinite(total) && total >= 0 ? total : undefined;
  }

  private noteTotal(body: unknown, response: HttpResponse): void {
    if (!this.estimateResolve) return;
    const total = this.totalOf(body, response);
    this.estimateResolve(total === undefined ? undefined : { total: this.shareOf(total), unit: 'records' });
    this.estimateResolve = undefined;
  }

  /** How many of `total` records the partition being read holds. */
  private shareOf(total: number): number {
    const r = this.range;
    if (!r) return total;
    if ('fromOffset' in r) return Math.max(0, Math.min(total, r.toOffset ?? total) - r.fromOffset);
    const before = (r.firstPage - this.s.startPage) * r.itemsPerPage;
    const upTo = r.lastPage === undefined ? total : Math.min(total, (r.lastPage - this.s.startPage + 1) * r.itemsPerPage);
    return Math.max(0, upTo - before);
  }

  /**
   * Splits the pages into at most `n` contiguous runs, from the total and the page size the first
   * page shows. One partition (`{}`) when it cannot: another pagination style, no total, or a
   * single page.
   */
  async split(n: number, signal: AbortSignal): Promise<HttpPartition[]> {
    const wanted = Math.floor(n);
    const s = this.s;
    if (!(wanted > 1) || (s.style !== 'page' && s.style !== 'offset') || (s.total === undefined && s.totalHeader === undefined)) return [{}];
    let first: FetchedPage;
    try {
      first = await this.fetch(firstRequest(s), signal);
    } catch (error) {
      throw new Error(`cannot split the source: ${(error as Error).message}`, { cause: error });
    }
    const total = this.totalOf(first.body, first.response);
    const size = first.items.length;
    if (total === undefined) {
      this.ctx.logger.warn(`the first page states no total at ${s.total !== undefined ? `'${s.total}'` : `header ${s.totalHeader}`}; the source is not split`);
      return [{}];
    }
    if (size === 0 || total <= size) return [{}];
    const pages = Math.ceil(total / size);
    const count = Math.min(wanted, pages);
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

  /** Whether a request lies past the end of the partition being read. */
  private beyond(at: Request): boolean {
    const r = this.range;
    if (!r) return false;
    if ('page' in at && 'firstPage' in r) return r.lastPage !== undefined && at.page > r.lastPage;
    if ('offset' in at && 'fromOffset' in r) return r.toOffset !== undefined && at.offset >= r.toOffset;
    return false;
  }

  /** Where a read starts: the first request of the partition, or of the source. */
  private startOf(): Request {
    const r = this.range;
    if (r && 'firstPage' in r) return { page: r.firstPage };
    if (r && 'fromOffset' in r) return { offset: r.fromOffset };
    return firstRequest(this.s);
  }

  /** The request after `page`, or undefined when `page` was the last. */
  private nextOf(at: Request, page: FetchedPage): Request | undefined {
    if (page.items.length === 0) return undefined;
    if ('page' in at) return { page: at.page + 1 };
    if ('offset' in at) return { offset: at.offset + page.items.length };
    if (this.s.style === 'link') {
      const next = nextLink(page.response.headers.link, page.request.url);
      return next ? { url: next.href } : undefined;
    }
    if (this.s.style === 'cursor') {
      const next = getPath(page.body, this.s.next!);
      if (next === undefined || next === null || next === '' || next === false) return undefined;
      const text = String(next);
      if (/^https?:\/\//i.test(text) || text.startsWith('/')) return { url: new URL(text, page.request.url).href };
      return { cursor: text };
    }
    return undefined;
  }

  /** Where the skip of a page that could not be read leads, when the style can step over it. */
  private pastBadPage(at: Request): Request | undefined {
    if ('page' in at) return { page: at.page + 1 };
    if ('offset' in at && this.s.pageSize !== undefined) return { offset: at.offset + this.s.pageSize };
    return undefined;
  }

  private positionOf(at: Request, index: number): RecordPosition {
    if ('page' in at) return { page: at.page, index };
    if ('offset' in at) return { offset: at.offset + index };
    if ('cursor' in at) return { cursor: at.cursor, index };
    if ('url' in at) return { url: at.url ?? this.firstUrl, index };
    return { index };
  }

  /** Whether the last page held fewer records than pageSize (undefined: no page yet, or said). */
  private short: boolean | undefined = false;

  /**
   * Says once when pages do not hold `pageSize` records — more than asked, or a short page
   * followed by more — which is what an API that reads another parameter name does.
   */
  private checkPageSize(count: number): void {
    const size = this.s.pageSize;
    if (size === undefined || this.short === undefined || this.s.style === 'none') return;
    if (count > size || (this.short && count > 0)) {
      this.ctx.logger.warn(
        `pageSize ${size} is sent as '${this.s.params.size}', but a page held ${count > size ? `${count} records` : 'fewer records and more followed'}: the API may read another name; set params.size (e.g. params: { size: page_size })`,
      );
      this.short = undefined;
      return;
    }
    this.short = count < size;
  }

  /** The first request, as `sluice run --dry-run` shows it. */
  describeFirst(): string {
    const request = this.requestOf(this.startOf());
    const headers = Object.entries(request.headers)
      .filter(([name]) => name !== 'user-agent' && name !== 'accept')
      .map(([name, value]) => `${name}: ${withoutCredentials(this.ctx, { [name]: value })[name] ?? '***'}`);
    return `${request.method} ${displayUrl(request.url)}${headers.length ? ` (${headers.join(', ')})` : ''}`;
  }

  private first: string | undefined;
  private get firstUrl(): string {
    return (this.first ??= displayUrl(this.template.urlFor()));
  }

  read(options: ReadOptions): AsyncGenerator<SourcePage> {
    try {
      this.range = rangeOf(options.partition, this.s);
    } catch (error) {
      this.endEstimate();
      return failing(error);
    }
    return this.pages(options);
  }

  private async *pages(options: ReadOptions): AsyncGenerator<SourcePage> {
    const { signal } = options;
    const batchSize = Math.max(1, options.batchSize);
    let cursor = options.cursor === undefined || options.cursor === null ? { ...this.startOf(), skip: 0 } : resumeFrom(options.cursor, this.s);
    try {
      for (;;) {
        if (signal.aborted) return;
        const { skip, ...at } = cursor;
        if (this.beyond(at as Request)) return;
        let page: FetchedPage;
        try {
          page = await this.fetch(at as Request, signal);
        } catch (error) {
          if (signal.aborted) return;
          if (!(error instanceof PageError)) throw error;
          const past = this.pastBadPage(at as Request);
          if (!past) {
            throw new Error(`${error.message}; pagination: ${this.s.style} cannot step over a page it cannot read`, { cause: error });
          }
          // One error for the page: with onError skip or deadLetter the read goes on past it.
          yield { records: [], errors: [{ error, raw: error.raw, position: this.positionOf(at as Request, 0) }], cursor: { ...past, skip: 0 } };
          cursor = { ...past, skip: 0 } as HttpSourceCursor;
          continue;
        }
        const next = this.nextOf(at as Request, page);
        this.checkPageSize(page.items.length);
        // An offset partition stops at its end, in the middle of a page if it must.
        const r = this.range;
        const items = r && 'fromOffset' in r && r.toOffset !== undefined && 'offset' in at ? page.items.slice(0, Math.max(0, r.toOffset - at.offset)) : page.items;
        for (let from = skip; from < items.length; from += batchSize) {
          const to = Math.min(items.length, from + batchSize);
          const records: SluiceRecord[] = [];
          const positions: RecordPosition[] = [];
          const errors: SourceRecordError[] = [];
          for (let i = from; i < to; i++) {
            const item = items[i];
            if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
              records.push(item as SluiceRecord);
              positions.push(this.positionOf(at as Request, i));
            } else {
              errors.push({ error: new Error(`item ${i} is not an object (got ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item})`), raw: JSON.stringify(item) ?? String(item), position: this.positionOf(at as Request, i) });
            }
          }
          const last = to === items.length;
          const after: HttpSourceCursor = last && next ? { ...next, skip: 0 } : ({ ...at, skip: to } as HttpSourceCursor);
          if (signal.aborted) return;
          yield { records, positions, cursor: after, ...(errors.length ? { errors } : {}) };
        }
        if (!next) return;
        cursor = { ...next, skip: 0 } as HttpSourceCursor;
      }
    } finally {
      this.endEstimate();
    }
  }
}

function originOf(template: RequestTemplate): string | undefined {
  try {
    return template.urlFor().origin;
  } catch {
    return undefined; // a bad URL: the first request says so
  }
}

/** The `http` source: paginated GET from a JSON API, resumable at the page it stopped. */
export const httpSource = defineSource({
  name: 'http',
  description: 'Reads records from a JSON API with paginated GET requests (page, offset, cursor or Link header); resumes at the next page.',
  schema: httpSourceSchema,
  rules: [cursorNeedsNext, sourceOptionsFit, authOnce, urlIsAbsolute, allowOriginsAreOrigins],
  create(rawConfig, ctx): SourceInstance {
    const config = rawConfig as HttpSourceConfig;
    const s = settingsOf(config);
    const template = new RequestTemplate(ctx, config, { accept: 'application/json' });
    // The source's url has no record in it: its origin is known once rendered.
    const origins = new OriginPolicy(originOf(template), config.allowOrigins);
    const caller = new HttpCaller(ctx, { connections: 1, timeoutMs: requestTimeoutMs(config, ctx), maxBytes: maxResponseBytes(config), origins });
    const reader = new PageReader(ctx, s, template, caller);
    const wantsTotal = s.total !== undefined || s.totalHeader !== undefined;
    if (ctx.job.dryRun) {
      // What will be asked of the API, secrets masked (the logger redacts them too).
      let first: string;
      try {
        first = reader.describeFirst();
      } catch (error) {
        first = (error as Error).message;
      }
      ctx.logger.info(`first request: ${first}`, { dryRun: true });
    }
    return {
      read: (options) => reader.read(options),
      ...(wantsTotal ? { estimate: () => reader.estimate } : {}),
      partitions: (n) => reader.split(n, ctx.signal),
      close: async () => {
        reader.endEstimate();
        await caller.close();
      },
    };
  },
});
