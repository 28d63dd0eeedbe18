import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import { EventBus, messageOf, openCheckpointStore, RunConnections, StepThrottle, type JobPlan, type RunSummary } from '@sluice/core/internal';
import { summaryText } from '../render/format.js';
import { runInfoOf } from '../render/info.js';
import { reportOf } from '../render/report.js';
import { RunWatch } from '../render/watch.js';
import { RunSession, type ProgressMode } from '../session.js';
import type { Observability } from '../metrics/observe.js';
import { CombinedRun, isFinal } from '../distributed/combined.js';
import { FORWARDED, isSummary } from '../distributed/protocol.js';
import { partitionEntry } from '../distributed/report-rows.js';
import { joinParts, joinTargets } from './join.js';
import { PartitionRunner } from './partition.js';
import { threadPlan, threadPlanPath } from './plan.js';
import type { FromThread, ThreadData, ToThread } from './protocol.js';
import { PartitionQueue } from './queue.js';
import type { StartedThread, ThreadStarter } from './start.js';

export interface ThreadsOptions {
  readonly file: string;
  readonly plan: JobPlan;
  readonly threads: number;
  readonly sets: readonly string[];
  readonly envFiles?: Record<string, string>;
  readonly fresh: boolean;
  readonly report?: string;
  readonly mode: ProgressMode;
  readonly observe?: Observability;
  /** Worker threads started early, loading the job already (else the run starts its own). */
  readonly starter?: ThreadStarter;
}

/**
 * Partitions per thread. Threads take the next partition as they finish one, so the last one
 * to finish is idle at most about one partition's time: smaller partitions balance better (the
 * worker threads also start later than the main thread, which has the job loaded), and each costs
 * little (a checkpoint file, a part file, a few ms).
 */
const PARTITIONS_PER_THREAD = 4;

/**
 * `sluice run JOB --threads N`: the source's partitions (as a distributed run splits it) run on N
 * threads of this process (the main thread and N - 1 worker threads), each partition with its own
 * checkpoint, shown as one run and reported as one. File outputs are written per partition and joined in order at the end (see
 * join.ts). Resolves to the exit code, or to undefined when the source cannot split: the caller
 * then runs the job on one thread as usual.
 */
export async function runThreads(o: ThreadsOptions): Promise<number | undefined> {
  const pool = await runPool(o);
  // Not run on threads (or over): the threads started for it go.
  o.starter?.dispose();
  return pool;
}

async function runPool(o: ThreadsOptions): Promise<number | undefined> {
  const { plan } = o;
  const stored = await threadPlan(plan, o.threads * PARTITIONS_PER_THREAD, o.fresh);
  if (stored.unsplittable) {
    process.stderr.write(`sluice run: source '${plan.source.id}' (${plan.source.use}) cannot split; running on one thread\n`);
    return undefined;
  }
  const count = stored.specs.length;
  const joins = joinTargets(plan, count);
  if ('problem' in joins) {
    process.stderr.write(`sluice run: --threads: ${joins.problem}\n`);
    return 2;
  }
  if (!stored.reused && !o.fresh) {
    // Partitions starting from scratch would redo what a one-thread run already wrote.
    const unfinished = await unfinishedSingleRun(plan);
    if (unfinished) {
      process.stderr.write(`sluice run: --threads: ${unfinished}; finish it without --threads, or start over with --fresh\n`);
      return 2;
    }
  }
  // A new plan writes new parts: the file they are joined into at the end is not this run's yet.
  if (!stored.reused) for (const target of joins.targets) await rm(target.path, { force: true });

  const combined = new CombinedRun(plan, stored.specs.map((_, index) => `p${index}`));
  combined.resumed = stored.reused;
  const base = runInfoOf(plan);
  const checkpoint = plan.checkpoint.store === 'none' ? null : `${base.checkpoint.replace(/\.json$/, '')}.p*.json (plan ${threadPlanPath(plan)})`;
  const { deadLetterPath: _parts, ...rest } = base;
  const info = {
    ...rest,
    source: `${base.source} · ${count} partitions on ${Math.min(o.threads, count)} threads`,
    ...(checkpoint && plan.checkpoint.store === 'file' ? { checkpoint } : {}),
  };
  const watch = new RunWatch(combined.bus, () => combined.progress(), info);
  // The threads' batch timings, for the metrics' histogram; not on combined.bus, where a trace would
  // pair step timings with their batch by a number the partitions share.
  const timings = new EventBus();
  const observed = await o.observe?.watchRun({ plan, bus: combined.bus, timings, progress: () => combined.progress(), redact: info.redact });

  const pool = new ThreadPool(o, combined, Math.min(o.threads, count), stored.specs, timings);
  const session = await RunSession.open({
    mode: o.mode,
    watch,
    stop: (reason) => pool.stop('interrupted', reason),
    onHardExit: 'the partitions resume from their last saved checkpoints',
  });
  const startedAt = Date.now();
  combined.bus.emit({ type: 'start', job: plan.name, fingerprint: plan.fingerprint, resumed: stored.reused, counters: combined.counters(), dryRun: false });
  let summary = await pool.run();
  if (pool.refused) {
    // No `end` on the bus for a refusal: the metrics and the trace are told here.
    observed?.({ ...summary, status: 'failed', error: info.redact(pool.refused) });
    return session.refuse(`sluice run: ${info.redact(pool.refused)}`);
  }
  if (summary.status === 'done') {
    try {
      for (const target of joins.targets) await joinParts(target);
    } catch (error) {
      summary = { ...summary, status: 'failed', error: `joining the partitions' files failed: ${messageOf(error)}; run again to retry` };
    }
  }
  combined.bus.emit({ type: 'end', summary });

  const report = {
    ...reportOf(summary, { file: o.file, startedAt, checkpoint, redact: info.redact }),
    partitions: combined.parts.map((part) => partitionEntry(part)),
  };
  const text = summaryText(summary, { ...(checkpoint ? { checkpoint } : {}), ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}) });
  return session.finish({ summary, report, text: info.redact(`${text}\n  threads: ${pool.size}, partitions: ${count}`), ...(o.report ? { reportFile: o.report } : {}) });
}

/** Why the job's one-thread checkpoint forbids starting partitions, if it does (a run in progress). */
async function unfinishedSingleRun(plan: JobPlan): Promise<string | undefined> {
  const connections = new RunConnections(plan.connections);
  try {
    const store = await openCheckpointStore(plan, {}, connections);
    try {
      const checkpoint = await store.load();
      return checkpoint && !checkpoint.done ? `a run without --threads is in progress (checkpoint ${store.location}, ${checkpoint.counters.read} records read)` : undefined;
    } finally {
      await store.close?.();
    }
  } finally {
    await connections.closeAll();
  }
}

/**
 * The threads and the partitions they run, folded into the combined view: the main thread runs
 * partitions itself, beside `size - 1` worker threads, all taking them from one shared queue.
 */
class ThreadPool {
  private readonly workers: Worker[] = [];
  private readonly queue: PartitionQueue;
  private inline: PartitionRunner | undefined;
  private ending: { status: RunSummary['status']; reason: string } | undefined;
  private over = false;
  /** A refusal at start (exit 2), with its message. */
  refused: string | undefined;
  private finished!: (summary: RunSummary) => void;

  constructor(
    private readonly o: ThreadsOptions,
    private readonly combined: CombinedRun,
    readonly size: number,
    private readonly specs: readonly unknown[],
    private readonly timings: EventBus,
  ) {
    this.queue = PartitionQueue.create(specs.length);
  }

  run(): Promise<RunSummary> {
    const done = new Promise<RunSummary>((resolve) => (this.finished = resolve));
    const limiters = this.limiters();
    // The worker threads (started early, or now) load the job while the main thread, which has it
    // loaded, starts computing.
    const replays: Array<() => void> = [];
    for (let thread = 1; thread < this.size; thread++) {
      const { worker, early } = this.o.starter?.take() ?? this.start();
      worker.on('message', (message: FromThread) => this.handle(message));
      const onError = (error: Error) => this.lost(thread, messageOf(error));
      const onExit = (code: number) => this.lost(thread, `it exited (code ${code})`);
      worker.on('error', onError).on('exit', onExit);
      for (const event of early) replays.push(() => (event.type === 'error' ? onError(event.error) : onExit(event.code)));
      const go: ToThread = { type: 'go', thread, queue: this.queue.buffer, specs: this.specs, fresh: this.o.fresh, limiters, timings: this.timings.timed };
      worker.postMessage(go);
      this.workers.push(worker);
    }
    this.o.starter?.discard();
    // Messages of the main thread's runner arrive as a worker's do: later, not inside its own call.
    const post = (message: FromThread) => queueMicrotask(() => this.handle(message));
    this.inline = new PartitionRunner({ plan: this.o.plan, thread: 0, queue: this.queue, specs: this.specs, fresh: this.o.fresh, limiters, timings: this.timings.timed, post });
    // A thread that failed before it was taken fails the run now, when every thread is known (so
    // all are ended with it).
    for (const replay of replays) replay();
    this.inline.runAll().catch((error: unknown) => this.lost(0, `internal error: ${messageOf(error)}`));
    return done;
  }

  private start(): StartedThread {
    const data: ThreadData = { file: this.o.file, sets: [...this.o.sets], ...(this.o.envFiles ? { envFiles: this.o.envFiles } : {}) };
    return { worker: new Worker(fileURLToPath(new URL('./thread.js', import.meta.url)), { workerData: data }), early: [] };
  }

  /** One shared limiter per rate-limited step: a job's `100/s` is 100/s over all threads. */
  private limiters(): Record<string, SharedArrayBuffer> {
    const { plan } = this.o;
    const limiters: Record<string, SharedArrayBuffer> = {};
    for (const step of [plan.source, ...plan.steps, ...plan.sinks]) if (step.rate) limiters[step.id] = StepThrottle.sharedState();
    return limiters;
  }

  private handle(message: FromThread): void {
    if (this.over) return;
    if (message.type === 'invalid') this.stop('failed', `the job did not load in a worker thread: ${message.message}`);
    else if (message.type === 'started') {
      const part = this.combined.parts[message.index];
      if (!part || isFinal(part)) return;
      part.status = 'running';
      part.worker = `thread-${message.thread + 1}`;
    } else if (message.type === 'progress') this.progress(message);
    else if (message.type === 'end') this.end(message.index, message.summary);
    else if (message.type === 'refused') {
      this.refused ??= message.message;
      const part = this.combined.parts[message.index]!;
      part.status = 'failed';
      part.error = message.message;
      this.stop('failed', message.message);
    }
    this.check();
  }

  /**
   * A thread failed or ended before the run did: the partitions it had taken and not finished
   * failed, and the run stops (as for a failed partition), even when the others could have run
   * its share: a thread that dies is a fault to be seen, not absorbed.
   */
  private lost(thread: number, why: string): void {
    if (this.over) return;
    const who = thread === 0 ? 'the main thread' : `worker thread ${thread}`;
    for (const index of this.queue.takenBy(thread)) {
      const part = this.combined.parts[index]!;
      if (isFinal(part)) continue;
      part.status = 'failed';
      part.error = `${who} failed: ${why}`;
    }
    this.stop('failed', `${who} failed: ${why}`);
    this.check();
  }

  private progress(message: Extract<FromThread, { type: 'progress' }>): void {
    const part = this.combined.parts[message.index];
    if (!part || isFinal(part)) return;
    if (message.startCounters && !part.startCounters) part.startCounters = message.startCounters;
    if (message.snapshot) part.snapshot = message.snapshot;
    for (const event of message.events ?? []) if (FORWARDED.has(event.type)) this.combined.bus.emit(event);
    for (const timing of message.timings ?? []) this.timings.emitTiming(timing);
    const spent = this.combined.budgetSpent(false);
    if (spent) this.stop('failed', spent);
  }

  private end(index: number, summary: RunSummary): void {
    const part = this.combined.parts[index]!;
    if (!isSummary(summary)) return;
    part.summary = summary;
    part.status = summary.status === 'done' ? 'done' : summary.status === 'interrupted' ? 'interrupted' : 'failed';
    if (summary.status === 'failed') {
      part.error = summary.error ?? 'failed';
      this.stop('failed', `partition p${index}/${this.specs.length} failed: ${part.error}`);
    }
  }

  /** Ends the run: running partitions drain and checkpoint, the others are not started. */
  stop(status: RunSummary['status'], reason: string): void {
    if (this.ending) return;
    this.ending = { status, reason };
    this.queue.close();
    this.combined.bus.emit({ type: 'stopping', reason });
    const message: ToThread = { type: 'stop', reason };
    for (const worker of this.workers) worker.postMessage(message);
    this.inline?.stop(reason);
    this.check();
  }

  /** Resolves the run once every partition taken from the queue has ended. */
  private check(): void {
    if (this.over) return;
    const parts = this.combined.parts;
    // Every partition is taken once the queue runs dry; a stop closes it at what was taken by then.
    const taken = this.ending ? this.queue.close() : this.queue.taken();
    if (!this.ending && taken < parts.length) return;
    for (let index = 0; index < taken; index++) if (!isFinal(parts[index]!)) return;
    this.over = true;
    for (const worker of this.workers) void worker.terminate();
    if (this.ending) {
      this.finished(this.combined.summary(this.ending.status, this.ending.reason));
      return;
    }
    const spent = this.combined.budgetSpent(true);
    this.finished(spent ? this.combined.summary('failed', spent) : this.combined.summary('done'));
  }
}
