/**
 * Error kinds a plugin throws to steer the engine. Anything else thrown by a plugin is treated as
 * transient (retried by the step's policy) unless it has `retryable: false`.
 */

/** Retry this: the same call may succeed later. `retryAfterMs` overrides the backoff (e.g. Retry-After). */
export class TransientError extends Error {
  readonly retryable = true;
  constructor(
    message: string,
    options?: ErrorOptions & { retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'TransientError';
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}

/** Do not retry: the record or request is wrong and will stay wrong. */
export class PermanentError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** A record-level failure with data about the record (e.g. a validation error); never retried. */
export class RecordError extends PermanentError {
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RecordError';
  }
}

/**
 * A plugin refuses to start because the job, as written, would do something the user did not ask
 * for against what the plugin found (e.g. a fresh `insert` into a table that already holds rows).
 * The run stops before reading anything and the CLI exits 2, as for an invalid job.
 */
export class StartupRefusal extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StartupRefusal';
  }
}

/** Whether the engine should retry after `error` (before the step's `retry.on` narrows it). */
export function isRetryable(error: unknown): boolean {
  return !(error && typeof error === 'object' && (error as { retryable?: unknown }).retryable === false);
}

/** A `Retry-After`-style override carried by an error, in milliseconds. */
export function retryAfterOf(error: unknown): number | undefined {
  const value = error && typeof error === 'object' ? (error as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
