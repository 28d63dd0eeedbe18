import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { RunFailure, messageOf, redactValue, type JobPlan, type RunSummary } from '@sluice/core/internal';
import { UsageError } from '../args.js';
import { int, summaryText } from '../render/format.js';
import { runInfoOf } from '../render/info.js';
import { reportOf, type RunReport } from '../render/report.js';
import { RunWatch } from '../render/watch.js';
import { RunSession, type ProgressMode } from '../session.js';
import type { Observability } from '../metrics/observe.js';
import { CombinedRun } from './combined.js';
import { Follower, label } from './follower.js';
import { partitionJobId, QUEUE, runKey, stopKey } from './keys.js';
import { PartitionQueue } from './partition-queue.js';
import { CoordinatorError, isConnectionTrouble, timed, type CoordinatorContext } from './parts.js';
import { PlanStore } from './plan-store.js';
import type { PartitionJobData } from './protocol.js';
import { RedisTarget, redisErrorText } from './redis.js';
import { partitionEntry, partitionsLine, type PartitionEntry } from './report-rows.js';
import { partitionCheckpointLabel } from './stores.js';
import { fileDigest, relativeJobPath, type QueueTrust } from './trust.js';

export type { ProgressMode };
export { DEFAULT_PARTITIONS } from './plan-store.js';

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
  /** Metrics and traces of the combined run. */
  readonly observe?: Observability;
  readonly verbose: boolean;
  readonly isTerminal: (stream: NodeJS.WriteStream) => boolean;
  /** The queue key the messages are signed with (or the operator's opt-out). */
  readonly trust: QueueTrust;
  /** `--redis-ca`: the CA of a `rediss://` server's certificate. */
  readonly ca?: string;
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

/**
 * A distributed run from the coordinator's side, wired from its parts: the plan store (what the
 * partitions are), the partition queue (putting them on BullMQ), the follower (what the workers
 * report, when the run is over, how it stops) and the CLI run session (screen, signals, report).
 */
class Coordinator {
  private readonly c: CoordinatorContext;
  private events: QueueEvents | undefined;
  private readonly follower: Follower;

  constructor(o: CoordinatorOptions, target: RedisTarget, say: (line: string) => void, private readonly redact: (text: string) => string) {
    const plan = o.plan;
    const queue = new Queue<PartitionJobData>(QUEUE, {
      prefix: o.prefix,
      connection: { ...target.options, maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: (times: number) => Math.min(times * 200, 2000) },
    });
    queue.on('error', () => {});
    const keys = { run: runKey(o.prefix, plan.name, plan.fingerprint), stop: stopKey(o.prefix, plan.name, plan.fingerprint) };
    this.c = { o, plan, target, redis: target.client(), queue, keys, say };
    this.follower = new Follower(this.c);
  }

  async run(): Promise<number> {
    const { o, plan, target, redis, say } = this.c;
    const follower = this.follower;
    const path = resolve(o.file);
    const digest = fileDigest(await readFile(path, 'utf8'));
    // Workers read the job from their own checkout at this path, so it must be one they can have.
    const file = relativeJobPath(path);
    if (file === undefined) {
      throw new UsageError(`the job file ${o.file} is outside this folder; start the coordinator from the project folder (workers read the job at the same relative path from theirs)`);
    }

    const plans = new PlanStore(this.c);
    if (o.fresh) await plans.forget();
    const stored = await plans.load();
    const count = stored.specs.length;
    if (stored.unsplittable) say(`sluice run: source '${plan.source.id}' (${plan.source.use}) cannot split; running as one partition`);
    await timed(redis.del(this.c.keys.stop), 'clear the stop flag');

    const ids = stored.specs.map((_, index) => partitionJobId(plan.name, plan.fingerprint, index));
    const combined = new CombinedRun(plan, ids);
    const partitions = new PartitionQueue(this.c, (part, data, live) => follower.takeProgress(part, data, live));
    follower.start(combined, partitions);

    // Follow the queue before adding to it, so the first partitions' events are not missed.
    const events = (this.events = new QueueEvents(QUEUE, { prefix: o.prefix, connection: { ...target.options } }));
    events.on('error', () => {});
    await timed(events.waitUntilReady(), 'follow the queue');
    follower.follow(events);

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
      partitions.data[part.index] = data;
      await partitions.enqueue(part, data);
    }

    // The screens of a local run, fed by the combined view.
    const checkpointLabel = partitionCheckpointLabel(plan, target, o.prefix);
    const baseInfo = runInfoOf(plan);
    const { deadLetterPath: _perWorker, ...rest } = baseInfo;
    const info = {
      ...rest,
      source: `${baseInfo.source} · ${count} partition${count === 1 ? '' : 's'} via ${target.display}`,
      checkpoint: checkpointLabel ?? 'off (checkpoint.store: none)',
      checkpointing: checkpointLabel !== null,
      redact: this.redact,
    };
    const watch = new RunWatch(combined.bus, () => combined.progress(), info);
    await o.observe?.watchRun({ plan, bus: combined.bus, progress: () => combined.progress(), redact: this.redact });
    const session = await RunSession.open({
      mode: o.mode,
      watch,
      isTerminal: o.isTerminal,
      stop: (reason) => follower.end('interrupted', reason, true),
      onHardExit: 'running partitions stop at their next check of the stop flag',
    });
    follower.plainNotes = session.effective === 'plain';

    const startedAt = Date.now();
    let summary: RunSummary;
    try {
      combined.resumed = stored.reused;
      combined.bus.emit({ type: 'start', job: plan.name, fingerprint: plan.fingerprint, resumed: stored.reused, counters: combined.counters(), dryRun: false });
      for (const part of combined.parts) if (part.status === 'done') follower.note('info', `${label(part, count)} was done before this start (${int(part.summary?.counters.read ?? 0)} records)`);
      summary = await follower.watch();
      combined.bus.emit({ type: 'end', summary });
    } catch (error) {
      await session.abandon();
      throw error;
    }

    const report = {
      ...reportOf(summary, { file: o.file, startedAt, checkpoint: checkpointLabel, redact: this.redact }),
      partitions: combined.parts.map((part) => partitionEntry(part)),
    } satisfies RunReport & { partitions: PartitionEntry[] };
    const lines = [summaryText(summary, { ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}) }), `  ${partitionsLine(combined)}`];
    if (checkpointLabel) lines.push(`  checkpoints: ${checkpointLabel}`);
    return session.finish({ summary, report: redactValue(report, this.redact), text: this.redact(lines.join('\n')), ...(o.report ? { reportFile: o.report } : {}) });
  }

  async close(): Promise<void> {
    const { queue, redis } = this.c;
    const quietly = async (what: () => Promise<unknown>) => {
      await timed(what(), 'close', 2000).catch(() => undefined);
    };
    await quietly(() => this.events?.close() ?? Promise.resolve());
    await quietly(() => queue.close());
    await quietly(() => redis.quit());
    redis.disconnect();
    await quietly(() => queue.disconnect());
    await quietly(() => this.events?.disconnect() ?? Promise.resolve());
  }
}
