import type { Job } from 'bullmq';
import { checkpointKey } from '@sluice/plugin-redis';
import type { PartitionState } from './combined.js';
import { CoordinatorPart, timed, type CoordinatorContext } from './parts.js';
import { isSummary, type PartitionJobData, type PartitionProgress } from './protocol.js';
import { refusal, seal } from './trust.js';

/**
 * The run's partitions on the BullMQ queue: each added once (signed), left alone while queued or
 * running, taken as done when its job and checkpoint say so, added again after a stop.
 */
export class PartitionQueue extends CoordinatorPart {
  /** Each partition's job data, to queue it again. */
  readonly data: PartitionJobData[] = [];

  constructor(
    c: CoordinatorContext,
    /** Takes a running partition's last progress message in (the follower's). */
    private readonly takeProgress: (part: PartitionState, data: unknown, live: boolean) => void,
  ) {
    super(c);
  }

  /**
   * Puts a partition on the queue, unless it is there already: a done one is not run again, a
   * queued or running one is left (its data refreshed while it waits), a failed or stopped one is
   * removed and added again.
   */
  async enqueue(part: PartitionState, asked: PartitionJobData): Promise<void> {
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
  trusted(job: Job<PartitionJobData>): boolean {
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

  /** Puts a stopped partition on the queue again (its BullMQ job ended failed, so it is removed first). */
  async requeue(part: PartitionState): Promise<void> {
    const job = await timed(this.queue.getJob(part.id), `read partition ${part.id}`);
    const state = job ? await job.getState() : 'unknown';
    if (state === 'failed' || state === 'completed') await job!.remove();
    else if (state !== 'unknown') return;
    // The worker turns `fresh` off once it cleared the checkpoint: keep what the job says.
    const asked = this.data[part.index]!;
    const data = seal({ ...asked, fresh: job && this.trusted(job) ? job.data.fresh : asked.fresh }, part.id, this.o.trust);
    await timed(this.queue.add('partition', data, { jobId: part.id, attempts: 1, removeOnComplete: false, removeOnFail: false }), `queue ${part.id}`);
  }
}
