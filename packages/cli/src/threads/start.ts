import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ThreadData } from './protocol.js';

/** What a worker thread did before the run took it over. */
export type EarlyEvent = { readonly type: 'error'; readonly error: Error } | { readonly type: 'exit'; readonly code: number };

export interface StartedThread {
  readonly worker: Worker;
  /** An error or exit seen before the run took the thread over, replayed to it then. */
  readonly early: EarlyEvent[];
}

/**
 * At most this many worker threads are started before the run knows how many partitions it has:
 * a small source on a many-core machine (`--threads auto`) may split into fewer partitions than
 * threads, and each thread started for nothing loads the job (a few hundred ms of CPU, tens of MB).
 * The threads beyond these start once the run is planned.
 */
const MAX_EARLY = 3;

/**
 * The worker threads of a `--threads` run, started as soon as the command line is read: each
 * spends a few hundred ms of CPU loading modules and the job, which then happens beside the main
 * thread's own loading and planning instead of after it. They wait for the run's `go` (queue,
 * partitions); one that is not taken (the source cannot split, the job is invalid, fewer
 * partitions than threads) is ended by `dispose`. Until taken they do not keep the process alive.
 */
export class ThreadStarter {
  private readonly pending: Array<StartedThread & { readonly release: () => void }> = [];
  private readonly all: Worker[] = [];

  /** Starts `wanted` worker threads, or MAX_EARLY of them when more are wanted. */
  constructor(data: ThreadData, wanted: number) {
    const entry = fileURLToPath(new URL('./thread.js', import.meta.url));
    for (let i = 0; i < Math.min(wanted, MAX_EARLY); i++) {
      const worker = new Worker(entry, { workerData: data });
      worker.unref();
      const early: EarlyEvent[] = [];
      const onError = (error: Error) => early.push({ type: 'error', error });
      const onExit = (code: number) => early.push({ type: 'exit', code });
      worker.on('error', onError).on('exit', onExit);
      // Once taken, the run's own listeners take over: the early ones go, so nothing is told twice.
      this.pending.push({ worker, early, release: () => worker.off('error', onError).off('exit', onExit) });
      this.all.push(worker);
    }
  }

  /** A started thread for the run (kept alive from now on), or undefined when all are taken (the run starts more itself). */
  take(): StartedThread | undefined {
    const started = this.pending.shift();
    if (!started) return undefined;
    started.release();
    started.worker.ref();
    return { worker: started.worker, early: started.early };
  }

  /** Ends the threads the run did not take (it needs fewer than were started). */
  discard(): void {
    for (const started of this.pending.splice(0)) void started.worker.terminate();
  }

  /** Ends every thread this started: the run is not going on threads, or it is over. */
  dispose(): void {
    this.pending.length = 0;
    for (const worker of this.all) void worker.terminate();
  }
}
