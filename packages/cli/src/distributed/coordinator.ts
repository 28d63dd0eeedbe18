import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { planPartitions, RunFailure, messageOf, redactValue, type JobPlan, type RunEvent, type RunSummary } from '@sluice/core/internal';
import { checkpointKey, clearRunCheckpoints } from '@sluice/plugin-redis';
import { UsageError } from '../args.js';
import { int, summaryText } from '../render/format.js';
import { runInfoOf } from '../render/info.js';
import { jsonRenderer, type JsonRenderer } from '../render/json.js';
import { plainRenderer, type Renderer } from '../render/plain.js';
import { reportOf, type RunReport } from '../render/report.js';
import { RunWatch } from '../render/watch.js';
import type { TuiRenderer } from '../ui/tui.js';
import { CombinedRun, isFinal, type PartitionState } from './combined.js';
import { partitionJobId, partitionLabel, QUEUE, runKey, stopKey } from './keys.js';
import { FORWARDED, isSummary, type PartitionJobData, type PartitionProgress } from './protocol.js';
import { RedisTarget, redisErrorText } from './redis.js';
import { partitionCheckpointLabel } from './stores.js';
import { fileDigest, refusal, relativeJobPath, seal, type QueueTrust } from './trust.js';

export type ProgressMode = 'auto' | 'tui' | 'plain' | 'json' | 'none';

export interface CoordinatorOptions {
  /** The job file as given on the command line. */
  readonly file: string;
  readonly plan: JobPlan;
  /** `--workers`: the Redis the workers take partitions from. */
  readonly url: string;
  /** `--partitions`; undefined: 8 (or the stored plan's count on a restart). */
  readonly partitions?: number;
  readonly prefix: string;
  readonly fresh: boolean;
  readonly sets: readonly string[];
  readonly report?: string;
  readonly mode: ProgressMode;
  readonly verbose: boolean;
  readonly isTerminal: (stream: NodeJS.WriteStream) => boolean;
  /** The queue key the messages are signed with (or the operator's opt-out). */
  readonly trust: QueueTrust;
  /** `--redis-ca`: the CA of a `rediss://` server's certificate. */
  readonly ca?: string;
}

export const DEFAULT_PARTITIONS = 8;
/** How often the coordinator checks every unfinished partition's BullMQ job (it also follows events). */
const POLL_MS = 2000;
/** A partition's job missing in this many polls in a row: Redis lost it. */
const MISSING_POLLS = 2;
/** Redis unanswered this long during a run: give up (the run can be started again). */
const UNREACHABLE_MS = 30_000;
/** How long a stop waits for running partitions to report before the coordinator leaves anyway. */
const STOP_WAIT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 5000;
/** Nothing taken by any worker this long: say how to start one. */
const NO_WORKER_HINT_MS = 30_000;

/** The partition plan kept in Redis, so a restarted coordinator keeps the same partitions (and checkpoints). */
interface StoredPlan {
  readonly version: 1;
  /** The run's id (messages carry it); plans stored before it had one use `<job>:<fingerprint>`. */
  readonly run?: string;
  readonly job: string;
  readonly fingerprint: string;
  readonly specs: unknown[];
  readonly unsplittable: boolean;
  readonly createdAt: string;
}

class CoordinatorError extends Error {}

function isConnectionTrouble(error: unknown): boolean {
  const text = redisErrorText(error);
  return (
    (error as Error)?.name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|no reply within|Stream isn't writeable|max retries per request/i.test(text)
  );
}

/** Rejects after `ms` so a call to a Redis that went away cannot hang the coordinator. */
function timed<T>(promise: Promise<T>, what: string, ms = COMMAND_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no reply within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `sluice run JOB --workers URL`: plans the partitions, puts one BullMQ job per partition on the
 * queue, follows the workers' progress into one view drawn by the local run's renderers, and
 * ends when every partition is done (0), one failed or the error budget is spent (1), or it is
 * interrupted (130). It runs no records itself.
 */
export async function runCoordinator(o: CoordinatorOptions): Promise<number> {
  let target: RedisTarget;
  try {
    target = RedisTarget.parse(o.url, '--workers', o.ca);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  const { plan } = o;
  const info = runInfoOf(plan);
  const redact = (text: string) => info.redact(target.scrub(text));
  const say = (line: string) => process.stderr.write(`${redact(line)}\n`);

  const why = await target.unreachable();
  if (why) {
    say(`sluice run: cannot reach Redis at ${target.display} (--workers): ${why}; check that Redis is running and the URL is right`);
    return 1;
  }

  const coordinator = new Coordinator(o, target, say, redact);
  try {
    return await coordinator.run();
  } catch (error) {
    if (error instanceof CoordinatorError || error instanceof RunFailure) {
      say(`sluice run: ${messageOf(error)}`);
      return 1;
    }
    // Redis going away while the run is set up is the machine's trouble, not a bug: one line, exit 1.
    if (isConnectionTrouble(error)) {
      say(`sluice run: lost Redis at ${target.display} while setting the run up: ${redisErrorText(error)}; run the coordinator again once Redis is back`);
      return 1;
    }
    throw error;
  } finally {
    await coordinator.close();
  }
}

class Coordinator {
  private readonly plan: JobPlan;
  private readonly redis: Redis;
  private readonly queue: Queue<PartitionJobData>;
  private events: QueueEvents | undefined;
  private combined: CombinedRun | undefined;
  private readonly keys: { run: string; stop: string };
  private readonly missing = new Map<number, number>();
  /** Each partition's job data, to queue it again. */
  private readonly data: PartitionJobData[] = [];
  /** How often each partition was queued again after a stop this start did not ask for. */
  private readonly requeued = new Map<number, number>();
  /** Partitions whose worker said it is giving them back (its last message carried an interrupted summary). */
  private readonly givingBack = new Set<number>();
  private unreachableSince: number | undefined;
  /** Set once the run must end: why, and how it ends. */
  private ending: { status: RunSummary['status']; reason: string; wait: boolean } | undefined;
  private wake: () => void = () => {};

  constructor(
    private readonly o: CoordinatorOptions,
    private readonly target: RedisTarget,
    private readonly say: (line: string) => void,
    private readonly redact: (text: string) => string,
  ) {
    this.plan = o.plan;
    this.redis = target.client();
    this.queue = new Queue<PartitionJobData>(QUEUE, {
      prefix: o.prefix,
      connection: { ...target.options, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: (times: number) => Math.min(times * 200, 2000) },
    });
    this.queue.on('error', () => {});
    this.keys = { run: runKey(o.prefix, this.plan.name, this.plan.fingerprint), stop: stopKey(o.prefix, this.plan.name, this.plan.fingerprint) };
  }

  async run(): Promise<number> {
    const { o, plan } = this;
    const path = resolve(o.file);
    const digest = fileDigest(await readFile(path, 'utf8'));
    // Workers read the job from their own checkout at this path, so it must be one they can have.
    const file = relativeJobPath(path);
    if (file === undefined) {
      throw new UsageError(`the job file ${o.file} is outside this folder; start the coordinator from the project folder (workers read the job at the same relative path from theirs)`);
    }

    if (o.fresh) await this.forgetRun();
    const stored = await this.partitionPlan();
    const count = stored.specs.length;
    if (stored.unsplittable) this.say(`sluice run: source '${plan.source.id}' (${plan.source.use}) cannot split; running as one partition`);
    await timed(this.redis.del(this.keys.stop), 'clear the stop flag');

    const ids = stored.specs.map((_, index) => partitionJobId(plan.name, plan.fingerprint, index));
    const combined = (this.combined = new CombinedRun(plan, ids));

    // Follow the queue before adding to it, so the first partitions' events are not missed.
    const events = (this.events = new QueueEvents(QUEUE, { prefix: o.prefix, connection: { ...this.target.options } }));
    events.on('error', () => {});
    await timed(events.waitUntilReady(), 'follow the queue');
    this.follow(events);

    for (const part of combined.parts) {
      const data: PartitionJobData = {
        version: 2,
        run: stored.run ?? `${plan.name}:${plan.fingerprint}`,
        job: plan.name,
        fingerprint: plan.fingerprint,
        file,
        digest,
        sets: [...o.sets],
        partition: { index: part.index, count, spec: stored.specs[part.index] ?? null },
        fresh: o.fresh,
        prefix: o.prefix,
      };
      this.data[part.index] = data;
      await this.enqueue(part, data);
    }

    // The screens of a local run, fed by the combined view.
    const checkpointLabel = partitionCheckpointLabel(plan, this.target, o.prefix);
    const baseInfo = runInfoOf(plan);
    const { deadLetterPath: _perWorker, ...rest } = baseInfo;
    const info = {
      ...rest,
      source: `${baseInfo.source} · ${count} partition${count === 1 ? '' : 's'} via ${this.target.display}`,
      checkpoint: checkpointLabel ?? 'off (checkpoint.store: none)',
      checkpointing: checkpointLabel !== null,
      redact: this.redact,
    };
    const watch = new RunWatch(combined.bus, () => combined.progress(), info);
    const effective = o.mode === 'auto' ? (o.isTerminal(process.stderr) ? 'tui' : 'plain') : o.mode;
    this.plainNotes = effective === 'plain';

    let renderer: Renderer | undefined;
    let json: JsonRenderer | undefined;
    let screen: TuiRenderer | undefined;
    let interrupts = 0;
    const interrupt = (by: string) => {
      interrupts++;
      if (interrupts === 1) this.end('interrupted', by === 'q' ? 'stopped by q' : `interrupted by ${by}`, true);
      else {
        if (screen) screen.abort();
        else void renderer?.stop();
        process.stderr.write(`\nsluice: ${by} again: exiting now; running partitions stop at their next check of the stop flag\n`);
        process.exit(130);
      }
    };
    const onSignal = (signal: NodeJS.Signals) => interrupt(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const startedAt = Date.now();
    let summary: RunSummary;
    try {
      if (effective === 'tui') {
        const { tuiRenderer } = await import('../ui/tui.js');
        renderer = screen = await tuiRenderer(watch, {
          stdout: process.stderr,
          stdin: process.stdin,
          onStop: () => {
            if (interrupts === 0) interrupt('q');
          },
          onInterrupt: () => interrupt('Ctrl-C'),
        });
      } else if (effective === 'plain') renderer = plainRenderer(watch, process.stderr);
      else if (effective === 'json') renderer = json = jsonRenderer(watch, process.stdout);
      else watch.close();

      combined.resumed = stored.reused;
      combined.bus.emit({ type: 'start', job: plan.name, fingerprint: plan.fingerprint, resumed: stored.reused, counters: combined.counters(), dryRun: false });
      for (const part of combined.parts) if (part.status === 'done') this.note('info', `${label(part, count)} was done before this start (${int(part.summary?.counters.read ?? 0)} records)`);
      summary = await this.watch();
      combined.bus.emit({ type: 'end', summary });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }

    const report = {
      ...reportOf(summary, { file: o.file, startedAt, checkpoint: checkpointLabel, redact: this.redact }),
      partitions: combined.parts.map((part) => partitionEntry(part)),
    } satisfies RunReport & { partitions: PartitionEntry[] };
    const safeReport = redactValue(report, this.redact);
    if (json) json.end(safeReport);
    else await renderer?.stop();

    const text2 = summaryText(summary, { ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}) });
    const lines = [text2, `  ${partitionsLine(combined)}`];
    if (checkpointLabel) lines.push(`  checkpoints: ${checkpointLabel}`);
    (summary.status === 'done' && effective !== 'json' ? process.stdout : process.stderr).write(`${this.redact(lines.join('\n'))}\n`);
    if (o.report) await writeFile(o.report, `${JSON.stringify(safeReport, null, 2)}\n`);
    return summary.status === 'done' ? 0 : summary.status === 'interrupted' ? 130 : 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Planning and queueing

  /** `--fresh`: the plan, the partitions' checkpoints and the run's BullMQ jobs go; a plan is made anew. */
  private async forgetRun(): Promise<void> {
    const ids = await this.runJobIds();
    const jobs = (await Promise.all(ids.map((id) => this.queue.getJob(id)))).filter((job): job is Job<PartitionJobData> => job !== undefined);
    const active = async () => (await Promise.all(jobs.map(async (job) => ((await job.getState()) === 'active' ? job : undefined)))).filter((j) => j !== undefined);
    let running = await active();
    if (running.length) {
      // Partitions of an earlier start still run on workers: ask them to stop, and wait.
      this.say(`sluice run: --fresh: stopping ${running.length} partition(s) of an earlier start that still run on workers…`);
      await this.redis.set(this.keys.stop, 'a new start with --fresh', 'EX', 86_400);
      const deadline = Date.now() + STOP_WAIT_MS;
      while (running.length && Date.now() < deadline) {
        await sleep(500);
        running = await active();
      }
      if (running.length) throw new CoordinatorError(`--fresh: partitions ${running.map((j) => j.id).join(', ')} still run on a worker; try again once they stopped`);
    }
    for (const job of jobs) await job.remove().catch(() => undefined);
    await this.redis.del(this.keys.run);
    await clearRunCheckpoints(this.target.endpoint, this.o.prefix, this.plan.name, this.plan.fingerprint).catch((error: unknown) => {
      throw new CoordinatorError(`--fresh: ${messageOf(error)}`);
    });
  }

  /** Every BullMQ job id of this run in the queue (found by SCAN, whatever the partition count was). */
  private async runJobIds(): Promise<string[]> {
    const base = `${this.o.prefix}:${QUEUE}:${partitionJobId(this.plan.name, this.plan.fingerprint, 0).replace(/p0$/, 'p')}`;
    const ids = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${base.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const rest = key.slice(base.length);
        if (/^\d+$/.test(rest)) ids.add(key.slice(`${this.o.prefix}:${QUEUE}:`.length));
      }
    } while (cursor !== '0');
    return [...ids];
  }

  /** The stored plan of this run, or a new one (stored unless another coordinator stored one first). */
  private async partitionPlan(): Promise<StoredPlan & { reused: boolean }> {
    const read = async (): Promise<StoredPlan | undefined> => {
      const text = await timed(this.redis.get(this.keys.run), 'read the partition plan');
      if (!text) return undefined;
      try {
        const parsed = JSON.parse(text) as StoredPlan;
        if (parsed.version === 1 && Array.isArray(parsed.specs) && parsed.specs.length > 0) return parsed;
      } catch {
        // A damaged plan is planned again below.
      }
      return undefined;
    };
    const existing = await read();
    if (existing) {
      if (this.o.partitions !== undefined && this.o.partitions !== existing.specs.length && !existing.unsplittable) {
        this.say(
          `sluice run: resuming the run started with ${existing.specs.length} partitions (--partitions ${this.o.partitions} ignored; use --fresh to plan anew)`,
        );
      }
      return { ...existing, reused: true };
    }
    const planned = await planPartitions(this.plan, this.o.partitions ?? DEFAULT_PARTITIONS);
    const doc: StoredPlan = {
      version: 1,
      run: randomUUID(),
      job: this.plan.name,
      fingerprint: this.plan.fingerprint,
      specs: planned.specs.map((spec) => spec ?? null),
      unsplittable: planned.unsplittable,
      createdAt: new Date().toISOString(),
    };
    const stored = await timed(this.redis.set(this.keys.run, JSON.stringify(doc), 'NX'), 'store the partition plan');
    if (stored === 'OK') return { ...doc, reused: false };
    const raced = await read();
    if (!raced) throw new CoordinatorError('could not store the partition plan in Redis');
    return { ...raced, reused: true };
  }

  /**
   * Puts a partition on the queue, unless it is there already: a done one is not run again, a
   * queued or running one is left (its data refreshed while it waits), a failed or stopped one is
   * removed and added again.
   */
  private async enqueue(part: PartitionState, asked: PartitionJobData): Promise<void> {
    try {
      await this.enqueueOnce(part, asked);
    } catch (error) {
      // A worker took the partition between our look and our change: it is running, leave it.
      const job = await this.queue.getJob(part.id);
      if (job && (await job.getState()) === 'active') part.status = 'running';
      else throw error;
    }
  }

  private async enqueueOnce(part: PartitionState, asked: PartitionJobData): Promise<void> {
    const existing = await this.queue.getJob(part.id);
    // A --fresh of an earlier start that no worker carried out yet stays asked for.
    const data = seal({ ...asked, fresh: asked.fresh || (existing !== undefined && this.trusted(existing) && existing.data.fresh === true) }, part.id, this.o.trust);
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed') {
        const value: unknown = existing.returnvalue;
        if (isSummary(value) && value.status === 'done' && (await this.checkpointDone(part.index))) {
          part.status = 'done';
          part.summary = value;
          part.earlier = true;
          const progress = existing.progress as PartitionProgress | undefined;
          if (progress && typeof progress === 'object') {
            part.worker = progress.worker;
            part.snapshot = progress.snapshot;
          }
          return;
        }
        await existing.remove();
      } else if (state === 'failed') {
        // A stopped partition: its counts so far stand until it reports again.
        const progress = existing.progress as PartitionProgress | undefined;
        if (progress && typeof progress === 'object' && isSummary(progress.summary)) part.summary = progress.summary;
        await existing.remove();
      } else if (state === 'active') {
        part.status = 'running';
        this.takeProgress(part, existing.progress, false);
        return;
      } else if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        await existing.updateData(data);
        return;
      } else {
        await existing.remove().catch(() => undefined);
      }
    }
    await this.queue.add('partition', data, { jobId: part.id, attempts: 1, removeOnComplete: false, removeOnFail: false });
  }

  /** Whether a queued job's data is this run's own (signed with our key): only then is its `fresh` taken in. */
  private trusted(job: Job<PartitionJobData>): boolean {
    return job.data?.version === 2 && refusal(job.data, job.id ?? '', this.o.trust) === undefined;
  }

  /** Whether partition `index`'s checkpoint says done (only the Redis store can be read from here; others trust the worker). */
  private async checkpointDone(index: number): Promise<boolean> {
    const store = this.plan.checkpoint.store;
    if (store !== 'file' && store !== 'redis') return true;
    const text = await this.redis.get(checkpointKey(this.o.prefix, this.plan.name, this.plan.fingerprint, index));
    if (!text) return false;
    try {
      return (JSON.parse(text) as { done?: boolean }).done === true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Following the partitions

  private plainNotes = false;

  /** A line about the partitions: on the bus (json, the screen's notes) and, with plain progress, on stderr. */
  private note(level: 'info' | 'warn' | 'error', message: string): void {
    this.combined?.bus.emit({ type: 'log', level, message });
    if (this.plainNotes && level === 'info') this.say(message);
  }

  private partOf(jobId: string): PartitionState | undefined {
    return this.combined?.parts.find((p) => p.id === jobId);
  }

  private follow(events: QueueEvents): void {
    events.on('active', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part && !isFinal(part)) {
        part.status = 'running';
        this.missing.delete(part.index);
      }
    });
    events.on('progress', ({ jobId, data }) => {
      const part = this.partOf(jobId);
      if (part) this.takeProgress(part, data, true);
    });
    events.on('completed', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part) void this.refresh(part).catch(() => undefined);
    });
    events.on('failed', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part) void this.refresh(part).catch(() => undefined);
    });
    events.on('waiting', ({ jobId, prev }) => {
      const part = this.partOf(jobId);
      if (part && prev === 'active' && !isFinal(part)) {
        part.status = 'pending';
        // A stalled partition comes back to the queue too: the 'stalled' event tells that story.
        if (!this.givingBack.delete(part.index)) return;
        this.note('warn', `${this.label(part)} was given back by worker ${part.worker ?? '?'} (it stopped); another worker resumes it from its checkpoint`);
      }
    });
    events.on('stalled', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part && !isFinal(part)) {
        part.status = 'pending';
        this.note('warn', `${this.label(part)}: worker ${part.worker ?? '?'} stopped answering (lock expired); another worker resumes it from its checkpoint`);
      }
    });
  }

  private label(part: PartitionState): string {
    return label(part, this.combined?.count ?? 0);
  }

  /** Takes a worker's progress message in; `live` messages (from the event stream) also carry events to show. */
  private takeProgress(part: PartitionState, data: unknown, live: boolean): void {
    if (!data || typeof data !== 'object') return;
    const progress = data as PartitionProgress;
    if (isFinal(part)) return;
    const worker = typeof progress.worker === 'string' ? progress.worker : undefined;
    if (worker && (worker !== part.worker || part.status !== 'running') && !progress.summary) {
      this.note('info', `${this.label(part)} started on worker ${worker}`);
    }
    if (worker) part.worker = worker;
    if (!progress.summary) part.status = 'running';
    if (progress.startCounters && !part.startCounters) part.startCounters = progress.startCounters;
    if (progress.snapshot) part.snapshot = progress.snapshot;
    if (isSummary(progress.summary)) part.summary = progress.summary;
    if (live) {
      if (progress.summary?.status === 'interrupted') this.givingBack.add(part.index);
      else if (!progress.summary) this.givingBack.delete(part.index);
    }
    if (live && this.combined) {
      for (const event of progress.events ?? []) {
        if (!FORWARDED.has(event.type)) continue;
        const shown: RunEvent = event.type === 'log' ? { ...event, message: `${this.label(part)}: ${event.message}` } : event;
        this.combined.bus.emit(shown);
      }
    }
    this.check();
  }

  /** Reads a partition's BullMQ job and takes its state in; false when the job is gone. */
  private async refresh(part: PartitionState): Promise<boolean> {
    let job = await timed(this.queue.getJob(part.id), `read partition ${part.id}`);
    if (!job) return false;
    const state = await timed(job.getState(), `read partition ${part.id}`);
    if (isFinal(part)) return true;
    // The job was read before its state: one that ended in between is read again for its result.
    if ((state === 'completed' && job.returnvalue == null) || (state === 'failed' && !job.failedReason)) {
      job = (await timed(this.queue.getJob(part.id), `read partition ${part.id}`)) ?? job;
    }
    const progress = (job.progress && typeof job.progress === 'object' ? job.progress : {}) as PartitionProgress;
    if (state === 'completed') {
      const value: unknown = job.returnvalue;
      if (typeof progress.worker === 'string') part.worker = progress.worker;
      if (isSummary(value)) this.finish(part, value.status === 'done' ? 'done' : 'failed', value, value.error);
      else this.finish(part, 'failed', undefined, 'the worker returned no run summary');
    } else if (state === 'failed') {
      if (typeof progress.worker === 'string') part.worker = progress.worker;
      const summary = isSummary(progress.summary) ? progress.summary : undefined;
      const reason = job.failedReason || summary?.error || 'failed';
      const interrupted = summary?.status === 'interrupted' || /^interrupted: /.test(reason);
      this.finish(part, interrupted ? 'interrupted' : 'failed', summary, reason.replace(/^interrupted: /, ''));
    } else if (state === 'active') {
      this.takeProgress(part, job.progress, false);
    } else if (part.status === 'running' && state !== 'unknown') {
      part.status = 'pending';
    }
    return true;
  }

  private finish(part: PartitionState, status: 'done' | 'failed' | 'interrupted', summary: RunSummary | undefined, error: string | undefined): void {
    if (isFinal(part)) return;
    const on = part.worker ? ` on worker ${part.worker}` : '';
    // Stopped although this start asked for no stop (the stop flag of an earlier start, seen late): run it on.
    if (status === 'interrupted' && !this.ending && (this.requeued.get(part.index) ?? 0) < 3) {
      this.requeued.set(part.index, (this.requeued.get(part.index) ?? 0) + 1);
      part.status = 'pending';
      if (summary) part.summary = summary;
      this.note('info', `${this.label(part)} was stopped${on} (${error ?? 'interrupted'}); queued again, it resumes from its checkpoint`);
      void this.requeue(part).catch((e: unknown) => this.end('failed', `could not queue ${this.label(part)} again: ${messageOf(e)}`, true));
      return;
    }
    part.status = status;
    if (summary) part.summary = summary;
    if (error && status !== 'done') part.error = error;
    const records = int(summary?.counters.read ?? 0);
    if (status === 'done') this.note('info', `${this.label(part)} done${on}: ${records} records`);
    else if (status === 'interrupted') this.note('info', `${this.label(part)} stopped${on}; its checkpoint is saved`);
    else this.note('error', `${this.label(part)} failed${on}: ${error ?? 'unknown error'}`);
    this.check();
  }

  /** Puts a stopped partition on the queue again (its BullMQ job ended failed, so it is removed first). */
  private async requeue(part: PartitionState): Promise<void> {
    const job = await timed(this.queue.getJob(part.id), `read partition ${part.id}`);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'failed' || state === 'completed') await job!.remove();
    else if (state !== 'unknown') return;
    // The worker turns `fresh` off once it cleared the checkpoint: keep what the job says.
    const asked = this.data[part.index]!;
    const data = seal({ ...asked, fresh: job && this.trusted(job) ? job.data.fresh : asked.fresh }, part.id, this.o.trust);
    await timed(this.queue.add('partition', data, { jobId: part.id, attempts: 1, removeOnComplete: false, removeOnFail: false }), `queue ${part.id}`);
  }

  /** Decides whether the run is over, or must stop. */
  private check(): void {
    const combined = this.combined;
    if (!combined || this.ending) return this.wake();
    const failed = combined.parts.find((p) => p.status === 'failed');
    if (failed) this.end('failed', `partition ${this.label(failed)} failed: ${failed.error ?? 'unknown error'}`, true);
    else {
      const spent = combined.budgetSpent(combined.parts.every(isFinal));
      if (spent) this.end('failed', spent, true);
    }
    this.wake();
  }

  /** The run ends: `wait` lets running partitions stop and report (they keep their checkpoints). */
  private end(status: RunSummary['status'], reason: string, wait: boolean): void {
    if (this.ending) return;
    this.ending = { status, reason, wait };
    this.combined?.bus.emit({ type: 'stopping', reason });
    this.wake();
  }

  /** Follows the run until it is over; resolves to its summary. */
  private async watch(): Promise<RunSummary> {
    const combined = this.combined!;
    let lastPoll = 0;
    let hinted = false;
    for (;;) {
      if (!this.ending && combined.parts.every((p) => p.status === 'done')) {
        const spent = combined.budgetSpent(true);
        return spent ? combined.summary('failed', spent) : combined.summary('done');
      }
      if (!this.ending && combined.parts.every(isFinal)) {
        const open = combined.parts.filter((p) => p.status !== 'done').map((p) => this.label(p));
        this.end('failed', `partitions ${open.join(', ')} ended without finishing; run the coordinator again to resume them`, false);
      }
      if (this.ending) return this.stop();
      if (Date.now() - lastPoll >= POLL_MS) {
        lastPoll = Date.now();
        await this.poll();
        if (!hinted && Date.now() - combined.startedAt > NO_WORKER_HINT_MS && combined.parts.every((p) => p.status === 'pending' && !p.worker)) {
          hinted = true;
          this.note(
            'warn',
            `no worker has taken a partition for ${NO_WORKER_HINT_MS / 1000} s; start some: sluice worker --queue ${this.target.display} --prefix ${this.o.prefix} (from this project's folder)`,
          );
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(50, POLL_MS - (Date.now() - lastPoll)));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {};
    }
  }

  /** Reads every unfinished partition's job: catches what the event stream missed, and notices lost ones. */
  private async poll(): Promise<void> {
    const combined = this.combined!;
    let reached = true;
    for (const part of combined.parts) {
      if (isFinal(part)) continue;
      try {
        const exists = await this.refresh(part);
        if (exists) this.missing.delete(part.index);
        else this.missing.set(part.index, (this.missing.get(part.index) ?? 0) + 1);
      } catch {
        reached = false;
        break;
      }
    }
    if (!reached) {
      this.unreachableSince ??= Date.now();
      if (Date.now() - this.unreachableSince >= UNREACHABLE_MS) {
        const open = combined.parts.filter((p) => !isFinal(p)).map((p) => this.label(p));
        this.end(
          'failed',
          `lost the connection to Redis at ${this.target.display} for ${UNREACHABLE_MS / 1000} s: partitions ${open.join(', ')} were not finished; run the coordinator again once Redis is back to redo them`,
          false,
        );
      }
      return;
    }
    this.unreachableSince = undefined;
    const lost = combined.parts.filter((p) => !isFinal(p) && (this.missing.get(p.index) ?? 0) >= MISSING_POLLS);
    if (lost.length) {
      for (const part of lost) part.status = 'lost';
      const open = combined.parts.filter((p) => p.status === 'lost' || !isFinal(p)).map((p) => this.label(p));
      this.end(
        'failed',
        `Redis lost this run's state (restarted without persistence?): partitions ${open.join(', ')} were not finished; ` +
          'run the coordinator again to redo them (sinks keep their guarantees)',
        false,
      );
    }
  }

  /**
   * Stops the run: the stop flag tells the workers to stop their partitions (they drain and
   * checkpoint), queued partitions are taken off the queue, and running ones are waited for.
   */
  private async stop(): Promise<RunSummary> {
    const combined = this.combined!;
    const ending = this.ending!;
    await timed(this.redis.set(this.keys.stop, ending.reason.slice(0, 500), 'EX', 86_400), 'set the stop flag').catch(() => undefined);
    if (ending.wait) {
      const deadline = Date.now() + STOP_WAIT_MS;
      let told = false;
      for (;;) {
        for (const part of combined.parts) {
          if (isFinal(part)) continue;
          try {
            const job = await timed(this.queue.getJob(part.id), 'read a partition');
            if (!job) continue;
            const state = await timed(job.getState(), 'read a partition');
            if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
              await job.remove().catch(() => undefined);
              part.status = 'pending';
            } else await this.refresh(part);
          } catch {
            // Redis is away: nothing more to wait for.
            part.status = part.status === 'running' ? 'pending' : part.status;
          }
        }
        const running = combined.parts.filter((p) => p.status === 'running');
        if (!running.length) break;
        if (Date.now() > deadline) {
          this.say(`sluice run: partitions ${running.map((p) => this.label(p)).join(', ')} did not report within ${STOP_WAIT_MS / 1000} s; they stop at their next check`);
          break;
        }
        if (!told) {
          told = true;
          this.note('info', `waiting for ${running.length} running partition(s) to stop and save their checkpoints`);
        }
        await sleep(500);
      }
    }
    // Done partitions stay done; the rest are what the next start redoes.
    return combined.summary(ending.status, ending.reason);
  }

  async close(): Promise<void> {
    const quietly = async (what: () => Promise<unknown>) => {
      await timed(what(), 'close', 2000).catch(() => undefined);
    };
    await quietly(() => this.events?.close() ?? Promise.resolve());
    await quietly(() => this.queue.close());
    await quietly(() => this.redis.quit());
    this.redis.disconnect();
    await quietly(() => this.queue.disconnect());
    await quietly(() => this.events?.disconnect() ?? Promise.resolve());
  }
}

function label(part: PartitionState, count: number): string {
  return partitionLabel(part.index, count);
}

/** One partition in the report (`partitions` in report.schema.json). */
interface PartitionEntry {
  readonly index: number;
  readonly status: PartitionState['status'];
  readonly worker: string | null;
  readonly records: number;
  readonly written: number;
  readonly error: string | null;
  readonly deadLetterPath?: string;
}

function partitionEntry(part: PartitionState): PartitionEntry {
  const counters = part.summary?.steps.length ? part.summary.counters : (part.snapshot?.counters ?? part.summary?.counters);
  return {
    index: part.index,
    status: part.status,
    worker: part.worker ?? null,
    records: counters?.read ?? 0,
    written: counters?.written ?? 0,
    error: part.status === 'done' ? null : (part.error ?? null),
    ...(part.summary?.deadLetterPath ? { deadLetterPath: part.summary.deadLetterPath } : {}),
  };
}

/** `partitions: 8 (6 done, 2 stopped) on workers a, b` */
function partitionsLine(combined: CombinedRun): string {
  const by = new Map<string, number>();
  for (const part of combined.parts) by.set(part.status, (by.get(part.status) ?? 0) + 1);
  const names: Record<string, string> = { done: 'done', failed: 'failed', interrupted: 'stopped', pending: 'not finished', running: 'still running', lost: 'lost' };
  const workers = [...new Set(combined.parts.map((p) => p.worker).filter((w): w is string => w !== undefined))].sort();
  return (
    `partitions: ${combined.count} (${[...by].map(([status, n]) => `${n} ${names[status] ?? status}`).join(', ')})` +
    (workers.length ? ` on worker${workers.length === 1 ? '' : 's'} ${workers.join(', ')}` : '')
  );
}
