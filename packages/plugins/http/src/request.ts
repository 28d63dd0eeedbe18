import { PermanentError, type PluginContext, type RuleViolation, type SluiceRecord } from '@sluice/core';
import { parseDuration } from './durations.js';
import type { AllowOrigin } from './origins.js';
import { DEFAULT_MAX_RESPONSE, parseSize } from './sizes.js';

/** Options every http plugin shares: where, with which headers, as whom, how long. */
export const urlOption = {
  type: 'string',
  minLength: 1,
  template: true,
  description:
    'The URL, http or https. A template: `{{ expression }}` parts are filled in per record (values are not encoded; use encodeURIComponent(…) for path segments).',
  examples: ['https://api.example.com/v1/users/{{ encodeURIComponent(record.id) }}'],
} as const;

export const queryOption = {
  type: 'object',
  description: 'Query parameters added to the URL (encoded). String values are templates.',
  default: {},
  examples: [{ status: 'active', email: '{{ record.email }}' }],
  additionalProperties: {
    type: ['string', 'number', 'boolean'],
    template: true,
    description: 'A parameter value; strings are templates.',
    examples: ['active', '{{ record.country }}'],
  },
} as const;

export const headersOption = {
  type: 'object',
  description:
    'Request headers. Values are templates. Put secrets in `auth` or in `${env:…}` values: they never appear in logs or errors.',
  default: {},
  examples: [{ 'X-Tenant': 'acme', 'X-Request-Id': '{{ record.id }}' }],
  additionalProperties: {
    type: 'string',
    template: true,
    description: 'A header value (template).',
    examples: ['application/json'],
  },
} as const;

export const authOption = {
  description:
    'Authentication: `{ bearer: TOKEN }` sends `Authorization: Bearer TOKEN`; `{ username, password }` sends HTTP Basic. Take the values from `${env:…}` or `${file:…}`.',
  examples: [{ bearer: '${env:API_TOKEN}' }, { username: 'etl', password: '${env:API_PASSWORD}' }],
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['bearer'],
      properties: { bearer: { type: 'string', minLength: 1, description: 'The bearer token.', examples: ['${env:API_TOKEN}'] } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['username', 'password'],
      properties: {
        username: { type: 'string', minLength: 1, description: 'Basic auth user name.', examples: ['etl'] },
        password: { type: 'string', description: 'Basic auth password.', examples: ['${env:API_PASSWORD}'] },
      },
    },
  ],
} as const;

export const timeoutOption = {
  type: ['string', 'number'],
  duration: true,
  description:
    "Time limit of one request, from sending it to the last byte of the response. Default: the step's `timeout` (30s). A duration: 250ms, 30s, 5m.",
  examples: ['10s', 2500],
} as const;

export const maxResponseSizeOption = {
  type: ['string', 'integer'],
  pattern: '^\\s*\\d+(\\.\\d+)?\\s*([bB]|[kKmMgG][bB])?\\s*$',
  minimum: 1,
  default: '64MB',
  description:
    'The most one response may hold (its body, as received). A larger one is stopped as soon as it passes the mark, never read whole: a page error (source) or a record error (transform, sink). 1 KB = 1024 bytes; a number is bytes.',
  examples: ['64MB', '512KB', '1GB'],
} as const;

export type Auth = { bearer: string } | { username: string; password: string };

export interface RequestConfig {
  url: string;
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  auth?: Auth;
  timeout?: string | number;
  allowOrigins?: AllowOrigin[];
  maxResponseSize?: string | number;
}

/** The response size cap: `with.maxResponseSize`, else 64 MB. */
export function maxResponseBytes(config: RequestConfig): number {
  return parseSize(config.maxResponseSize) ?? DEFAULT_MAX_RESPONSE;
}

/** The per-request timeout: `with.timeout`, else the step's. */
export function requestTimeoutMs(config: RequestConfig, ctx: PluginContext): number {
  return parseDuration(config.timeout) ?? ctx.step.timeoutMs;
}

/** A string that may hold `{{ }}` parts, compiled once; constants skip the template call. */
type Renderer = (record: SluiceRecord) => string;

function renderer(ctx: PluginContext, source: string): Renderer {
  if (!source.includes('{{')) return () => source;
  const template = ctx.template(source);
  return (record) => template.render(record);
}

const EMPTY: SluiceRecord = Object.freeze({}) as SluiceRecord;

/**
 * Renders a request's URL (with `query`) and headers (with `auth`) per record. Everything that
 * does not depend on the record is computed once.
 */
export class RequestTemplate {
  private readonly url: Renderer;
  private readonly constantUrl: URL | undefined;
  private readonly query: Array<[string, Renderer]>;
  private readonly fixedHeaders: Record<string, string>;
  private readonly headerTemplates: Array<[string, Renderer]>;

  constructor(ctx: PluginContext, config: RequestConfig, defaults: Record<string, string> = {}) {
    this.url = renderer(ctx, config.url);
    this.query = Object.entries(config.query ?? {}).map(([k, v]) => [k, renderer(ctx, String(v))]);
    const headers: Record<string, string> = { 'user-agent': 'sluice', ...lowerKeys(defaults) };
    this.headerTemplates = [];
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (value.includes('{{')) this.headerTemplates.push([name.toLowerCase(), renderer(ctx, value)]);
      else headers[name.toLowerCase()] = value;
    }
    const auth = config.auth;
    if (auth && 'bearer' in auth) headers.authorization = `Bearer ${auth.bearer}`;
    else if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    this.fixedHeaders = headers;
    const constant = !config.url.includes('{{') && Object.values(config.query ?? {}).every((v) => !String(v).includes('{{'));
    this.constantUrl = constant ? this.buildUrl(EMPTY) : undefined;
  }

  /** The URL for `record` (or for no record: sources). Throws a PermanentError for a bad URL. */
  urlFor(record: SluiceRecord = EMPTY): URL {
    return this.constantUrl ? new URL(this.constantUrl.href) : this.buildUrl(record);
  }

  headersFor(record: SluiceRecord = EMPTY): Record<string, string> {
    if (this.headerTemplates.length === 0) return this.fixedHeaders;
    const headers = { ...this.fixedHeaders };
    for (const [name, render] of this.headerTemplates) headers[name] = render(record);
    return headers;
  }

  private buildUrl(record: SluiceRecord): URL {
    const text = this.url(record);
    let url: URL;
    try {
      url = new URL(text);
    } catch (error) {
      throw new PermanentError(`url: not a valid URL: ${JSON.stringify(text.slice(0, 200))}`, { cause: error });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new PermanentError(`url: only http and https are supported (got ${url.protocol.replace(':', '')})`);
    }
    for (const [name, render] of this.query) url.searchParams.append(name, render(record));
    return url;
  }
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Rule: credentials go in `auth`, not also in an Authorization header. */
export function authOnce(config: { headers?: Record<string, string>; auth?: unknown }): RuleViolation | undefined {
  const header = Object.keys(config.headers ?? {}).find((h) => h.toLowerCase() === 'authorization');
  if (config.auth && header) {
    return { path: `headers`, message: `both auth and an ${header} header are set`, hint: 'keep one of them' };
  }
  return undefined;
}

/** Rule: a URL that is no template must be an absolute http(s) URL. */
export function urlIsAbsolute(config: { url?: string }): RuleViolation | undefined {
  const url = config.url;
  if (typeof url !== 'string' || url.startsWith('{{')) return undefined;
  if (!/^https?:\/\//i.test(url)) {
    return { path: 'url', message: `must start with http:// or https:// (got ${JSON.stringify(url.slice(0, 60))})`, hint: 'e.g. https://api.example.com/v1/items' };
  }
  return undefined;
}
