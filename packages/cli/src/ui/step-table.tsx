import type { StepSnapshot } from '@sluice/core/internal';
import { Box, Text } from 'ink';
import { compact, fitInt, int, latency } from '../render/format.js';
import { layoutTable, type Column } from '../render/table.js';
import { Line } from './line.js';

/** The live columns of the step table, each with the priority it keeps on a narrow terminal. */
export function liveColumns(readRate: number): Array<Column<StepSnapshot>> {
  const count = (n: number) => fitInt(n, 9);
  return [
    { title: 'step', align: 'left', priority: 0, flex: true, min: 8, cell: (s) => (s.use === s.id ? s.id : `${s.id} (${s.use})`), short: (s) => s.id },
    { title: 'in', align: 'right', priority: 2, cell: (s) => (s.kind === 'source' ? '-' : count(s.in)) },
    { title: 'out', align: 'right', priority: 0, cell: (s) => count(s.out) },
    { title: 'filtered', align: 'right', priority: 4, cell: (s) => (s.kind === 'transform' ? count(s.filtered) : '-') },
    { title: 'failed', align: 'right', priority: 1, cell: (s) => count(s.failed) },
    { title: 'retrying', align: 'right', priority: 3, cell: (s) => (s.kind === 'source' ? '-' : int(s.retrying)) },
    { title: 'rate/s', align: 'right', priority: 2, cell: (s) => compact(s.kind === 'source' ? readRate : s.rate) },
    { title: 'p95', align: 'right', priority: 5, cell: (s) => (s.kind === 'source' ? '-' : `${latency(s.p95Ms)}${s.kind === 'sink' && s.p95Ms !== undefined ? '/b' : ''}`) },
  ];
}

/** One row per step: in, out, filtered, failed, retrying now, smoothed rate, p95 latency (sinks: per batch). */
export function StepTable({ steps, readRate, columns, maxRows }: { steps: readonly StepSnapshot[]; readRate: number; columns: number; maxRows?: number }) {
  const shown = maxRows !== undefined && steps.length > maxRows ? steps.slice(0, Math.max(0, maxRows - 1)) : steps;
  const table = layoutTable(liveColumns(readRate), shown, columns);
  const titles = table.columns.map((c) => c.title);
  const failedAt = titles.indexOf('failed');
  const retryingAt = titles.indexOf('retrying');
  return (
    <Box flexDirection="column" width={columns}>
      <Text bold wrap="truncate-end">{table.header.join('  ')}</Text>
      {table.rows.map((cells, r) => {
        const step = shown[r]!;
        return (
          <Text key={step.id} wrap="truncate-end">
            {cells.map((cell, k) => {
              const sep = k ? '  ' : '';
              if (k === failedAt && step.failed > 0) return <Text key={k} color="red">{sep + cell}</Text>;
              if (k === retryingAt && step.retrying > 0) return <Text key={k} color="yellow">{sep + cell}</Text>;
              return sep + cell;
            })}
          </Text>
        );
      })}
      {shown.length < steps.length ? <Line width={columns} parts={[{ text: `... ${steps.length - shown.length} more steps (a taller terminal shows them)`, dim: true }]} /> : null}
    </Box>
  );
}
