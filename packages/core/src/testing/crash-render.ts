// The crash-test report as a table: one row per fault point and sink, the source first.
import type { CrashReport, CrashScenario } from './crash-harness.js';

const num = (n: number | undefined) => (n === undefined ? '-' : String(n));

function crashedAt(s: CrashScenario): string {
  if (s.crashes.length === 0) return 'not reached';
  return s.crashes.map((c) => `batch ${c.seq ?? '?'}${c.sink ? ` (${c.sink})` : ''}`).join(', ');
}

/** The report as text: a table, then the verdict and what the verdicts mean. */
export function formatCrashReport(report: CrashReport): string {
  const header = ['point', 'crashed at', 'sink', 'guarantee', 'lost', 'dup', 'extra', 'order', 'result'];
  const rows: string[][] = [];
  for (const s of report.scenarios) {
    const at = crashedAt(s);
    const src = s.source;
    rows.push([s.point, at, '(source)', 'reads once', num(src.lost), num(src.duplicated), num(src.unexpected), num(src.outOfOrder), src.verdict]);
    for (const k of s.sinks) {
      rows.push([
        '',
        '',
        k.sink,
        k.declared ? k.guarantee : `${k.guarantee}?`,
        num(k.lost),
        num(k.duplicated),
        num(k.unexpected),
        k.ordered ? num(k.outOfOrder) : 'n/a',
        s.error ? 'error' : k.verdict,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([4, 5, 6, 7]);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  for (const s of report.scenarios) if (s.error) out.push('', `${s.point}: ${s.error}`);
  const notes: string[] = [];
  if (report.scenarios.some((s) => s.sinks.some((k) => !k.declared))) notes.push('guarantee?: the plugin declares none; judged as at-least-once');
  if (report.scenarios.some((s) => s.sinks.some((k) => k.verdict === 'not checked'))) notes.push('not checked: the plugin cannot read back what it holds (no readBack); nothing was proven for it');
  if (report.scenarios.some((s) => s.crashes.length === 0)) notes.push('not reached: the job never got to that point (one sink, no pipelining, no dead letters…); the run was compared uninterrupted');
  const failed = report.scenarios.filter((s) => !s.passed).map((s) => s.point);
  out.push(
    '',
    `${report.records} records in ${report.batches} batches; compared with the uninterrupted run after every crash and resume`,
    ...notes,
    failed.length ? `FAILED at ${failed.join(', ')}` : 'passed: every sink that was checked kept its guarantee at every point',
  );
  return `${out.join('\n')}\n`;
}
