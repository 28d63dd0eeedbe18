import type { JobCounters, RunSummary, StepSnapshot } from '@sluice/core/internal';
import { layoutTable, type Column } from './table.js';

export { truncate } from './table.js';

/**
 * `1,234,567`, as `toLocaleString('en-US')` writes a rounded number, grouped by hand: a process's
 * first `toLocaleString` builds ICU's number formatter, 20 ms of the 0.3 s a small run takes.
 */
export function int(n: number): string {
  const r = Math.round(n);
  // -0, NaN, ±Infinity and numbers String() writes with an exponent: ICU's own text.
  if (!(Math.abs(r) < 1e21) || Object.is(r, -0)) return r.toLocaleString('en-US');
  const digits = String(Math.abs(r));
  let out = '';
  for (let end = digits.length; end > 0; end -= 3) out = end > 3 ? `,${digits.slice(end - 3, end)}${out}` : `${digits.slice(0, end)}${out}`;
  return r < 0 ? `-${out}` : out;
}

/** `523,120` while it is short, `523.1k` / `12.4M` when it is not: counts that fit a column. */
export function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs < 100_000) return int(n);
  const [div, unit] = abs < 1e6 ? [1e3, 'k'] : abs < 1e9 ? [1e6, 'M'] : [1e9, 'G'];
  const v = n / div;
  return `${Math.abs(v) >= 100 ? Math.round(v) : v.toFixed(1)}${unit}`;
}

/** The full count when it fits `width` characters, else the compact one. */
export const fitInt = (n: number, width: number): string => {
  const full = int(n);
  return full.length <= width ? full : compact(n);
};

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Elapsed time as a clock: `0:07`, `12:03`, `1:02:03`. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Records per second: `41,230/s`, `2.5/s`. */
export function rate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0/s';
  return perSecond < 10 ? `${perSecond.toFixed(1)}/s` : `${compact(perSecond)}/s`;
}

/** A latency: `-` when unknown, `80us`, `4.2ms`, `310ms`, `1.2s`. */
export function latency(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1) return `${Math.max(1, Math.round(ms * 1000))}us`;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return duration(ms);
}

export function bytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** An amount in the source's own unit. */
export const amount = (n: number, unit: 'records' | 'bytes'): string => (unit === 'bytes' ? bytes(n) : int(n));

/** A bar of `width` cells, `fraction` of them full: `#####.....`. */
export function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return '#'.repeat(full) + '.'.repeat(Math.max(0, width - full));
}

/** A source cursor in one line: `name=users.csv offset=1234 line=40`, secrets redacted by the caller. */
export function cursorText(cursor: unknown): string {
  if (cursor === undefined || cursor === null) return '';
  if (typeof cursor !== 'object') return String(cursor);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(cursor as Record<string, unknown>)) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(`${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  return parts.join(' ');
}

/** `read 1,000 = written 940 + filtered 50 + dead-lettered 10 + skipped 0`, with produced when a transform split records. */
export function equation(c: JobCounters): string {
  const left = c.produced ? `read ${int(c.read)} + produced ${int(c.produced)}` : `read ${int(c.read)}`;
  return `${left} = written ${int(c.written)} + filtered ${int(c.filtered)} + dead-lettered ${int(c.deadLettered)} + skipped ${int(c.skipped)}`;
}

/** Whether every record that came in left through one door (see the equation). */
export const balanced = (c: JobCounters): boolean => c.read + c.produced === c.written + c.filtered + c.deadLettered + c.skipped;

/** Steps as a table: the same columns in the final summary and (with live columns) on the screen. */
export function summaryColumns(): Array<Column<StepSnapshot>> {
  const dash = (s: StepSnapshot, n: number) => (s.kind === 'source' ? '-' : int(n));
  return [
    { title: 'step', align: 'left', priority: 0, flex: true, min: 6, cell: (s) => (s.use === s.id ? s.id : `${s.id} (${s.use})`), short: (s) => s.id },
    { title: 'in', align: 'right', priority: 1, cell: (s) => dash(s, s.in) },
    { title: 'out', align: 'right', priority: 0, cell: (s) => int(s.out) },
    { title: 'filtered', align: 'right', priority: 3, cell: (s) => (s.kind === 'transform' ? int(s.filtered) : '-') },
    { title: 'failed', align: 'right', priority: 1, cell: (s) => int(s.failed) },
    { title: 'retries', align: 'right', priority: 2, cell: (s) => (s.kind === 'source' ? '-' : int(s.retries)) },
    { title: 'p95', align: 'right', priority: 4, cell: (s) => (s.kind === 'source' ? '-' : latency(s.p95Ms) + (s.kind === 'sink' && s.p95Ms !== undefined ? '/batch' : '')) },
  ];
}

export function summaryText(summary: RunSummary, extra: { checkpoint?: string; columns?: number } = {}): string {
  const c = summary.counters;
  const secs = summary.durationMs / 1000;
  const throughput = secs > 0 ? summary.thisRun.read / secs : 0;
  const head =
    summary.status === 'done'
      ? `${summary.job}: done in ${duration(summary.durationMs)}`
      : summary.status === 'interrupted'
        ? `${summary.job}: interrupted after ${duration(summary.durationMs)}; the checkpoint is saved, run again to resume`
        : `${summary.job}: failed after ${duration(summary.durationMs)}`;
  const lines = [head + (summary.dryRun ? ' (dry run: nothing written)' : '')];
  if (summary.error) lines.push(`  error: ${summary.error}`);
  if (summary.steps.length) {
    const note = summary.status === 'done' ? (balanced(c) ? '' : '  (does not balance: please report this)') : ' (so far)';
    const eq = `  ${equation(c)}${note}`;
    // On a narrow terminal the equation breaks before its second half rather than mid-word.
    const cut = eq.indexOf(' + dead-lettered');
    if (extra.columns && eq.length > extra.columns && cut > 0) lines.push(eq.slice(0, cut), `${' '.repeat(eq.indexOf('='))}${eq.slice(cut + 1)}`);
    else lines.push(eq);
    lines.push(
      `  this run: ${int(summary.thisRun.read)} records in ${duration(summary.durationMs)} (${rate(throughput)})` +
        (summary.resumed ? ', resumed from the checkpoint' : '') +
        `, ${int(summary.thisRun.retries)} ${summary.thisRun.retries === 1 ? 'retry' : 'retries'}`,
    );
    const table = layoutTable(summaryColumns(), summary.steps, (extra.columns ?? 100) - 2);
    lines.push(...table.lines.map((l) => `  ${l}`.trimEnd()));
  }
  if (summary.deadLetterPath) lines.push(`  dead letters: ${summary.deadLetterPath} (${int(c.deadLettered)})`);
  if (extra.checkpoint && summary.checkpoint) lines.push(`  checkpoint: batch ${summary.checkpoint.seq} in ${extra.checkpoint}`);
  return lines.join('\n');
}
