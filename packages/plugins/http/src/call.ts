import { STATUS_CODES } from 'node:http';
import type { PluginContext } from '@sluice/core';
import { displayUrl, HttpClient, type HttpRequest, type HttpResponse, type SendOptions } from './client.js';
import { parseRetryAfter } from './durations.js';
import { DEFAULT_RETRY_ON, describeBody, HttpFailure, isRetriedBy, toEngineError, trimBody, unknownRetryClasses } from './errors.js';
import { type OriginPolicy, withoutCredentials } from './origins.js';

/** The step's retry policy as the engine runs it (defaults when the engine does not pass it). */
export interface RetrySettings {
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: boolean;
}

const DEFAULT_RETRY: RetrySettings = { attempts: 3, initialDelayMs: 200, maxDelayMs: 30_000, multiplier: 2, jitter: true };

/** `ctx.step.retry` when the engine provides it (a newer core), else the job format's defaults. */
export function retrySettingsOf(ctx: PluginContext): RetrySettings {
  const given = (ctx.step as { retry?: Partial<RetrySettings> }).retry;
  return { ...DEFAULT_RETRY, ...(given ?? {}) };
}

/**
 * Holds every request of the step while a server's Retry-After runs, including requests that
 * already passed the engine's gate and were only waiting for a free slot.
 */
export class PauseGate {
  private until = 0;

  constructor(private readonly ctx: PluginContext) {}

  pause(ms: number): void {
    const until = this.ctx.clock.now() + ms;
    if (until > this.until) this.until = until;
    this.ctx.throttle.pauseFor(ms);
  }

  /** Resolves once no pause is running (at once, without a promise tick, when none is). */
  wait(signal?: AbortSignal): Promise<void> | undefined {
    if (this.until <= this.ctx.clock.now()) return undefined;
    return this.sleep(signal);
  }

  private async sleep(signal?: AbortSignal): Promise<void> {
    for (let now = this.ctx.clock.now(); this.until > now; now = this.ctx.clock.now()) {
      await this.ctx.clock.sleep(this.until - now, signal);
    }
  }
}

/** What a caller does with a response status besides 2xx. */
export type StatusPolicy = (status: number) => 'ok' | 'fail';

const ok2xx: StatusPolicy = (status) => (status >= 200 && status < 300 ? 'ok' : 'fail');

/**
 * One step's way of calling: the shared client, the step's pause, its `retry.on`. `send` returns a
 * response with an accepted status or throws an `HttpFailure`; `engineError` turns that into what
 * the engine retries or routes to `onError`.
 */
export class HttpCaller {
  readonly client: HttpClient;
  readonly gate: PauseGate;
  readonly retryOn: ReadonlyArray<string | number>;
  readonly retry: RetrySettings;

  private readonly origins: OriginPolicy;

  constructor(
    private readonly ctx: PluginContext,
    options: { connections: number; timeoutMs: number; maxBytes: number; origins: OriginPolicy },
  ) {
    this.origins = options.origins;
    this.client = new HttpClient({ connections: options.connections, timeoutMs: options.timeoutMs, maxBytes: options.maxBytes, signal: ctx.signal });
    this.gate = new PauseGate(ctx);
    this.retryOn = ctx.step.retryOn ?? DEFAULT_RETRY_ON;
    this.retry = retrySettingsOf(ctx);
    const unknown = unknownRetryClasses(this.retryOn);
    if (unknown.length > 0) {
      ctx.logger.warn(
        `retry.on: ${unknown.map((u) => JSON.stringify(u)).join(', ')} not understood by http; it knows status codes (429, 503), families (5xx, 4xx), timeout and network`,
      );
    }
  }

  async send(request: HttpRequest, options: SendOptions = {}, policy: StatusPolicy = ok2xx): Promise<HttpResponse> {
    if (request.url.origin !== this.origins.home) request = this.awayFromHome(request);
    const waiting = this.gate.wait(options.signal ?? this.ctx.signal);
    if (waiting) await waiting;
    const response = await this.client.send(request, options);
    if (policy(response.status) === 'ok') return response;
    const failure = statusFailure(request, response, this.ctx.clock.now());
    const retryAfter = failure.details.retryAfterMs;
    // A server asking us to wait asks the whole step: hold everyone, not only this request.
    if (retryAfter !== undefined && retryAfter > 0 && isRetriedBy(failure, this.retryOn)) {
      this.gate.pause(Math.min(retryAfter, this.retry.maxDelayMs));
    }
    throw failure;
  }

  /** A request to another origin than url's: refused, or sent without the step's credentials. */
  private awayFromHome(request: HttpRequest): HttpRequest {
    const origin = request.url.origin;
    const verdict = this.origins.verdict(origin);
    if (verdict === 'credentials') return request;
    if (verdict === 'refused') throw new HttpFailure(`${request.method} ${displayUrl(request.url)}: ${this.origins.refusal(origin)}`, 'origin');
    const url = new URL(request.url.href);
    url.username = '';
    url.password = '';
    for (const [name, value] of [...url.searchParams]) if (this.ctx.redact(value) !== value) url.searchParams.delete(name, value);
    return { ...request, url, headers: withoutCredentials(this.ctx, request.headers) };
  }

  /** The engine's view of a failure: retried (TransientError) or not (RecordError/PermanentError). */
  engineError(error: unknown): unknown {
    return error instanceof HttpFailure ? toEngineError(error, this.retryOn, this.retry.maxDelayMs) : error;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The failure for a response whose status the step does not accept, with what the body said. */
export function statusFailure(request: HttpRequest, response: HttpResponse, now: number): HttpFailure {
  const reason = STATUS_CODES[response.status] ?? 'Unknown';
  const contentType = headerOf(response, 'content-type');
  const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
  return new HttpFailure(
    `${request.method} ${displayUrl(request.url)}: ${response.status} ${reason}: ${describeBody(response.text, contentType)}`,
    'status',
    { status: response.status, body: trimBody(response.text), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) },
  );
}

export function headerOf(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** How a response body is read: JSON (the default) or text. */
export type ParseMode = 'json' | 'text';

/**
 * The response body as JSON or text. An empty body is `null` in JSON mode; a body that is not
 * JSON is an `HttpFailure` of kind response that says what arrived.
 */
export function parseBody(request: HttpRequest, response: HttpResponse, mode: ParseMode): unknown {
  if (mode === 'text') return response.text;
  const text = response.text;
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    if (text.trim() === '') return null;
    const contentType = headerOf(response, 'content-type');
    const what = /json/i.test(contentType ?? '') ? `invalid JSON (${(error as Error).message})` : describeBody(text, contentType);
    throw new HttpFailure(
      `${request.method} ${displayUrl(request.url)}: expected JSON, got ${what}${/json/i.test(contentType ?? '') ? `: ${JSON.stringify(trimBody(text).slice(0, 200))}` : ''}`,
      'response',
      { status: response.status, body: trimBody(text) },
      { cause: error },
    );
  }
}
