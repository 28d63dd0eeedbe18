import { EventEmitter } from 'node:events';
import type { Logger } from './logger.js';
import { redactValue } from './redact.js';
import type { BatchTiming, RunEvent } from './types.js';

/** Typed event stream of a run; the CLI's renderers subscribe to it. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  emit(event: RunEvent): void {
    this.emitter.emit('event', event);
  }

  on(listener: (event: RunEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  /** Whether anyone listens to timings: the engine builds none otherwise. */
  get timed(): boolean {
    return this.emitter.listenerCount('timing') > 0;
  }

  emitTiming(timing: BatchTiming): void {
    this.emitter.emit('timing', timing);
  }

  onTiming(listener: (timing: BatchTiming) => void): () => void {
    this.emitter.on('timing', listener);
    return () => this.emitter.off('timing', listener);
  }
}

/** A logger that publishes to the bus, secrets redacted. */
export class BusLogger implements Logger {
  constructor(
    private readonly bus: EventBus,
    private readonly redact: (text: string) => string,
    private readonly scope?: string,
  ) {}

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) {
    const text = this.redact(this.scope ? `${this.scope}: ${message}` : message);
    const safe = fields ? redactValue(fields, this.redact) : undefined;
    this.bus.emit({ type: 'log', level, message: text, ...(safe ? { fields: safe } : {}) });
  }

  debug(message: string, fields?: Record<string, unknown>) { this.log('debug', message, fields); }
  info(message: string, fields?: Record<string, unknown>) { this.log('info', message, fields); }
  warn(message: string, fields?: Record<string, unknown>) { this.log('warn', message, fields); }
  error(message: string, fields?: Record<string, unknown>) { this.log('error', message, fields); }

  child(scope: string): BusLogger {
    return new BusLogger(this.bus, this.redact, this.scope ? `${this.scope}.${scope}` : scope);
  }
}

export { Redactor, redactValue } from './redact.js';
