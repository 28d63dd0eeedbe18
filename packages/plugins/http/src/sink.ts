import { createHash } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  defineSink,
  TransientError,
  type ConfigOf,
  type PluginContext,
  type RecordPosition,
  type RuleViolation,
  type SinkInstance,
  type SluiceRecord,
  type WriteInfo,
  type WriteResult,
  type WrittenConfigOf,
} from '@sluice/core';
import { bodyOption, bodyRenderer, jsonOption, jsonValueOf } from './body.js';
import { HttpCaller } from './call.js';
import type { HttpRequest } from './client.js';
import { HttpFailure, isRetriedBy } from './errors.js';
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

const METHODS = ['POST', 'PUT', 'PATCH'] as const;

/** JSON Schema of the http sink's `with`. */
export const httpSinkSchema = {
  type: 'object',
  description: 'Sends records to an HTTP API: one request per record, or one per batch.',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { ...urlOption, description: `${urlOption.description} With batch: true it cannot depend on a record.` },
    method: { type: 'string', enum: METHODS, default: 'POST', description: 'The request method.', examples: ['POST', 'PUT'] },
    query: queryOption,
    headers: headersOption,
    auth: authOption,
    allowOrigins: allowOriginsOption,
    maxResponseSize: maxResponseSizeOption,
    timeout: {
      ...timeoutOption,
      description: `${timeoutOption.description} The step's own timeout covers a whole batch: with one request per record, give it room for every request of a batch.`,
    },
    batch: {
      type: 'boolean',
      default: false,
      description: 'false: one request per record (up to the step\'s concurrency at once). true: one request per batch, the records as a JSON array or NDJSON (`format`).',
      examples: [false, true],
    },
    format: {
      type: 'string',
      enum: ['json', 'ndjson'],
      default: 'json',
      description: 'Body of a batch request: a JSON array (application/json) or one JSON object per line (application/x-ndjson).',
      examples: ['json', 'ndjson'],
    },
    json: { ...jsonOption, description: 'An expression: the JSON value sent for each record (the body, or its element in a batch). Default: the record.' },
    body: { ...bodyOption, description: `${bodyOption.description} One request per record only.` },
    key: {
      type: 'string',
      expression: true,
      description:
        'An expression giving the record key. The Idempotency-Key of a request is a hash of the job, the step and this key (of every record in a batch), so a retried or resumed request carries the same key. Default: the record\'s source position.',
      examples: ['record.id', '[record.tenant, record.id]'],
    },
    idempotencyHeader: {
      anyOf: [{ type: 'string', minLength: 1 }, { const: false }],
      default: 'Idempotency-Key',
      description: 'The header carrying the idempotency key; false sends none.',
      examples: ['Idempotency-Key', 'X-Idempotency-Key', false],
    },
  },
} as const;

/** The sink's `with` as `create` gets it, defaults filled in. */
export type HttpSinkConfig = ConfigOf<typeof httpSinkSchema>;

/** Rule: options that only make sense per record or per batch. */
export function sinkOptionsFit(config: WrittenConfigOf<typeof httpSinkSchema>): RuleViolation[] {
  const found: RuleViolation[] = [];
  if (config.batch) {
    if (config.body !== undefined) found.push({ path: 'body', message: 'body (a text template) cannot build a batch', hint: 'use json: an expression for each element' });
    if (config.url.includes('{{')) found.push({ path: 'url', message: 'with batch: true the URL cannot depend on a record', hint: 'use a fixed URL, or batch: false' });
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (value.includes('{{')) found.push({ path: 'headers', message: `header ${name}: with batch: true headers cannot depend on a record` });
    }
  } else if (config.format !== undefined) {
    found.push({ path: 'format', message: 'format is for batch: true', hint: 'set batch: true, or remove format' });
  }
  if (config.body !== undefined && config.json !== undefined) found.push({ path: 'body', message: 'body and json are both set; keep one' });
  return found;
}

/** A stable Idempotency-Key from the job, the step and a key value. */
export function idempotencyKey(job: string, step: string, key: unknown): string {
  return createHash('sha256').update(`${job}\u0000${step}\u0000${JSON.stringify(key) ?? 'undefined'}`).digest('hex').slice(0, 40);
}

/** The `http` sink. */
export const httpSink = defineSink({
  name: 'http',
  description: 'POSTs (or PUTs/PATCHes) records to an HTTP API, one per request or a batch as a JSON array or NDJSON; at least once, with an Idempotency-Key.',
  schema: httpSinkSchema,
  rules: [sinkOptionsFit, authOnce, urlIsAbsolute, allowOriginsAreOrigins, authHasAnOrigin],
  create(config, ctx): SinkInstance {
    const batch = config.batch;
    const concurrency = batch ? 1 : ctx.step.concurrency;
    const origins = new OriginPolicy(staticOrigin(config.url), config.allowOrigins);
    const caller = new HttpCaller(ctx, { connections: concurrency, timeoutMs: requestTimeoutMs(config, ctx), maxBytes: maxResponseBytes(config), origins });
    const template = new RequestTemplate(ctx, config, { accept: 'application/json' });
    const header = config.idempotencyHeader === false ? undefined : config.idempotencyHeader.toLowerCase();
    const keyExpression = config.key !== undefined ? ctx.expression(config.key) : undefined;
    const keyOf = (record: SluiceRecord, position: RecordPosition | undefined) => (keyExpression ? keyExpression.evaluate(record) : position);
    const parts: Sending = { ctx, config, caller, template, method: config.method, header, keyOf };
    const writer = batch ? new BatchWriter(parts) : new RecordWriter(parts, concurrency);
    if (ctx.job.dryRun) ctx.logger.info('dry run: no requests are sent');
    return {
      write: (records, info) => (ctx.job.dryRun ? Promise.resolve() : writer.write(records, info)),
      close: () => caller.close(),
    };
  },
});

type KeyOf = (record: SluiceRecord, position: RecordPosition | undefined) => unknown;

/** What both writers send with: the client, the request template, the method and the idempotency header. */
interface Sending {
  readonly ctx: PluginContext;
  readonly config: HttpSinkConfig;
  readonly caller: HttpCaller;
  readonly template: RequestTemplate;
  readonly method: string;
  /** The idempotency header's name, lowercase; undefined sends none. */
  readonly header: string | undefined;
  readonly keyOf: KeyOf;
}

/** One request per batch: a JSON array or NDJSON. A refusal is thrown; the engine halves the batch to find the bad record. */
class BatchWriter {
  private readonly value: (record: SluiceRecord) => unknown;
  private readonly ndjson: boolean;

  constructor(private readonly s: Sending) {
    this.value = jsonValueOf(s.ctx, s.config.json);
    this.ndjson = s.config.format === 'ndjson';
  }

  async write(records: SluiceRecord[], info: WriteInfo): Promise<void> {
    let body: string;
    if (this.ndjson) {
      let text = '';
      for (const record of records) text += `${JSON.stringify(this.value(record))}\n`;
      body = text;
    } else {
      body = JSON.stringify(records.map(this.value));
    }
    const headers: Record<string, string> = { ...this.s.template.headersFor(), 'content-type': this.ndjson ? 'application/x-ndjson' : 'application/json' };
    if (this.s.header) headers[this.s.header] = idempotencyKey(this.s.ctx.job.name, this.s.ctx.step.id, records.map((r, i) => this.s.keyOf(r, info.positions[i])));
    const request: HttpRequest = { method: this.s.method, url: this.s.template.urlFor(), headers, body };
    try {
      await this.s.caller.send(request, { signal: info.signal });
    } catch (error) {
      throw this.s.caller.engineError(error);
    }
  }
}

/**
 * One request per record, `concurrency` at once. A refused record is returned as rejected (it
 * follows onError). When some fail in a way worth retrying, the write throws so the engine retries
 * the batch after its backoff; records already delivered or refused are remembered and not sent
 * again. On the last attempt, records that still fail are returned as rejected.
 */
class RecordWriter {
  private readonly render: (record: SluiceRecord) => { body: string; contentType: string };
  private readonly delivered = new WeakSet<SluiceRecord>();
  private readonly refused = new WeakMap<SluiceRecord, Error>();
  /** At most `concurrency` requests at once, across the writes of the step. */
  private readonly limit: LimitFunction;

  constructor(private readonly s: Sending, concurrency: number) {
    this.render = bodyRenderer(s.ctx, s.config, 'record')!;
    this.limit = pLimit(Math.max(1, concurrency));
  }

  async write(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult> {
    const rejected: Array<{ index: number; error: Error }> = [];
    const retryable: Array<{ index: number; failure: HttpFailure }> = [];
    // The engine took one rate token for this write; every further request takes its own.
    let firstRequest = true;
    const stop = info.signal;
    const send = async (record: SluiceRecord, i: number) => {
      // The engine gave up on this attempt (its timeout): leave the rest to the next one.
      if (stop.aborted) return;
      if (firstRequest) firstRequest = false;
      else await this.s.ctx.throttle.take(stop);
      try {
        await this.s.caller.send(this.requestFor(record, info.positions[i]));
        this.delivered.add(record);
      } catch (error) {
        if (!(error instanceof HttpFailure)) throw error;
        if (isRetriedBy(error, this.s.caller.retryOn)) retryable.push({ index: i, failure: error });
        else {
          const refused = this.s.caller.engineError(error) as Error;
          this.refused.set(record, refused);
          rejected.push({ index: i, error: refused });
        }
      }
    };
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (this.delivered.has(record)) continue;
      const refusal = this.refused.get(record);
      if (refusal) rejected.push({ index: i, error: refusal });
      else pending.push(this.limit(send, record, i));
    }
    await Promise.all(pending);
    if (retryable.length > 0) {
      const lastAttempt = info.attempt >= this.s.caller.retry.attempts;
      if (lastAttempt) {
        for (const { index, failure } of retryable) rejected.push({ index, error: failure });
      } else {
        const first = retryable[0]!.failure;
        const retryAfter = Math.max(...retryable.map((r) => r.failure.details.retryAfterMs ?? -1));
        throw new TransientError(
          retryable.length === 1 ? first.message : `${retryable.length} of ${records.length} requests failed; first: ${first.message}`,
          { cause: first, ...(retryAfter >= 0 ? { retryAfterMs: Math.min(retryAfter, this.s.caller.retry.maxDelayMs) } : {}) },
        );
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    return rejected.length > 0 ? { rejected } : {};
  }

  private requestFor(record: SluiceRecord, position: RecordPosition | undefined): HttpRequest {
    const rendered = this.render(record);
    const base = this.s.template.headersFor(record);
    const headers: Record<string, string> = base['content-type'] ? { ...base } : { ...base, 'content-type': rendered.contentType };
    if (this.s.header) headers[this.s.header] = idempotencyKey(this.s.ctx.job.name, this.s.ctx.step.id, this.s.keyOf(record, position));
    return { method: this.s.method, url: this.s.template.urlFor(record), headers, body: rendered.body };
  }
}
