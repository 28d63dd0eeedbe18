import {
  defineSource,
  type PluginContext,
  type ReadOptions,
  type RecordPosition,
  type SluiceRecord,
  type SourceEstimate,
  type SourceInstance,
  type SourcePage,
  type SourceRecordError,
} from '@sluice/core';
import { HttpCaller, headerOf, parseBody } from './call.js';
import { displayUrl, type HttpRequest, type HttpResponse } from './client.js';
import { describeBody, HttpFailure, isRetriedBy, trimBody } from './errors.js';
import { getPath } from './paths.js';
import { authOnce, maxResponseBytes, RequestTemplate, requestTimeoutMs, urlIsAbsolute } from './request.js';
import { allowOriginsAreOrigins, OriginPolicy, withoutCredentials } from './origins.js';
import { nextOf, pastBadPage, positionOf, resumeFrom, firstRequest, type FetchedPage, type HttpSourceCursor, type Request } from './pagination.js';
import { cursorNeedsNext, httpSourceSchema, settingsOf, sourceOptionsFit, type SourceSettings } from './source-config.js';
import { beyond, cut, itemsIn, rangeOf, shareOf, splittable, startOf, type HttpPartition, type Range } from './source-partitions.js';

export { httpSourceSchema, cursorNeedsNext, sourceOptionsFit, type HttpSourceConfig } from './source-config.js';
export type { HttpSourceCursor } from './pagination.js';
export type { HttpPartition } from './source-partitions.js';

/** A read that fails at its first page (the engine reports it as the source's failure). */
// eslint-disable-next-line require-yield
async function* failing(error: unknown): AsyncGenerator<SourcePage> {
  throw error;
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
  private totalResolve?: (total: number | undefined) => void;
  /** The total the first response states (`total`/`totalHeader`); undefined when it states none or no page came. */
  private readonly total: Promise<number | undefined>;
  /** The partition being read (undefined: everything). */
  private range: Range;

  constructor(
    private readonly ctx: PluginContext,
    private readonly s: SourceSettings,
    private readonly template: RequestTemplate,
    private readonly caller: HttpCaller,
  ) {
    this.total = new Promise((resolve) => (this.totalResolve = resolve));
  }

  endTotal(): void {
    this.totalResolve?.(undefined);
  }

  /** The records `partition` holds, once the first page has told the total. */
  async estimateOf(partition: unknown): Promise<SourceEstimate | undefined> {
    const total = await this.total;
    if (total === undefined) return undefined;
    let range: Range;
    try {
      range = rangeOf(partition, this.s);
    } catch {
      return undefined; // read() reports the bad partition
    }
    return { total: shareOf(range, total, this.s), unit: 'records' };
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
    if (!this.totalResolve) return;
    this.totalResolve(this.totalOf(body, response));
    this.totalResolve = undefined;
  }

  /**
   * Splits the pages into at most `n` contiguous runs, from the total and the page size the first
   * page shows. One partition (`{}`) when it cannot: another pagination style, no total, or a
   * single page.
   */
  async split(n: number, signal: AbortSignal): Promise<HttpPartition[]> {
    const wanted = Math.floor(n);
    const s = this.s;
    if (!(wanted > 1) || !splittable(s)) return [{}];
    let first: FetchedPage;
    try {
      first = await this.fetch(firstRequest(s), signal);
    } catch (error) {
      throw new Error(`cannot split the source: ${(error as Error).message}`, { cause: error });
    }
    const total = this.totalOf(first.body, first.response);
    if (total === undefined) {
      this.ctx.logger.warn(`the first page states no total at ${s.total !== undefined ? `'${s.total}'` : `header ${s.totalHeader}`}; the source is not split`);
      return [{}];
    }
    return cut(s, total, first.items.length, wanted);
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
    const request = this.requestOf(startOf(this.range, this.s));
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
      this.endTotal();
      return failing(error);
    }
    return this.pages(options);
  }

  private async *pages(options: ReadOptions): AsyncGenerator<SourcePage> {
    const { signal } = options;
    const batchSize = Math.max(1, options.batchSize);
    let cursor = options.cursor === undefined || options.cursor === null ? { ...startOf(this.range, this.s), skip: 0 } : resumeFrom(options.cursor, this.s);
    try {
      for (;;) {
        if (signal.aborted) return;
        const { skip, ...at } = cursor;
        if (beyond(this.range, at as Request)) return;
        let page: FetchedPage;
        try {
          page = await this.fetch(at as Request, signal);
        } catch (error) {
          if (signal.aborted) return;
          if (!(error instanceof PageError)) throw error;
          const past = pastBadPage(this.s, at as Request);
          if (!past) {
            throw new Error(`${error.message}; pagination: ${this.s.style} cannot step over a page it cannot read`, { cause: error });
          }
          // One error for the page: with onError skip or deadLetter the read goes on past it.
          yield { records: [], errors: [{ error, raw: error.raw, position: positionOf(at as Request, 0, this.firstUrl) }], cursor: { ...past, skip: 0 } };
          cursor = { ...past, skip: 0 } as HttpSourceCursor;
          continue;
        }
        const next = nextOf(this.s, at as Request, page);
        this.checkPageSize(page.items.length);
        const items = itemsIn(this.range, at as Request, page.items);
        for (let from = skip; from < items.length; from += batchSize) {
          const to = Math.min(items.length, from + batchSize);
          const records: SluiceRecord[] = [];
          const positions: RecordPosition[] = [];
          const errors: SourceRecordError[] = [];
          for (let i = from; i < to; i++) {
            const item = items[i];
            if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
              records.push(item as SluiceRecord);
              positions.push(positionOf(at as Request, i, this.firstUrl));
            } else {
              errors.push({ error: new Error(`item ${i} is not an object (got ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item})`), raw: JSON.stringify(item) ?? String(item), position: positionOf(at as Request, i, this.firstUrl) });
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
      this.endTotal();
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
  create(config, ctx): SourceInstance {
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
      ...(wantsTotal ? { estimate: (partition) => reader.estimateOf(partition) } : {}),
      partitions: (n) => reader.split(n, ctx.signal),
      close: async () => {
        reader.endTotal();
        await caller.close();
      },
    };
  },
});
