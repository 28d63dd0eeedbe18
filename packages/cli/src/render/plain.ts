import type { EventBus, ProgressSnapshot, RunEvent } from '@sluice/core/internal';
import { bytes, duration, int } from './format.js';

export interface Renderer {
  stop(): void;
}

/**
 * `--progress plain`: a line every few seconds, and one for each thing worth knowing (retries
 * piling up, a checkpoint, the error budget nearing, warnings). For CI logs and pipes.
 */
export function plainRenderer(bus: EventBus, progress: () => ProgressSnapshot | undefined, out: NodeJS.WritableStream, everyMs = 5000): Renderer {
  let retries = 0;
  let lastRetryNote = 0;
  let lastCheckpointNote = 0;
  const write = (line: string) => out.write(`${line}\n`);
  const unsubscribe = bus.on((event: RunEvent) => {
    switch (event.type) {
      case 'start':
        write(`${event.job}: ${event.resumed ? `resuming from the checkpoint (${int(event.counters.read)} records done)` : 'starting'}${event.dryRun ? ' (dry run)' : ''}`);
        break;
      case 'estimate':
        write(`${event.unit === 'bytes' ? bytes(event.total) : `${int(event.total)} records`} to read`);
        break;
      case 'retry': {
        retries++;
        const now = Date.now();
        if (now - lastRetryNote > 2000) {
          write(`retrying in ${event.step}: ${event.error} (${retries} retries so far)`);
          lastRetryNote = now;
        }
        break;
      }
      case 'checkpoint': {
        const now = Date.now();
        if (now - lastCheckpointNote > 10_000) {
          write(`checkpoint: batch ${event.seq}, ${int(event.counters.read)} records`);
          lastCheckpointNote = now;
        }
        break;
      }
      case 'log':
        if (event.level === 'warn' || event.level === 'error') write(`${event.level}: ${event.message}`);
        break;
      case 'stopping':
        write(`stopping: ${event.reason}; finishing batches in flight`);
        break;
      default:
        break;
    }
  });
  const timer = setInterval(() => {
    const p = progress();
    if (p) write(progressLine(p));
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}

export function progressLine(p: ProgressSnapshot): string {
  const c = p.counters;
  let head = `${duration(p.elapsedMs)}  read ${int(c.read)}`;
  if (p.progress?.total) {
    const pct = Math.min(100, (p.progress.done / p.progress.total) * 100);
    head += ` (${pct.toFixed(1)}%)`;
    if (p.progress.done > 0 && p.elapsedMs > 1000) head += `, eta ${duration((p.elapsedMs * (p.progress.total - p.progress.done)) / p.progress.done)}`;
  }
  return `${head}  ${int(p.rate)}/s  written ${int(c.written)}  filtered ${int(c.filtered)}  dead-lettered ${int(c.deadLettered)}${c.retries ? `  retries ${int(c.retries)}` : ''}`;
}
