import { redactValue, type RunEvent } from '@sluice/core/internal';
import type { Renderer } from './plain.js';
import type { RunReport } from './report.js';
import type { RunWatch } from './watch.js';

export interface JsonRenderer extends Renderer {
  /** The last line: `{"type":"end","report":{…}}`, the same report `--report` writes. */
  end(report: RunReport): void;
  /** The last line when the run could not start (`{"type":"error","message":…}`). */
  error(message: string): void;
}

/**
 * `--progress json`: one JSON object per line on `out`, each with `type` and `time`: the engine's
 * events as they happen (start, estimate, retry, deadLetter, skip, checkpoint, log, stopping), a
 * `progress` snapshot every second, and `end` with the run report. Secrets are redacted.
 */
export function jsonRenderer(watch: RunWatch, out: NodeJS.WritableStream, everyMs = 1000): JsonRenderer {
  const write = (event: object) => out.write(`${JSON.stringify(redactValue({ ...event, time: new Date().toISOString() }, watch.info.redact))}\n`);
  watch.onEvent((event: RunEvent) => {
    // The end line carries the report, written by `end()` once the command knows all of it.
    if (event.type === 'end' || (event.type === 'log' && event.level === 'debug')) return;
    write(event);
  });
  const timer = setInterval(() => {
    const view = watch.view();
    if (view.phase !== 'running' && view.phase !== 'stopping') return;
    const { job, elapsedMs, counters, steps, rate, batchesInFlight } = view;
    write({
      type: 'progress',
      job,
      phase: view.phase,
      elapsedMs,
      counters,
      steps,
      rate,
      batchesInFlight,
      ...(view.total ? { total: view.total } : {}),
      ...(view.etaMs !== undefined ? { etaMs: Math.round(view.etaMs) } : {}),
      ...(view.checkpoint ? { checkpoint: { seq: view.checkpoint.seq, ageMs: view.checkpoint.ageMs } } : {}),
      ...(view.notices.length ? { notices: view.notices } : {}),
    });
  }, everyMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    watch.close();
  };
  return {
    stop,
    end(report) {
      stop();
      write({ type: 'end', report });
    },
    error(message) {
      stop();
      write({ type: 'error', message });
    },
  };
}
