import { defineTransform, RecordError, type ConfigOf, type RecordInfo, type RuleViolation, type SluiceRecord, type TransformInstance, type WrittenConfigOf } from '@sluice/core';
import { bodyOption, bodyRenderer, jsonOption } from './body.js';
import { HttpCaller, parseBody, type StatusPolicy } from './call.js';
import type { HttpRequest } from './client.js';
import { getPath, isWellFormedPath, setPath } from './paths.js';
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
} from './request.js';
import { allowOriginsAreOrigins, allowOriginsOption, authHasAnOrigin, OriginPolicy, staticOrigin } from './origins.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** JSON Schema of the http transform's `with`. */
export const httpTransformSchema = {
  type: 'object',
  description: 'One HTTP request per record; the parsed response goes into the record (`into`) or replaces it.',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: urlOption,
    method: { type: 'string', enum: METHODS, default: 'GET', description: 'The request method.', examples: ['GET', 'POST'] },
    query: queryOption,
    headers: headersOption,
    auth: authOption,
    allowOrigins: allowOriginsOption,
    maxResponseSize: maxResponseSizeOption,
    body: bodyOption,
    json: jsonOption,
    parse: {
      type: 'string',
      enum: ['json', 'text'],
      default: 'json',
      description: 'Read the response as JSON (an empty body is null; anything else that is not JSON fails the record) or as text.',
      examples: ['json', 'text'],
    },
    pick: {
      type: 'string',
      description: 'A dotted path into the JSON response: keep only that part (`data`, `results.0`). Missing: null.',
      examples: ['data', 'result.location'],
    },
    into: {
      type: 'string',
      minLength: 1,
      description:
        'The field (dotted path) the response is stored in. Left out: the response replaces the record; it must then be an object (or an array of objects: one record each).',
      examples: ['geo', 'enrichment.crm'],
    },
    nullOn: {
      type: 'array',
      items: { type: 'integer', minimum: 400, maximum: 599 },
      default: [],
      description: 'Statuses that mean "nothing here": the field in `into` becomes null instead of the record failing.',
      examples: [[404], [404, 410]],
    },
    timeout: timeoutOption,
  },
} as const;

/** The transform's `with` as `create` gets it, defaults filled in. */
export type HttpTransformConfig = ConfigOf<typeof httpTransformSchema>;
type Written = WrittenConfigOf<typeof httpTransformSchema>;

/** Rule: one way to give a body, and none on GET. */
export function oneBody(config: Written): RuleViolation | undefined {
  if (config.body !== undefined && config.json !== undefined) {
    return { path: 'body', message: 'body and json are both set', hint: 'json for a JSON value, body for a text template; keep one' };
  }
  if ((config.body !== undefined || config.json !== undefined) && (config.method ?? 'GET') === 'GET') {
    return { path: config.body !== undefined ? 'body' : 'json', message: 'a GET request has no body', hint: 'set method: POST' };
  }
  return undefined;
}

/** Rule: dotted paths without empty segments; `pick` needs JSON; `nullOn` needs `into`. */
export function transformPaths(config: Written): RuleViolation[] {
  const found: RuleViolation[] = [];
  for (const key of ['into', 'pick'] as const) {
    const path = config[key];
    if (path !== undefined && !isWellFormedPath(path)) found.push({ path: key, message: `"${path}" has an empty segment`, hint: 'e.g. data.items' });
  }
  if (config.pick !== undefined && config.parse === 'text') found.push({ path: 'pick', message: 'pick needs parse: json' });
  if ((config.nullOn ?? []).length > 0 && config.into === undefined) {
    found.push({ path: 'nullOn', message: 'nullOn needs into (a null response cannot replace a record)', hint: 'set into: FIELD' });
  }
  return found;
}

/** The `http` transform: one request per record. */
export const httpTransform = defineTransform({
  name: 'http',
  description: 'Calls an HTTP API once per record (method, URL and body templates) and puts the parsed response into the record.',
  schema: httpTransformSchema,
  rules: [oneBody, transformPaths, authOnce, urlIsAbsolute, allowOriginsAreOrigins, authHasAnOrigin],
  create(config, ctx): TransformInstance {
    const { method, parse } = config;
    const timeoutMs = requestTimeoutMs(config, ctx);
    const template = new RequestTemplate(ctx, config, parse === 'json' ? { accept: 'application/json' } : {});
    const body = bodyRenderer(ctx, config, 'none');
    const origins = new OriginPolicy(staticOrigin(config.url), config.allowOrigins);
    const caller = new HttpCaller(ctx, { connections: ctx.step.concurrency, timeoutMs, maxBytes: maxResponseBytes(config), origins });
    const nullOn = new Set<number>(config.nullOn);
    const policy: StatusPolicy = (status) => ((status >= 200 && status < 300) || nullOn.has(status) ? 'ok' : 'fail');
    // The engine times each attempt out too; its signal is only worth its cost when ours runs longer.
    const useAttemptSignal = timeoutMs > ctx.step.timeoutMs;
    const { pick, into } = config;

    return {
      async process(record: SluiceRecord, info: RecordInfo) {
        let request: HttpRequest;
        const headers = template.headersFor(record);
        const url = template.urlFor(record);
        if (body) {
          const rendered = body(record);
          request = { method, url, headers: headers['content-type'] ? headers : { ...headers, 'content-type': rendered.contentType }, body: rendered.body };
        } else {
          request = { method, url, headers };
        }
        let value: unknown;
        try {
          const response = await caller.send(request, useAttemptSignal ? { signal: info.signal } : {}, policy);
          value = nullOn.has(response.status) ? null : parseBody(request, response, parse);
        } catch (error) {
          throw caller.engineError(error);
        }
        if (pick !== undefined) value = getPath(value, pick) ?? null;
        if (into !== undefined) return setPath(record, into, value);
        if (isPlainObject(value)) return value;
        if (Array.isArray(value) && value.every(isPlainObject)) return value as SluiceRecord[];
        throw new RecordError(
          `${method} ${url.origin}${url.pathname}: the response (${describeValue(value)}) cannot replace the record; set into: FIELD to keep it in a field`,
        );
      },
      close: () => caller.close(),
    };
  },
});

function isPlainObject(value: unknown): value is SluiceRecord {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array with non-objects';
  if (typeof value === 'string') return `text ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
  return `a ${typeof value}`;
}
