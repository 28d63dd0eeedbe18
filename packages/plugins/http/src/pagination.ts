// Where each request of a paginated read goes, and how a checkpoint says where to go on.
import { getPath } from './paths.js';
import type { HttpRequest, HttpResponse } from './client.js';
import { nextLink } from './link.js';
import type { SourceSettings } from './source-config.js';
import type { RecordPosition } from '@sluice/core';

/** Where the next request goes: a page number, an offset, a cursor token, a URL, or the first URL. */
export type Request = { page: number } | { offset: number } | { cursor: string | null } | { url: string | null } | { single: true };

/** The checkpoint: the request to make and how many of its items are already read. */
export type HttpSourceCursor = Request & { skip: number };

/** The first request of a whole read. */
export function firstRequest(s: SourceSettings): Request {
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
export function resumeFrom(saved: unknown, s: SourceSettings): HttpSourceCursor {
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
export interface FetchedPage {
  readonly request: HttpRequest;
  readonly response: HttpResponse;
  readonly items: unknown[];
  readonly body: unknown;
}

/** The request after `page`, or undefined when `page` was the last. */
export function nextOf(s: SourceSettings, at: Request, page: FetchedPage): Request | undefined {
  if (page.items.length === 0) return undefined;
  if ('page' in at) return { page: at.page + 1 };
  if ('offset' in at) return { offset: at.offset + page.items.length };
  if (s.style === 'link') {
    const next = nextLink(page.response.headers.link, page.request.url);
    return next ? { url: next.href } : undefined;
  }
  if (s.style === 'cursor') {
    const next = getPath(page.body, s.next!);
    if (next === undefined || next === null || next === '' || next === false) return undefined;
    const text = String(next);
    if (/^https?:\/\//i.test(text) || text.startsWith('/')) return { url: new URL(text, page.request.url).href };
    return { cursor: text };
  }
  return undefined;
}

/** Where the skip of a page that could not be read leads, when the style can step over it. */
export function pastBadPage(s: SourceSettings, at: Request): Request | undefined {
  if ('page' in at) return { page: at.page + 1 };
  if ('offset' in at && s.pageSize !== undefined) return { offset: at.offset + s.pageSize };
  return undefined;
}

/** Where a record of the page at `at` came from; `firstUrl` names the first page of link pagination. */
export function positionOf(at: Request, index: number, firstUrl: string): RecordPosition {
  if ('page' in at) return { page: at.page, index };
  if ('offset' in at) return { offset: at.offset + index };
  if ('cursor' in at) return { cursor: at.cursor, index };
  if ('url' in at) return { url: at.url ?? firstUrl, index };
  return { index };
}

