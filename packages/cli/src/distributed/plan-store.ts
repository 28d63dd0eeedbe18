import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { planPartitions, messageOf } from '@sluice/core/internal';
import { clearRunCheckpoints } from '@sluice/plugin-redis';
import { partitionJobId, QUEUE } from './keys.js';
import { CoordinatorError, CoordinatorPart, STOP_WAIT_MS, timed } from './parts.js';
import type { PartitionJobData } from './protocol.js';

/** `--partitions` when none is given. */
export const DEFAULT_PARTITIONS = 8;

/** The partition plan kept in Redis, so a restarted coordinator keeps the same partitions (and checkpoints). */
export interface StoredPlan {
  readonly version: 1;
  /** The run's id (messages carry it); plans stored before it had one use `<job>:<fingerprint>`. */
  readonly run?: string;
  readonly job: string;
  readonly fingerprint: string;
  readonly specs: unknown[];
  readonly unsplittable: boolean;
  readonly createdAt: string;
}

/**
 * The run's partition plan in Redis (`<prefix>:run:<job>:<fingerprint>`): made once, reused by a
 * coordinator started again, forgotten (with the run's checkpoints and queue jobs) by `--fresh`.
 */
export class PlanStore extends CoordinatorPart {
  /** `--fresh`: the plan, the partitions' checkpoints and the run's BullMQ jobs go; a plan is made anew. */
  async forget(): Promise<void> {
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
  async load(): Promise<StoredPlan & { reused: boolean }> {
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
}
