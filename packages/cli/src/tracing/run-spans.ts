import type { Span, Tracer } from '@opentelemetry/api';
import type { BatchTiming, RunSummary } from '@sluice/core/internal';
import type { WatchedRun } from '../metrics/run-feed.js';

type Api = typeof import('@opentelemetry/api');

/**
 * Builds the spans of runs from their buses: `sluice.run` per run (or partition attempt),
 * `sluice.batch` per committed batch under it, and under each batch a `sluice.step` per transform
 * and a `sluice.sink.write` per sink write (retries included). Batch and step spans are made from
 * the engine's timings once the batch commits, with the times they carry, so the engine itself
 * never touches OpenTelemetry.
 */
export class RunSpans {
  constructor(
    private readonly api: Api,
    private readonly tracer: Tracer,
    /** Flushes what is left and stops the exporter. */
    readonly shutdown: () => Promise<void>,
  ) {}

  /**
   * Follows `run` from now to its end; `attributes` go on its run span (a partition, a worker).
   * Returns what ends the run span for a run that ended without an `end` event (refused at start).
   */
  follow(run: WatchedRun, attributes: Record<string, string | number> = {}): (summary: RunSummary) => void {
    const { api, tracer } = this;
    const job = run.redact(run.plan.name);
    const root = tracer.startSpan('sluice.run', { attributes: { 'sluice.job': job, ...attributes } });
    const parent = api.trace.setSpan(api.context.active(), root);
    /** Step timings of batches not committed yet, by seq. */
    const pending = new Map<number, BatchTiming[]>();
    let ended = false;

    const stepSpan = (t: BatchTiming, batchContext: ReturnType<Api['context']['active']>) => {
      const span = tracer.startSpan(
        t.kind === 'sink' ? 'sluice.sink.write' : 'sluice.step',
        { startTime: t.startedAt, attributes: { 'sluice.job': job, 'sluice.step': t.step!, 'sluice.batch': t.seq, 'sluice.records': t.records } },
        batchContext,
      );
      if (t.error) this.fail(span, run.redact(t.error));
      span.end(t.startedAt + t.ms);
    };
    const batchSpan = (seq: number, t: BatchTiming | undefined, error?: string) => {
      const steps = pending.get(seq) ?? [];
      pending.delete(seq);
      const startTime = t?.startedAt ?? Math.min(...steps.map((s) => s.startedAt));
      const span = tracer.startSpan('sluice.batch', { startTime, attributes: { 'sluice.job': job, 'sluice.batch': seq, ...(t ? { 'sluice.records': t.records } : {}) } }, parent);
      const context = api.trace.setSpan(parent, span);
      for (const step of steps) stepSpan(step, context);
      if (error) this.fail(span, error);
      span.end(t ? t.startedAt + t.ms : Math.max(...steps.map((s) => s.startedAt + s.ms)));
    };

    const offTiming = run.bus.onTiming((t) => {
      if (ended) return;
      if (t.step === undefined) batchSpan(t.seq, t);
      else {
        let list = pending.get(t.seq);
        if (!list) pending.set(t.seq, (list = []));
        list.push(t);
      }
    });
    const offEvents = run.bus.on((event) => {
      if (event.type === 'start' && event.resumed) root.setAttribute('sluice.resumed', true);
      if (event.type === 'end') end(event.summary);
    });
    const end = (summary: RunSummary) => {
      if (ended) return;
      ended = true;
      offTiming();
      offEvents();
      // Batches in flight when the run stopped never committed: they end with the run's reason.
      for (const seq of [...pending.keys()].sort((a, b) => a - b)) batchSpan(seq, undefined, summary.error ? run.redact(summary.error) : 'not committed');
      const c = summary.counters;
      root.setAttributes({
        'sluice.status': summary.status,
        'sluice.records.read': c.read,
        'sluice.records.written': c.written,
        'sluice.records.filtered': c.filtered,
        'sluice.records.dead_lettered': c.deadLettered,
        'sluice.records.skipped': c.skipped,
        'sluice.retries': c.retries,
      });
      if (summary.status === 'failed') this.fail(root, run.redact(summary.error ?? 'failed'));
      else if (summary.status === 'interrupted') root.setAttribute('sluice.interrupted', run.redact(summary.error ?? 'interrupted'));
      root.end();
    };
    return end;
  }

  private fail(span: Span, message: string): void {
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message });
    span.recordException({ name: 'SluiceError', message });
  }
}
