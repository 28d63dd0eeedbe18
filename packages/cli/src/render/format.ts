import type { JobCounters, RunSummary, StepSnapshot } from '@sluice/core/internal';

export const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
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

/** `read 1,000 = written 940 + filtered 50 + dead-lettered 10 + skipped 0`, with produced when a transform split records. */
export function equation(c: JobCounters): string {
  const left = c.produced ? `read ${int(c.read)} + produced ${int(c.produced)}` : `read ${int(c.read)}`;
  return `${left} = written ${int(c.written)} + filtered ${int(c.filtered)} + dead-lettered ${int(c.deadLettered)} + skipped ${int(c.skipped)}`;
}

export function stepLine(s: StepSnapshot): string {
  const parts =
    s.kind === 'source'
      ? [`read ${int(s.out)}`]
      : [`in ${int(s.in)}`, `out ${int(s.out)}`, ...(s.filtered ? [`filtered ${int(s.filtered)}`] : []), `failed ${int(s.failed)}`];
  if (s.retries) parts.push(`retries ${int(s.retries)}`);
  return `  ${s.id.padEnd(14)} ${s.use.padEnd(10)} ${parts.join('  ')}`;
}

export function summaryText(summary: RunSummary, extra: { checkpoint?: string } = {}): string {
  const c = summary.counters;
  const secs = summary.durationMs / 1000;
  const rate = secs > 0 ? summary.thisRun.read / secs : 0;
  const head =
    summary.status === 'done'
      ? `${summary.job}: done in ${duration(summary.durationMs)}`
      : summary.status === 'interrupted'
        ? `${summary.job}: interrupted after ${duration(summary.durationMs)}; the checkpoint is saved, run again to resume`
        : `${summary.job}: failed after ${duration(summary.durationMs)}`;
  const lines = [head + (summary.dryRun ? ' (dry run: nothing written)' : '')];
  if (summary.error) lines.push(`  error: ${summary.error}`);
  if (summary.steps.length) {
    lines.push(`  ${equation(c)}${summary.status === 'done' ? '' : ' (so far)'}`);
    lines.push(
      `  this run: ${int(summary.thisRun.read)} records in ${duration(summary.durationMs)} (${int(rate)}/s)` +
        (summary.resumed ? ', resumed from the checkpoint' : '') +
        (c.retries ? `, ${int(c.retries)} retries` : ''),
    );
    for (const step of summary.steps) lines.push(stepLine(step));
  }
  if (summary.deadLetterPath) lines.push(`  dead letters: ${summary.deadLetterPath} (${int(c.deadLettered)})`);
  if (extra.checkpoint && summary.checkpoint) lines.push(`  checkpoint: batch ${summary.checkpoint.seq} in ${extra.checkpoint}`);
  return lines.join('\n');
}
