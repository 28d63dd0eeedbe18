import { Box } from 'ink';
import { clock, duration, int } from '../render/format.js';
import type { ProgressView } from '../render/watch.js';
import { Line } from './line.js';

/** The checkpoint and its age, and the dead letters. */
export function CheckpointLines({ view, columns }: { view: ProgressView; columns: number }) {
  const cp = view.checkpoint;
  const where = !view.checkpointing
    ? view.checkpointLabel
    : cp
      ? [`batch ${cp.seq}`, `saved ${duration(cp.ageMs)} ago`, ...(cp.read !== undefined ? [`${int(cp.read)} read`] : []), ...(cp.cursor ? [cp.cursor] : [])].join(', ')
      : 'none yet (saved as batches finish)';
  const dl = view.counters.deadLettered;
  return (
    <Box flexDirection="column" width={columns}>
      <Line width={columns} parts={[{ text: 'checkpoint ', bold: true }, { text: where }]} />
      <Line
        width={columns}
        parts={[
          { text: 'dead letters ', bold: true },
          { text: int(dl), ...(dl ? { color: 'red' } : {}) },
          ...(dl && view.deadLetterPath ? [{ text: ` in ${view.deadLetterPath}`, dim: true }] : []),
        ]}
      />
    </Box>
  );
}

/** Warnings that hold right now, and the last three errors, one line each. */
export function ErrorLines({ view, columns }: { view: ProgressView; columns: number }) {
  return (
    <Box flexDirection="column" width={columns}>
      {view.notices.map((n) => (
        <Line key={n.kind} width={columns} parts={[{ text: `! ${n.text}`, color: 'yellow' }]} />
      ))}
      <Line width={columns} parts={[{ text: 'last errors', bold: true }, ...(view.errors.length ? [] : [{ text: ' none', dim: true }])]} />
      {view.errors.map((e, i) => (
        <Line
          key={i}
          width={columns}
          parts={[
            { text: `  ${clock(e.atMs)} `, dim: true },
            { text: `${e.step ? `${e.step} ` : ''}${e.kind}`, color: e.kind === 'retry' || e.kind === 'warning' ? 'yellow' : 'red' },
            { text: ` ${e.text.replace(/\s+/g, ' ')}` },
          ]}
        />
      ))}
    </Box>
  );
}

/** What the keys do, or what is happening once a stop was asked for. */
export function KeyHints({ view, keys, columns }: { view: ProgressView; keys: boolean; columns: number }) {
  if (view.phase === 'stopping') {
    const then = view.checkpointOnStop === false ? '' : ', then the checkpoint';
    const text = `stopping (${view.reason ?? 'asked to'}): finishing ${view.batchesInFlight} batches in flight${then}; Ctrl-C: quit now`;
    return <Line width={columns} parts={[{ text, color: 'yellow' }]} />;
  }
  if (view.phase !== 'running' && view.phase !== 'starting') return null;
  const text = keys ? 'q or Ctrl-C: stop (drain, checkpoint, exit 130)   Ctrl-C twice: quit now' : 'Ctrl-C: stop (drain, checkpoint, exit 130)   twice: quit now';
  return <Line width={columns} parts={[{ text, dim: true }]} />;
}
