import type { RunEvent } from '@sluice/core/internal';
import { amount, bytes, clock, duration, int, rate } from './format.js';
import type { ProgressView, RunWatch } from './watch.js';

export interface Renderer {
  /** Ends the output (the screen draws its last frame first). */
  stop(): void | Promise<void>;
}

export interface PlainOptions {
  /** A progress line this often (default 5 s). */
  readonly everyMs?: number;
  /** Notes of the same kind (retries, dead letters, checkpoints) at most this often (default 10 s). */
  readonly quietMs?: number;
  readonly now?: () => number;
}

/**
 * `--progress plain`: a progress line every few seconds, and a line for each thing worth knowing
 * as it happens (first retries and dead letters, a retry storm, the error budget nearing, a
 * checkpoint, stopping). Notes of one kind are spaced out so a storm cannot flood a CI log.
 */
export function plainRenderer(watch: RunWatch, out: NodeJS.WritableStream, options: PlainOptions = {}): Renderer {
  const everyMs = options.everyMs ?? 5000;
  const quietMs = options.quietMs ?? 10_000;
  const now = options.now ?? Date.now;
  const write = (line: string) => out.write(`${watch.info.redact(line)}\n`);
  /** Per kind: when it was last noted, and how many went unnoted since. */
  const notes = new Map<string, { at: number; unsaid: number }>();
  const noteWorthy = (kind: string): number | undefined => {
    const t = now();
    const n = notes.get(kind);
    if (n && t - n.at < quietMs) {
      n.unsaid++;
      return undefined;
    }
    const unsaid = n?.unsaid ?? 0;
    notes.set(kind, { at: t, unsaid: 0 });
    return unsaid;
  };
  const more = (n: number) => (n ? ` (+${int(n)} more since the last note)` : '');

  watch.onEvent((event: RunEvent) => {
    switch (event.type) {
      case 'start':
        write(
          `${event.job}: ${event.resumed ? `resuming from the checkpoint (${int(event.counters.read)} records done)` : 'starting'} — ${watch.info.source}` +
            (event.dryRun ? ' (dry run)' : ''),
        );
        break;
      case 'estimate':
        write(`${event.unit === 'bytes' ? bytes(event.total) : `${int(event.total)} records`} to read`);
        break;
      case 'retry': {
        const unsaid = noteWorthy(`retry ${event.step}`);
        if (unsaid !== undefined) write(`retrying in ${event.step} (attempt ${event.attempt}): ${event.error}${more(unsaid)}`);
        break;
      }
      case 'deadLetter':
      case 'skip': {
        const unsaid = noteWorthy(`${event.type} ${event.step}`);
        const what = event.type === 'skip' ? 'skipped' : 'dead-lettered';
        if (unsaid !== undefined) write(`${what} in ${event.step}: ${event.error}${more(unsaid)}`);
        break;
      }
      case 'checkpoint':
        if (noteWorthy('checkpoint') !== undefined) write(`checkpoint: batch ${event.seq}, ${int(event.counters.read)} records read`);
        break;
      case 'log':
        if (event.level === 'warn' || event.level === 'error') write(`${event.level}: ${event.message}`);
        break;
      case 'stopping':
        write(`stopping: ${event.reason}; finishing batches in flight${event.checkpoint !== false ? ', then saving the checkpoint' : ' (no checkpoint is saved)'}`);
        break;
      default:
        break;
    }
  });

  // Sample often (for the ETA and the storm window), print seldom, and say when a condition starts or ends.
  const active = new Set<string>();
  let lastLine = now();
  const tick = () => {
    const view = watch.view();
    const current = new Set(view.notices.map((n) => n.kind));
    for (const notice of view.notices) if (!active.has(notice.kind)) write(`warning: ${notice.text}`);
    if (active.has('retryStorm') && !current.has('retryStorm')) write('retries have calmed down');
    active.clear();
    for (const kind of current) active.add(kind);
    if (now() - lastLine >= everyMs && view.phase === 'running') {
      lastLine = now();
      write(progressLine(view));
    }
  };
  const timer = setInterval(tick, Math.min(1000, everyMs));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      watch.close();
    },
  };
}

/** `0:12  read 523,120 (52.3% of 7.9 MB, eta 11s)  41,230/s  written …` */
export function progressLine(view: ProgressView): string {
  const c = view.counters;
  let head = `${clock(view.elapsedMs)}  read ${int(c.read)}`;
  if (view.total) {
    head += ` (${(view.total.fraction * 100).toFixed(1)}% of ${amount(view.total.total, view.total.unit)}`;
    head += view.etaMs !== undefined ? `, eta ${duration(view.etaMs)})` : ')';
  }
  return (
    `${head}  ${rate(view.rate)}  written ${int(c.written)}  filtered ${int(c.filtered)}  dead-lettered ${int(c.deadLettered)}` +
    (c.skipped ? `  skipped ${int(c.skipped)}` : '') +
    (c.retries ? `  retries ${int(c.retries)}` : '')
  );
}
