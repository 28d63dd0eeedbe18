import { dirname, resolve } from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import {
  CheckpointLockedError,
  CheckpointMismatchError,
  JobRun,
  Redactor,
  redactValue,
  RunConnections,
  formatDiagnostic,
  loadJobText,
  messageOf,
  openCheckpointStore,
  type CheckpointStoreFactory,
  type JobCounters,
  type JobPlan,
  type RunEvent,
  type RunSummary,
} from '@sluice/core/internal';
import type { Redis } from 'ioredis';
import { partitionPath } from '@sluice/plugin-file';
import { builtInRegistry } from '../builtins.js';
import { jobEnv } from '../envfile.js';
import { duration, int } from '../render/format.js';
import { partitionLabel, QUEUE, stopKey } from './keys.js';
import { FORWARDED, jsonSafe, type PartitionJobData, type PartitionProgress } from './protocol.js';
import { RedisTarget, redisErrorText } from './redis.js';
import { partitionCheckpointStores } from './stores.js';
import { ownJobText, refusal, seal, type QueueTrust } from './trust.js';
import type { WatchedRun } from '../metrics/run-feed.js';
import type { PartitionOutcome } from '../metrics/worker-feed.js';

export interface WorkerOptions {
  /** `--queue`: the Redis to take partitions from. */
  readonly url: string;
  readonly prefix: string;
  /** Partitions run at once. */
  readonly concurrency: number;
  /** `--lock-timeout`: how long a silent worker keeps its partitions before another may take them. */
  readonly lockTimeoutMs: number;
  readonly name: string;
  /** plain: a line per partition start and end on stderr; none: only problems. */
  readonly progress: 'plain' | 'none';
  /** `--env-file`: variables for the job's \${env:…}, under this worker's environment (else a .env beside the job). */
  readonly envFiles?: Record<string, string>;
  /** The queue key the coordinator's messages must be signed with (or the operator's opt-out). */
  readonly trust: QueueTrust;
  /** `--redis-ca`: the CA of a `rediss://` server's certificate. */
  readonly ca?: string;
  /** Metrics and traces (`--metrics`, OTEL_*): follows a partition attempt until it says how it ended. */
  readonly observe?: (run: WatchedRun, attributes: Record<string, string | number>) => (outcome: PartitionOutcome, summary?: RunSummary) => void;
}

/** Progress messages at most this often (BullMQ stores each, and the coordinator reads them). */
const PUBLISH_MS = 500;
/** How often a running partition looks at the run's stop flag. */
const STOP_POLL_MS = 1000;
/** Events kept between two progress messages. */
const MAX_EVENTS = 50;

/** One partition being run by this worker. */
class Attempt {
  readonly abort = new AbortController();
  /** Who stopped it: this worker (a signal: give the partition back), the coordinator (stop flag), or a lost lock. */
  stoppedBy: 'worker' | 'coordinator' | 'lock' | undefined;

  stop(by: 'worker' | 'coordinator' | 'lock', reason: string): void {
    if (this.stoppedBy) return;
    this.stoppedBy = by;
    this.abort.abort(new Error(reason));
  }
}

/**
 * `sluice worker --queue URL`: takes partitions of distributed runs from the BullMQ queue `jobs`
 * and runs each with the engine, as a local run would, with its checkpoint in Redis (or in the
 * job's SQL database). Stops gracefully on SIGTERM/SIGINT: the running partitions drain, save
 * their checkpoints and go back to the queue for another worker.
 */
export async function runWorker(o: WorkerOptions): Promise<number> {
  const target = RedisTarget.parse(o.url, '--queue', o.ca);
  const say = (line: string) => process.stderr.write(`${target.scrub(line)}\n`);
  const why = await target.unreachable();
  if (why) {
    say(`sluice worker: cannot reach Redis at ${target.display} (--queue): ${why}; check that Redis is running and the URL is right`);
    return 1;
  }

  const redis = target.client();
  const stores = partitionCheckpointStores(target, o.prefix, o.lockTimeoutMs);
  const running = new Map<string, Attempt>();
  let shuttingDown = false;
  const me = `worker ${o.name}`;
  const tell = (line: string) => {
    if (o.progress === 'plain') say(`${me}: ${line}`);
  };

  const worker = new Worker<PartitionJobData, RunSummary>(
    QUEUE,
    (job, token) => runPartition(job, token, { o, target, redis, stores, running, say, tell, shuttingDown: () => shuttingDown }),
    {
      prefix: o.prefix,
      connection: { ...target.options },
      concurrency: o.concurrency,
      lockDuration: o.lockTimeoutMs,
      stalledInterval: o.lockTimeoutMs,
      maxStalledCount: 10,
      name: o.name,
      autorun: false,
    },
  );

  // Queue trouble (Redis gone for a while, a lock that could not be renewed) is told once in a while, never thrown.
  let lastProblem = { text: '', at: 0 };
  worker.on('error', (error: Error) => {
    const text = redisErrorText(error);
    const now = Date.now();
    if (text === lastProblem.text && now - lastProblem.at < 30_000) return;
    lastProblem = { text, at: now };
    say(`${me}: queue at ${target.display}: ${text}`);
  });
  worker.on('lockRenewalFailed', (ids: string[]) => {
    for (const id of ids) running.get(id)?.stop('lock', `${me} lost the lock of partition ${id} (another worker may have taken it over)`);
  });

  const closed = new Promise<void>((resolveClosed) => worker.once('closed', () => resolveClosed()));
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      say(`${me}: ${signal} again: exiting now; running partitions resume from their last checkpoint elsewhere`);
      process.exit(130);
    }
    shuttingDown = true;
    say(`${me}: ${signal}: stopping${running.size ? `; ${running.size} running partition(s) drain, save their checkpoints and go back to the queue` : ''}`);
    for (const attempt of running.values()) attempt.stop('worker', `${me} stopping (${signal})`);
    void worker.close().catch(() => undefined);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    await worker.waitUntilReady();
  } catch (error) {
    say(`sluice worker: cannot reach Redis at ${target.display} (--queue): ${redisErrorText(error)}`);
    await worker.close(true).catch(() => undefined);
    redis.disconnect();
    return 1;
  }
  if (!('key' in o.trust)) say(`${me}: --insecure-queue: running unsigned partitions; anyone who can write to ${target.display} chooses the --set values applied here`);
  tell(`waiting for partitions on ${target.display} (prefix ${o.prefix}, up to ${o.concurrency} at once)`);
  void worker.run().catch((error: unknown) => say(`${me}: ${redisErrorText(error)}`));
  await closed;
  process.off('SIGINT', shutdown);
  process.off('SIGTERM', shutdown);
  await Promise.race([redis.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  redis.disconnect();
  tell('stopped');
  return 0;
}

interface PartitionContext {
  readonly o: WorkerOptions;
  readonly target: RedisTarget;
  readonly redis: Redis;
  readonly stores: Record<string, CheckpointStoreFactory>;
  readonly running: Map<string, Attempt>;
  readonly say: (line: string) => void;
  readonly tell: (line: string) => void;
  readonly shuttingDown: () => boolean;
}

/** Runs one partition; its return value (the run summary) is the BullMQ job's. */
async function runPartition(job: Job<PartitionJobData, RunSummary>, token: string | undefined, c: PartitionContext): Promise<RunSummary> {
  const data = job.data;
  const me = `worker ${c.o.name}`;
  if (data?.version !== 2 || !data.partition) {
    throw new UnrecoverableError(`${me} cannot read this queue entry (format ${String(data?.version)}); run the same Sluice version as the coordinator`);
  }
  const label = partitionLabel(data.partition.index, data.partition.count);
  const refuse = (message: string): never => {
    c.say(`${me}: refused ${label} of ${String(data.job)}: ${message}`);
    throw new UnrecoverableError(message);
  };
  // Nothing in a message is acted on before its signature is checked: not even the stop flag's key.
  const untrusted = refusal(data, job.id ?? '', c.o.trust);
  if (untrusted) refuse(untrusted);
  // Taken while this worker is stopping: back to the queue at once.
  if (c.shuttingDown()) {
    await job.moveToWait(token);
    throw new WaitingError();
  }
  const stopFlag = stopKey(c.o.prefix, data.job, data.fingerprint);
  const flagged = await c.redis.get(stopFlag).catch(() => null);
  if (flagged) throw new UnrecoverableError(`interrupted: the run was stopped before this partition started (${flagged})`);

  // The job as this worker's own checkout holds it: never the text of a message.
  let text = '';
  try {
    text = await ownJobText(data);
  } catch (error) {
    refuse(messageOf(error));
  }
  const file = resolve(data.file);
  const loaded = await loadJobText(text, { dir: dirname(file), displayName: data.file, registry: builtInRegistry(), sets: [...data.sets], strictEnv: true, env: jobEnv(file, c.o.envFiles) });
  const plan = loaded.plan;
  if (!plan) {
    const problems = loaded.diagnostics.filter((d) => d.severity === 'error').map((d) => formatDiagnostic(d));
    refuse(c.target.scrub(`the job is not valid on ${me}: ${problems.join('; ')}`));
    return undefined as never;
  }
  if (plan.fingerprint !== data.fingerprint) {
    refuse(`the job's fingerprint on ${me} (${plan.fingerprint}) differs from the coordinator's (${data.fingerprint}); run the same Sluice version on every machine`);
  }
  const { redact: jobRedact } = new Redactor(plan.secrets);
  const redact = (text: string) => c.target.scrub(jobRedact(text));
  const safe = <T>(value: T): T => redactValue(value, redact);
  const index = data.partition.index;

  if (data.fresh) {
    await clearCheckpoint(plan, c.stores, index);
    // Cleared once: a worker taking the partition over later resumes instead of starting over.
    await job.updateData(seal({ ...data, fresh: false }, job.id ?? '', c.o.trust));
  }

  const attempt = new Attempt();
  c.running.set(job.id!, attempt);
  if (c.shuttingDown()) attempt.stop('worker', `${me} stopping`);
  const jobRun = new JobRun(plan, {
    checkpointStores: c.stores,
    partition: { index, count: data.partition.count, spec: data.partition.spec ?? undefined },
    signal: attempt.abort.signal,
    // Taken over from a worker that died: its partition lease (or database session) may outlive it a little.
    lockWaitMs: 2 * c.o.lockTimeoutMs + 5000,
  });

  const observed = c.o.observe?.({ plan, bus: jobRun.bus, progress: () => jobRun.progress(), redact }, { 'sluice.partition': index, 'sluice.partitions': data.partition.count, 'sluice.worker': c.o.name });
  let startCounters: JobCounters | undefined;
  let events: RunEvent[] = [];
  let dropped = 0;
  jobRun.bus.on((event) => {
    if (event.type === 'start') {
      startCounters = event.counters;
      c.tell(`${label} of ${data.job} started${event.resumed ? ` (resuming: ${int(event.counters.read)} records done)` : ''}`);
      return;
    }
    if (!FORWARDED.has(event.type) || (event.type === 'log' && event.level !== 'warn' && event.level !== 'error')) return;
    events.push(event);
    if (events.length > MAX_EVENTS) {
      events.shift();
      dropped++;
    }
  });
  const message = (summary?: RunSummary): PartitionProgress => {
    const snapshot = jobRun.progress();
    const out: PartitionProgress = {
      worker: c.o.name,
      ...(startCounters ? { startCounters } : {}),
      ...(snapshot ? { snapshot } : {}),
      ...(events.length ? { events } : {}),
      ...(dropped ? { dropped } : {}),
      ...(summary ? { summary } : {}),
    };
    events = [];
    dropped = 0;
    return safe(jsonSafe(out));
  };

  // Progress at most twice a second, and never two messages in flight (Redis may be slow or away).
  let publishing = false;
  const publish = setInterval(() => {
    if (publishing) return;
    publishing = true;
    job
      .updateProgress(message() as object)
      .catch(() => undefined)
      .finally(() => (publishing = false));
  }, PUBLISH_MS);
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    c.redis
      .get(stopFlag)
      .then((value) => {
        if (value) attempt.stop('coordinator', 'stopped by the coordinator');
      })
      .catch(() => undefined)
      .finally(() => (polling = false));
  }, STOP_POLL_MS);

  let summary: RunSummary;
  try {
    summary = await jobRun.run();
  } catch (error) {
    observed?.('refused');
    if (error instanceof CheckpointMismatchError || error instanceof CheckpointLockedError) throw new UnrecoverableError(redact(error.message));
    throw new UnrecoverableError(redact(messageOf(error)));
  } finally {
    clearInterval(publish);
    clearInterval(poll);
    c.running.delete(job.id!);
  }

  // The file sink writes a partition's dead letters to `<name>.p<index>.<ext>`: name that file.
  const deadLetterPath = summary.deadLetterPath && plan.deadLetter.use === 'file' ? partitionPath(summary.deadLetterPath, { index }) : summary.deadLetterPath;
  const result = safe(jsonSafe({ ...summary, ...(deadLetterPath ? { deadLetterPath } : {}) }));
  // The summary travels with the progress too: a failed BullMQ job has no return value.
  await Promise.race([job.updateProgress(message(result) as object).catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
  const records = `${int(summary.counters.read)} records${summary.resumed ? ` (${int(summary.thisRun.read)} in this attempt)` : ''} in ${duration(summary.durationMs)}`;

  observed?.(summary.status === 'interrupted' && attempt.stoppedBy === 'worker' ? 'returned' : summary.status, summary);
  if (summary.status === 'done') {
    c.tell(`${label} of ${data.job} done: ${records}`);
    return result;
  }
  if (summary.status === 'interrupted') {
    if (attempt.stoppedBy === 'worker') {
      c.tell(`${label} of ${data.job} stopped after ${records}; checkpoint saved, given back to the queue`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (attempt.stoppedBy === 'lock') {
      c.say(`${me}: ${label} of ${data.job} stopped: it lost its lock (another worker resumes it from the checkpoint)`);
      throw new Error(`${me} lost the lock`);
    }
    c.tell(`${label} of ${data.job} stopped by the coordinator after ${records}; checkpoint saved`);
    throw new UnrecoverableError(`interrupted: ${result.error ?? 'stopped'}`);
  }
  if (attempt.stoppedBy === 'worker' && !startCounters) {
    // Stopped before it started (waiting for the lease another run holds): nothing ran, so the
    // partition goes back to the queue as it came, not failed.
    c.tell(`${label} of ${data.job} given back to the queue before it started: ${result.error ?? 'stopped'}`);
    await job.moveToWait(token);
    throw new WaitingError();
  }
  c.say(`${me}: ${label} of ${data.job} failed: ${result.error ?? 'unknown error'}`);
  throw new UnrecoverableError(result.error ?? 'failed');
}

/** `--fresh`: forgets this partition's checkpoint in whatever store the job's partitions use. */
async function clearCheckpoint(plan: JobPlan, stores: Record<string, CheckpointStoreFactory>, index: number): Promise<void> {
  const connections = new RunConnections(plan.connections);
  try {
    const store = await openCheckpointStore(plan, stores, connections, index);
    try {
      await store.clear();
    } finally {
      await store.close?.();
    }
  } finally {
    await connections.closeAll();
  }
}
