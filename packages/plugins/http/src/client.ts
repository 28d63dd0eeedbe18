import { createRequire } from 'node:module';
import type { Agent, Dispatcher } from 'undici';
import { failureOfThrown, HttpFailure, RequestTimeout } from './errors.js';
import { sizeText } from './sizes.js';

/** One request, fully rendered. */
export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** A response with its body read as text. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export interface HttpClientOptions {
  /** Keep-alive connections per origin: the step's concurrency. */
  readonly connections: number;
  /** Time for one exchange, from sending the request to the last byte of the response. */
  readonly timeoutMs: number;
  /** The largest response body read; past it the exchange is stopped (`maxResponseSize`). */
  readonly maxBytes: number;
  /** The run's signal: when it aborts, every request in flight is torn down. */
  readonly signal: AbortSignal;
}

/** Per-request extras, for the rare callers that need them (a source read that can be stopped). */
export interface SendOptions {
  /** Aborts this request alone (costs an abort listener per request: not for hot paths). */
  readonly signal?: AbortSignal;
}

/**
 * The plugin's HTTP client: one undici `Agent`, which keeps a keep-alive pool per origin of at most
 * `connections` sockets, so a step never opens more connections than it has requests in flight.
 * Requests are dispatched with a small handler rather than `request()` (no body stream), and carry
 * no AbortSignal of their own unless a caller asks (one per request costs more than the request on
 * loopback): a native timer bounds each exchange, and a stopping run destroys the agent.
 */
export class HttpClient {
  private readonly agent: Agent;
  private closed = false;
  private readonly onRunAbort = () => {
    this.agent.destroy(this.options.signal.reason as Error).catch(() => undefined);
  };

  constructor(private readonly options: HttpClientOptions) {
    // Loaded on the first client, not when the plugin is: undici is ~110 modules and ~20 MB that
    // every job paid at start-up, http or not.
    const { Agent: UndiciAgent } = createRequire(import.meta.url)('undici') as typeof import('undici');
    this.agent = new UndiciAgent({
      connections: Math.max(1, options.connections),
      pipelining: 1,
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: Math.min(options.timeoutMs, 30_000) },
    });
    options.signal.addEventListener('abort', this.onRunAbort, { once: true });
  }

  /**
   * Sends `request` and reads its whole body. Throws an `HttpFailure` (kind timeout or network)
   * when no complete response arrives in time, and the abort reason unchanged when the run or
   * `options.signal` stops it.
   */
  send(request: HttpRequest, options: SendOptions = {}): Promise<HttpResponse> {
    const run = this.options.signal;
    const { signal } = options;
    if (run.aborted) return Promise.reject(run.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { timeoutMs, maxBytes } = this.options;
    return new Promise<HttpResponse>((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined;
      let stopped: unknown;
      let settled = false;
      let status = 0;
      let headers: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (error: unknown, response?: HttpResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (signal) signal.removeEventListener('abort', onAbort);
        if (response) return resolve(response);
        if (run.aborted) return reject(run.reason);
        if (signal?.aborted) return reject(signal.reason);
        reject(failureOfThrown(error, `${request.method} ${displayUrl(request.url)}`) ?? error);
      };
      const stop = (reason: unknown) => {
        stopped = reason;
        controller?.abort(reason as Error);
        finish(reason);
      };
      // One native timer for the whole exchange: undici's own header/body timers tick every 500 ms.
      const timer = setTimeout(() => stop(new RequestTimeout(timeoutMs)), timeoutMs);
      const onAbort = () => stop(signal!.reason);
      // Counted as it arrives and stopped at the mark: a huge body is never held, only refused.
      const tooLarge = (what: string) =>
        stop(
          new HttpFailure(
            `${request.method} ${displayUrl(request.url)}: the response ${what} is over maxResponseSize (${sizeText(maxBytes)}); raise maxResponseSize, or ask the API for less`,
            'response',
            { status },
          ),
        );
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      this.agent.dispatch(
        {
          origin: request.url.origin,
          path: `${request.url.pathname}${request.url.search}`,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body ?? null,
        },
        {
          onRequestStart(c) {
            controller = c;
            if (stopped !== undefined) c.abort(stopped as Error);
          },
          onResponseStart(_c, statusCode, responseHeaders) {
            if (statusCode < 200) return;
            status = statusCode;
            headers = responseHeaders;
            const declared = Number(responseHeaders['content-length']);
            if (declared > maxBytes) tooLarge(`(${sizeText(declared)}, says its Content-Length)`);
          },
          onResponseData(_c, chunk) {
            if (settled) return;
            size += chunk.length;
            if (size > maxBytes) return tooLarge(`body`);
            chunks.push(chunk);
          },
          onResponseEnd() {
            const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
            finish(undefined, { status, headers, text });
          },
          onResponseError(_c, error) {
            finish(error);
          },
        },
      );
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.options.signal.removeEventListener('abort', this.onRunAbort);
    await this.agent.close().catch(() => this.agent.destroy());
  }
}

/** A URL for messages: no user or password in it. */
export function displayUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
