import type { EventBus, ProgressSnapshot } from '@sluice/core/internal';
import type { Renderer } from './plain.js';

/** `--progress json`: NDJSON events on stdout (start, progress, retry, deadLetter, checkpoint, end). */
export function jsonRenderer(bus: EventBus, progress: () => ProgressSnapshot | undefined, out: NodeJS.WritableStream, everyMs = 1000): Renderer {
  const write = (event: object) => out.write(`${JSON.stringify({ ...event, time: new Date().toISOString() })}\n`);
  const unsubscribe = bus.on((event) => write(event));
  const timer = setInterval(() => {
    const p = progress();
    if (p) write({ type: 'progress', ...p });
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
