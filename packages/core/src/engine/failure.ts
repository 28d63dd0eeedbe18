import type { EventBus } from '../events/bus.js';
import type { RecordPosition } from '../plugin/types.js';

/** A fatal error of a run, said in one line a user can act on. */
export class RunFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunFailure';
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

export function formatPosition(position: RecordPosition): string {
  if (typeof position.file === 'string' && position.line !== undefined) return `${position.file}:${String(position.line)}`;
  const parts = Object.entries(position).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length ? parts.join(', ') : 'unknown position';
}

/**
 * Whether a run goes on: the first failure wins and aborts everything in flight; a stop (signal,
 * `q`, `--limit`) only stops reading, so what is in flight still finishes and is checkpointed.
 */
export class RunControl {
  /** Aborted to stop reading (stop or failure). */
  readonly readStop = new AbortController();
  failure: RunFailure | undefined;
  stopReason: string | undefined;

  constructor(
    /** The run's abort: aborted on failure so in-flight attempts stop. */
    readonly abort: AbortController,
    readonly bus: EventBus,
    private readonly redact: (text: string) => string,
    /** Whether a stop ends with a checkpoint (not for `--limit`, dry runs, replays). */
    private readonly checkpointing: boolean,
  ) {}

  get stopped(): boolean {
    return this.stopReason !== undefined || this.failure !== undefined;
  }

  stop(reason: string): void {
    if (this.stopReason || this.failure) return;
    this.stopReason = reason;
    this.bus.emit({ type: 'stopping', reason, checkpoint: this.checkpointing });
    this.readStop.abort(new Error(reason));
  }

  fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof RunFailure ? error : new RunFailure(this.redact(messageOf(error)), { cause: error });
    this.readStop.abort(this.failure);
    this.abort.abort(this.failure);
  }
}
