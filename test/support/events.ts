// The `--progress json` event stream of a child `sluice run`, read as it arrives, so a test can act
// on what the run reports (a checkpoint past N records) instead of on how long it has been running.
import type { ChildProcess } from 'node:child_process';

/** One NDJSON event (`start`, `progress`, `checkpoint`, `end`, …) as the CLI prints it. */
export interface RunEventLine {
  readonly type: string;
  readonly seq?: number;
  readonly counters?: { readonly read: number; readonly written: number };
  readonly [key: string]: unknown;
}

export interface EventStream {
  /** Every event seen so far, in order. */
  readonly seen: RunEventLine[];
  /**
   * The first event (already seen or still to come) that `match` accepts; `undefined` when the
   * child's stdout closes first (it exited, or was killed).
   */
  next(match: (event: RunEventLine) => boolean): Promise<RunEventLine | undefined>;
}

/** Follows the child's stdout as NDJSON; start the child with `--progress json`. */
export function followEvents(child: ChildProcess): EventStream {
  const seen: RunEventLine[] = [];
  const waiting: Array<{ match: (event: RunEventLine) => boolean; resolve: (event: RunEventLine | undefined) => void }> = [];
  let buffered = '';
  let closed = false;
  child.stdout!.on('data', (chunk: Buffer | string) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as RunEventLine;
      seen.push(event);
      for (let i = waiting.length - 1; i >= 0; i--) {
        if (waiting[i]!.match(event)) waiting.splice(i, 1)[0]!.resolve(event);
      }
    }
  });
  child.stdout!.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w.resolve(undefined);
  });
  return {
    seen,
    next(match) {
      const found = seen.find(match);
      if (found || closed) return Promise.resolve(found);
      return new Promise((resolve) => waiting.push({ match, resolve }));
    },
  };
}

/** The event for "a checkpoint covering at least `records` records read". */
export const checkpointPast =
  (records: number) =>
  (event: RunEventLine): boolean =>
    event.type === 'checkpoint' && (event.counters?.read ?? 0) >= records;
