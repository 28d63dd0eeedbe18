import { PermanentError, RecordError, TransientError } from '@sluice/core';

/** The classes `retry.on` may list besides status codes (`429`, `503`) and families (`5xx`, `4xx`). */
export const RETRY_CLASSES = ['timeout', 'network'] as const;

/** What Sluice retries when a step says nothing (`retry.on` left out). */
export const DEFAULT_RETRY_ON: ReadonlyArray<string | number> = [429, '5xx', 'timeout', 'network'];

/** Why a request did not give a usable answer (`origin`: refused before sending, see allowOrigins). */
export type FailureKind = 'status' | 'timeout' | 'network' | 'response' | 'origin';

/**
 * A failed request: a status the step does not accept, a timeout, a network error, or a response
 * that is not what was promised. `describe` says what arrived; the message names the request.
 */
export class HttpFailure extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly details: { status?: number; retryAfterMs?: number; body?: string; code?: string } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HttpFailure';
  }
}

/** A request that ran out of time (the plugin's own timer). */
export class RequestTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no complete response within ${ms}ms`);
    this.name = 'RequestTimeout';
  }
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The code of an error or of one of its causes (`ECONNRESET`, `UND_ERR_SOCKET`, …). */
function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || TIMEOUT_CODES.has(code))) return code;
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = codeOf(errors[0]);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Turns what the HTTP client threw into an `HttpFailure` of kind timeout or network, or returns
 * undefined for anything else (a bug, or the run stopping).
 */
export function failureOfThrown(error: unknown, what: string): HttpFailure | undefined {
  if (error instanceof HttpFailure) return error;
  if (error instanceof RequestTimeout) return new HttpFailure(`${what}: timed out (${error.message})`, 'timeout', { code: error.code }, { cause: error });
  const code = codeOf(error);
  if (!code) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (TIMEOUT_CODES.has(code)) return new HttpFailure(`${what}: timed out (${code}: ${message})`, 'timeout', { code }, { cause: error });
  return new HttpFailure(`${what}: network error (${code}: ${message})`, 'network', { code }, { cause: error });
}

/** Whether the step's `retry.on` covers this failure. */
export function isRetriedBy(failure: HttpFailure, on: ReadonlyArray<string | number>): boolean {
  switch (failure.kind) {
    case 'timeout':
      // A connect timeout is a network problem and a timeout: either entry retries it.
      return on.includes('timeout') || (failure.details.code === 'UND_ERR_CONNECT_TIMEOUT' && on.includes('network'));
    case 'network':
      return on.includes('network') || (failure.details.code === 'UND_ERR_CONNECT_TIMEOUT' && on.includes('timeout'));
    case 'status': {
      const status = failure.details.status!;
      return on.includes(status) || on.includes(String(status)) || on.includes(`${Math.floor(status / 100)}xx`);
    }
    case 'response':
    case 'origin':
      return false;
  }
}

/**
 * The error the engine sees: `TransientError` (with the server's Retry-After) when `retry.on`
 * covers the failure, else `RecordError` (a record that follows `onError`).
 */
export function toEngineError(failure: HttpFailure, on: ReadonlyArray<string | number>, maxDelayMs: number): Error {
  if (isRetriedBy(failure, on)) {
    const retryAfter = failure.details.retryAfterMs;
    return new TransientError(failure.message, {
      cause: failure,
      ...(retryAfter !== undefined ? { retryAfterMs: Math.min(retryAfter, maxDelayMs) } : {}),
    });
  }
  const details: Record<string, unknown> = {};
  if (failure.details.status !== undefined) details.status = failure.details.status;
  if (failure.details.body !== undefined) details.body = failure.details.body;
  return failure.kind === 'response' || failure.kind === 'status' || failure.kind === 'origin'
    ? new RecordError(failure.message, details, { cause: failure })
    : new PermanentError(failure.message, { cause: failure });
}

/** Checks `retry.on` entries; returns the ones this plugin does not know. */
export function unknownRetryClasses(on: ReadonlyArray<string | number>): Array<string | number> {
  return on.filter((entry) => {
    if (typeof entry === 'number') return !(entry >= 100 && entry <= 599);
    return !(RETRY_CLASSES as readonly string[]).includes(entry) && !/^[1-5](xx|\d\d)$/.test(entry);
  });
}

const MAX_SNIPPET = 300;

/**
 * A short, readable account of a response body for error messages: an HTML page by its title,
 * anything else trimmed to a few hundred characters on one line.
 */
export function describeBody(text: string, contentType: string | undefined): string {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (text.length === 0) return type ? `an empty ${type} body` : 'an empty body';
  const isHtml = type === 'text/html' || /^\s*(<!doctype html|<html)/i.test(text);
  if (isHtml) {
    const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
    const heading = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(text)?.[1];
    const label = (title ?? heading)?.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
    return label ? `an HTML page "${trim(label, 120)}"` : `an HTML page (${text.length} bytes)`;
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return `${type || 'a body'} ${JSON.stringify(trim(oneLine, MAX_SNIPPET))}`;
}

/** The body trimmed for a dead letter or error detail. */
export function trimBody(text: string): string {
  return trim(text.replace(/\s+/g, ' ').trim(), MAX_SNIPPET);
}

function trim(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
