// The http source's options: schema, rules, and the settings the reader works from.
import type { ConfigOf, RuleViolation, WrittenConfigOf } from '@sluice/core';
import { isWellFormedPath } from './paths.js';
import {
  authOption,
  headersOption,
  maxResponseSizeOption,
  queryOption,
  timeoutOption,
  urlOption,
} from './request.js';
import { allowOriginsOption } from './origins.js';

export const STYLES = ['none', 'page', 'offset', 'cursor', 'link'] as const;
export type Style = (typeof STYLES)[number];

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

/** The source's `with` as `create` gets it, defaults filled in. */
export type HttpSourceConfig = ConfigOf<typeof httpSourceSchema>;
type Written = WrittenConfigOf<typeof httpSourceSchema>;

/** Rule: cursor pagination needs `next`; `next` is for cursor pagination only. */
export function cursorNeedsNext(config: Written): RuleViolation | undefined {
  if (config.pagination === 'cursor' && !config.next) {
    return { path: 'next', message: 'pagination: cursor needs next: the path to the next cursor in the response', hint: 'e.g. next: meta.next_cursor' };
  }
  if (config.next !== undefined && config.pagination !== 'cursor') {
    return { path: 'next', message: `next is for pagination: cursor (this step has ${config.pagination ?? 'none'})`, hint: 'set pagination: cursor, or remove next' };
  }
  return undefined;
}

/** Rule: options that belong to another pagination style, and malformed paths. */
export function sourceOptionsFit(config: Written): RuleViolation[] {
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

export interface SourceSettings {
  readonly style: Style;
  readonly items: string;
  readonly pageSize?: number;
  readonly startPage: number;
  readonly next?: string;
  readonly params: { page: string; offset: string; cursor: string; size: string };
  readonly total?: string;
  readonly totalHeader?: string;
}

export function settingsOf(config: HttpSourceConfig): SourceSettings {
  const style = config.pagination;
  const p = config.params;
  return {
    style,
    items: config.items,
    ...(config.pageSize !== undefined ? { pageSize: config.pageSize } : {}),
    startPage: config.startPage,
    ...(config.next !== undefined ? { next: config.next } : {}),
    // The size parameter's default depends on the style, so the schema cannot give it.
    params: { page: p.page, offset: p.offset, cursor: p.cursor, size: p.size ?? (style === 'page' ? 'per_page' : 'limit') },
    ...(config.total !== undefined ? { total: config.total } : {}),
    ...(config.totalHeader !== undefined ? { totalHeader: config.totalHeader.toLowerCase() } : {}),
  };
}

