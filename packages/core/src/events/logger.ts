/** How much a log line matters; the progress screen shows `warn` and `error`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where a plugin logs (`ctx.logger`): lines go to the run's event bus, secrets redacted. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
