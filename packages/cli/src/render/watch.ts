import { formatPosition, type EventBus, type JobCounters, type JobPlan, type ProgressSnapshot, type RunEvent, type RunSummary, type StepSnapshot } from '@sluice/core/internal';
import { cursorText, int } from './format.js';

/** What the renderers know of a job besides its events: labels only, secrets already hidden. */
export interface RunInfo {
  readonly job: string;
  /** `file data/users.csv` */
  readonly source: string;
  readonly maxFailed?: JobPlan['maxFailed'];
  /** Where checkpoints go, or why there are none (`off: dry run`). */
  readonly checkpoint: string;
  readonly checkpointing: boolean;
  /** The dead-letter file, when the dead letters go to one. */
  readonly deadLetterPath?: string;
  readonly redact: (text: string) => string;
}

export type Phase = 'starting' | 'running' | 'stopping' | 'done' | 'failed' | 'interrupted';

export interface ErrorNote {
  /** Milliseconds since the run started. */
  readonly atMs: number;
  readonly step: string;
  readonly kind: 'retry' | 'dead letter' | 'skipped' | 'error' | 'warning';
  readonly text: string;
}

export interface ProgressView {
  readonly job: string;
  readonly source: string;
  readonly phase: Phase;
  /** Why the run is stopping or stopped. */
  readonly reason?: string;
  /** Whether the stop ends with a checkpoint (false for `--limit`, dry runs). */
  readonly checkpointOnStop?: boolean;
  readonly elapsedMs: number;
  readonly counters: JobCounters;
  readonly steps: readonly StepSnapshot[];
  /** Smoothed records read per second. */
  readonly rate: number;
  /** Set when the source estimated its size. */
  readonly total?: { readonly done: number; readonly total: number; readonly unit: 'records' | 'bytes'; readonly fraction: number };
  readonly etaMs?: number;
  readonly checkpoint?: { readonly seq: number; readonly cursor: string; readonly ageMs: number; readonly read?: number };
  readonly checkpointLabel: string;
  readonly checkpointing: boolean;
  readonly deadLetterPath?: string;
  /** The last three errors, oldest first, secrets redacted. */
  readonly errors: readonly ErrorNote[];
  /** Conditions worth a warning right now (retry storm, error budget nearly spent). */
  readonly notices: readonly Notice[];
  readonly batchesInFlight: number;
  readonly resumed: boolean;
  readonly dryRun: boolean;
}

export interface Notice {
  readonly kind: 'retryStorm' | 'budget';
  readonly text: string;
}

/** Retries within this window make a storm when there are many of them. */
const WINDOW_MS = 10_000;
/** A storm: at least this many retries in the window, and at least 1% of the records read in it. */
const STORM_MIN = 10;
/** The error budget is "near" from this share of it on. */
const BUDGET_NEAR = 0.8;

/** Counts per one-second bucket over the last ten seconds. */
class WindowCount {
  private readonly buckets = new Float64Array(10);
  private readonly stamps = new Float64Array(10);

  add(now: number, n = 1): void {
    const second = Math.floor(now / 1000);
    const i = second % 10;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]! += n;
  }

  total(now: number): number {
    const second = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < 10; i++) if (second - this.stamps[i]! < 10) sum += this.buckets[i]!;
    return sum;
  }
}

/** Progress in the source's unit over the last ten seconds, for an ETA that follows the current pace. */
export class EtaMeter {
  private samples: Array<{ at: number; done: number }> = [];

  sample(done: number, at: number): void {
    const last = this.samples.at(-1);
    if (last && at - last.at < 250) return;
    if (last && done < last.done) this.samples = [];
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= WINDOW_MS) this.samples.shift();
  }

  /** Milliseconds left at the recent pace; undefined until a second of progress is seen. */
  eta(total: number): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 1000) return undefined;
    const perMs = (last.done - first.done) / (last.at - first.at);
    if (perMs <= 0) return undefined;
    return Math.max(0, (total - last.done) / perMs);
  }
}

/**
 * Follows a run through its events and progress snapshots, and keeps what the screens show
 * besides the snapshot itself: the phase, the last errors, the ETA, retry storms, the error budget.
 * It holds no job logic: every number comes from the engine.
 */
export class RunWatch {
  phase: Phase = 'starting';
  reason: string | undefined;
  checkpointOnStop = true;
  resumed = false;
  dryRun = false;
  summary: RunSummary | undefined;
  private errors: ErrorNote[] = [];
  private readonly retries = new Map<string, { window: WindowCount; last: string }>();
  private readonly reads = new Array<{ at: number; read: number }>();
  private readonly eta = new EtaMeter();
  private checkpoint: { seq: number; cursor: unknown; at: number; read?: number } | undefined;
  private lastSnapshot: ProgressSnapshot | undefined;
  /** Whether reading stopped before the source ran out (a stop, or `--limit`). */
  private stoppedEarly = false;
  /** When the run started (its `start` event), the zero of the error times. */
  private startedAt: number;
  private readonly unsubscribe: () => void;
  /** Listeners for each event, after the watch has taken it in (the plain renderer's lines). */
  private readonly listeners: Array<(event: RunEvent) => void> = [];

  constructor(
    bus: EventBus,
    private readonly progress: () => ProgressSnapshot | undefined,
    readonly info: RunInfo,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.unsubscribe = bus.on((event) => this.take(event));
  }

  onEvent(listener: (event: RunEvent) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.unsubscribe();
  }

  private note(step: string, kind: ErrorNote['kind'], text: string): void {
    this.errors.push({ atMs: this.now() - this.startedAt, step, kind, text });
    if (this.errors.length > 3) this.errors.shift();
  }

  private take(event: RunEvent): void {
    switch (event.type) {
      case 'start':
        this.startedAt = this.now();
        this.phase = 'running';
        this.resumed = event.resumed;
        this.dryRun = event.dryRun;
        break;
      case 'retry': {
        let r = this.retries.get(event.step);
        if (!r) this.retries.set(event.step, (r = { window: new WindowCount(), last: '' }));
        r.window.add(this.now());
        r.last = event.error;
        this.note(event.step, 'retry', `attempt ${event.attempt} in ${Math.round(event.delayMs)}ms${event.position ? ` (${formatPosition(event.position)})` : ''}: ${event.error}`);
        break;
      }
      case 'deadLetter':
        this.note(event.step, 'dead letter', `${formatPosition(event.position)}: ${event.error}`);
        break;
      case 'skip':
        this.note(event.step, 'skipped', `${formatPosition(event.position)}: ${event.error}`);
        break;
      case 'log':
        if (event.level === 'error' || event.level === 'warn') this.note('', event.level === 'error' ? 'error' : 'warning', event.message);
        break;
      case 'checkpoint':
        this.checkpoint = { seq: event.seq, cursor: event.cursor, at: this.now(), read: event.counters.read };
        break;
      case 'stopping':
        if (this.phase !== 'failed') this.phase = 'stopping';
        this.reason = event.reason;
        this.checkpointOnStop = event.checkpoint !== false;
        this.stoppedEarly = true;
        break;
      case 'end':
        // The source's position at the end, not the last one the screen happened to sample.
        this.lastSnapshot = this.progress() ?? this.lastSnapshot;
        this.summary = event.summary;
        this.phase = event.summary.status;
        this.reason = event.summary.error;
        break;
      default:
        break;
    }
    for (const listener of this.listeners) listener(event);
  }

  /** Takes a snapshot from the engine (at most as often as the screen repaints) and derives the view. */
  view(): ProgressView {
    const now = this.now();
    const snapshot = this.summary ? this.lastSnapshot : (this.progress() ?? this.lastSnapshot);
    if (snapshot && !this.summary) {
      this.lastSnapshot = snapshot;
      const last = this.reads.at(-1);
      if (!last || now - last.at >= 250) this.reads.push({ at: now, read: snapshot.counters.read });
      while (this.reads.length > 2 && now - this.reads[1]!.at >= WINDOW_MS) this.reads.shift();
      if (snapshot.progress?.total !== undefined) this.eta.sample(snapshot.progress.done, now);
    }
    const summary = this.summary;
    const counters = summary?.counters ?? snapshot?.counters ?? { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 };
    const steps = summary?.steps.length ? summary.steps : (snapshot?.steps ?? []);
    const p = snapshot?.progress;
    let total: ProgressView['total'];
    if (p?.total !== undefined && p.total > 0) {
      // A finished source has read its whole estimate; a run cut short (--limit) has read what it read.
      const done = summary?.status === 'done' && !this.stoppedEarly ? p.total : p.done;
      total = { done, total: p.total, unit: p.unit, fraction: Math.min(1, done / p.total) };
    }
    const checkpoint = this.checkpoint ?? (snapshot?.checkpoint ? { ...snapshot.checkpoint, at: snapshot.checkpoint.at } : undefined);
    const redact = this.info.redact;
    return {
      job: this.info.job,
      source: this.info.source,
      phase: this.phase,
      ...(this.reason ? { reason: redact(this.reason) } : {}),
      checkpointOnStop: this.checkpointOnStop,
      elapsedMs: summary ? summary.durationMs : (snapshot?.elapsedMs ?? now - this.startedAt),
      counters,
      steps,
      // Once the run is over, the average of this run rather than the last smoothed pace.
      rate: summary ? (summary.durationMs > 0 ? summary.thisRun.read / (summary.durationMs / 1000) : 0) : (snapshot?.rate ?? 0),
      ...(total ? { total } : {}),
      ...(total && !summary ? { etaMs: this.eta.eta(total.total) } : {}),
      ...(checkpoint
        ? { checkpoint: { seq: checkpoint.seq, cursor: redact(cursorText(checkpoint.cursor)), ageMs: Math.max(0, now - checkpoint.at), ...(checkpoint.read !== undefined ? { read: checkpoint.read } : {}) } }
        : {}),
      checkpointLabel: this.info.checkpoint,
      checkpointing: this.info.checkpointing,
      ...(this.info.deadLetterPath ? { deadLetterPath: this.info.deadLetterPath } : {}),
      errors: this.errors.map((e) => ({ ...e, text: redact(e.text) })),
      notices: this.notices(counters, now),
      batchesInFlight: summary ? 0 : (snapshot?.batchesInFlight ?? 0),
      resumed: this.resumed,
      dryRun: this.dryRun,
    };
  }

  private notices(counters: JobCounters, now: number): Notice[] {
    const notices: Notice[] = [];
    const first = this.reads[0];
    const readInWindow = first ? counters.read - first.read : 0;
    for (const [step, r] of this.retries) {
      const n = r.window.total(now);
      if (n >= STORM_MIN && n >= readInWindow * 0.01) {
        notices.push({ kind: 'retryStorm', text: `retry storm in ${step}: ${int(n)} retries in the last 10s (last: ${this.info.redact(r.last)})` });
      }
    }
    const budget = budgetUse(this.info.maxFailed, counters);
    if (budget && budget.share >= BUDGET_NEAR) notices.push({ kind: 'budget', text: budget.text });
    return notices;
  }
}

/** How much of `errors.maxFailed` is spent, or undefined when the job has none (or too few records to tell). */
export function budgetUse(budget: JobPlan['maxFailed'], c: JobCounters): { share: number; text: string } | undefined {
  if (!budget) return undefined;
  const failed = c.deadLettered + c.skipped;
  if ('count' in budget) {
    const share = budget.count === 0 ? (failed > 0 ? 1 : 0) : failed / budget.count;
    return { share, text: `error budget ${Math.round(share * 100)}% spent: ${int(failed)} of ${int(budget.count)} failed records allowed (errors.maxFailed)` };
  }
  if (c.read < 100) return undefined;
  const percent = (failed / c.read) * 100;
  const share = budget.percent === 0 ? (failed > 0 ? 1 : 0) : percent / budget.percent;
  return { share, text: `error budget ${Math.round(share * 100)}% spent: ${percent.toFixed(2)}% of records failed, ${budget.percent}% allowed (errors.maxFailed)` };
}
