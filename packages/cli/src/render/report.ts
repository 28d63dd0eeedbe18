import { redactValue, type JobCounters, type RunSummary } from '@sluice/core/internal';
import { balanced, equation } from './format.js';

/** One step's counts in a report. */
export interface ReportStep {
  readonly id: string;
  readonly kind: 'source' | 'transform' | 'sink';
  readonly use: string;
  readonly in: number;
  readonly out: number;
  readonly filtered: number;
  readonly failed: number;
  readonly retries: number;
  /** 95th percentile latency of one record (sinks: one batch write) near the end of the run. */
  readonly p95Ms: number | null;
}

/**
 * What `--report FILE` writes and `--progress json` ends with: the run summary as data.
 * Its JSON Schema is `packages/cli/report.schema.json`; `version` changes only when a field's
 * meaning does (new fields may appear in version 1).
 */
export interface RunReport {
  readonly version: 1;
  readonly job: string;
  /** The job file, as given on the command line. */
  readonly file: string;
  readonly status: 'done' | 'failed' | 'interrupted';
  readonly error: string | null;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly dryRun: boolean;
  readonly resumed: boolean;
  /** Over the whole job, runs before a resume included. */
  readonly counters: JobCounters;
  /** This process's run alone. */
  readonly thisRun: JobCounters;
  /** read + produced = written + filtered + deadLettered + skipped, in `counters`. */
  readonly balanced: boolean;
  readonly equation: string;
  readonly throughput: { readonly recordsPerSecond: number };
  readonly steps: readonly ReportStep[];
  readonly deadLetters: { readonly count: number; readonly path: string | null };
  readonly checkpoint: { readonly location: string; readonly seq: number | null; readonly cursor: unknown } | null;
}

export interface ReportContext {
  readonly file: string;
  readonly startedAt: number;
  /** Where the checkpoint lives, or null when this run keeps none (dry run, --limit, store none). */
  readonly checkpoint: string | null;
  readonly deadLetterPath?: string;
  readonly redact: (text: string) => string;
}

export function reportOf(summary: RunSummary, context: ReportContext): RunReport {
  const secs = summary.durationMs / 1000;
  const report: RunReport = {
    version: 1,
    job: summary.job,
    file: context.file,
    status: summary.status,
    error: summary.error ?? null,
    startedAt: new Date(context.startedAt).toISOString(),
    endedAt: new Date(context.startedAt + summary.durationMs).toISOString(),
    durationMs: Math.round(summary.durationMs),
    dryRun: summary.dryRun,
    resumed: summary.resumed,
    counters: { ...summary.counters },
    thisRun: { ...summary.thisRun },
    balanced: balanced(summary.counters),
    equation: equation(summary.counters),
    throughput: { recordsPerSecond: secs > 0 ? Math.round((summary.thisRun.read / secs) * 10) / 10 : 0 },
    steps: summary.steps.map((s) => ({
      id: s.id,
      kind: s.kind,
      use: s.use,
      in: s.in,
      out: s.out,
      filtered: s.filtered,
      failed: s.failed,
      retries: s.retries,
      p95Ms: s.p95Ms === undefined ? null : Math.round(s.p95Ms * 1000) / 1000,
    })),
    deadLetters: { count: summary.counters.deadLettered, path: summary.counters.deadLettered > 0 ? (context.deadLetterPath ?? summary.deadLetterPath ?? null) : null },
    checkpoint: context.checkpoint === null ? null : { location: context.checkpoint, seq: summary.checkpoint?.seq ?? null, cursor: summary.checkpoint?.cursor ?? null },
  };
  // Cursors and error texts may quote a secret; the report passes the job's redactor whole.
  return redactValue(report, context.redact);
}
