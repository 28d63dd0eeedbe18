import { Box, Text } from 'ink';
import { amount, bar, clock, int, rate, truncate } from '../render/format.js';
import type { Phase, ProgressView } from '../render/watch.js';
import { Line } from './line.js';

const phaseColor: Record<Phase, string> = {
  starting: 'gray',
  running: 'green',
  stopping: 'yellow',
  done: 'green',
  failed: 'red',
  interrupted: 'yellow',
};

/** Job, source, phase and elapsed time; the percent bar with ETA, or a running count; the job's totals. */
export function Header({ view, columns }: { view: ProgressView; columns: number }) {
  const right = `${view.phase}  ${clock(view.elapsedMs)}`;
  // The phase and clock keep their place at the right; the source gives way.
  const title = truncate(`${view.job}  ${view.source}${view.resumed ? '  (resumed)' : ''}${view.dryRun ? '  (dry run)' : ''}`, Math.max(0, columns - right.length - 2));
  return (
    <Box flexDirection="column" width={columns}>
      <Line
        width={columns}
        parts={[
          { text: title.slice(0, view.job.length), bold: true },
          { text: title.slice(view.job.length), dim: true },
          { text: ' '.repeat(Math.max(1, columns - title.length - right.length)) },
          { text: right, color: phaseColor[view.phase] },
        ]}
      />
      <Line width={columns} parts={[{ text: progressText(view, columns) }]} />
      <Box width={columns} flexWrap="wrap" columnGap={2}>
        {totals(view).map((item) => (
          <Text key={item.text} {...(item.color ? { color: item.color } : {})} dimColor={item.dim === true}>
            {item.text}
          </Text>
        ))}
      </Box>
    </Box>
  );
}

/**
 * `[######....]  52.3%  4.1 MB / 7.9 MB  ETA 0:11` when the source estimated its size,
 * else `523,120 records read  41,230/s`.
 */
export function progressText(view: ProgressView, columns: number): string {
  if (!view.total) return `${int(view.counters.read)} records read  ${rate(view.rate)}`;
  const { fraction, done, total, unit } = view.total;
  const pct = `${(fraction * 100).toFixed(1)}%`.padStart(6);
  const live = view.phase === 'running' || view.phase === 'stopping' || view.phase === 'starting';
  const eta = !live ? '' : view.etaMs === undefined ? 'ETA --' : `ETA ${clock(view.etaMs)}`;
  let tail = `${pct}  ${amount(done, unit)} / ${amount(total, unit)}${eta ? `  ${eta}` : ''}`;
  if (columns - tail.length < 12) tail = `${pct}${eta ? `  ${eta}` : ''}`;
  const width = Math.max(4, Math.min(50, columns - tail.length - 2));
  return `${bar(fraction, width)}  ${tail}`;
}

/** The job's totals, each an item that wraps as a whole on a narrow terminal. */
export function totals(view: ProgressView): Array<{ text: string; color?: string; dim?: boolean }> {
  const c = view.counters;
  return [
    { text: `read ${int(c.read)}` },
    ...(view.total ? [{ text: rate(view.rate) }] : []),
    { text: `written ${int(c.written)}` },
    { text: `filtered ${int(c.filtered)}` },
    { text: `dead-lettered ${int(c.deadLettered)}`, ...(c.deadLettered ? { color: 'red' } : {}) },
    ...(c.skipped ? [{ text: `skipped ${int(c.skipped)}`, color: 'yellow' }] : []),
    { text: `retries ${int(c.retries)}`, ...(c.retries ? { color: 'yellow' } : {}) },
    ...(view.phase === 'running' || view.phase === 'stopping' ? [{ text: `${view.batchesInFlight} in flight`, dim: true }] : []),
  ];
}

/** Lines the header takes at this width (the totals wrap). */
export function headerHeight(view: ProgressView, columns: number): number {
  let lines = 1;
  let used = 0;
  for (const { text } of totals(view)) {
    const need = used ? used + 2 + text.length : text.length;
    if (used && need > columns) {
      lines++;
      used = text.length;
    } else used = need;
  }
  return 2 + lines;
}
