import type { CheckpointStoreFactory, JobPlan } from '@sluice/core/internal';
import { redisCheckpointStore } from '@sluice/plugin-redis';
import { partitionJobId } from './keys.js';
import type { RedisTarget } from './redis.js';

/**
 * The checkpoint stores of a partition run. A partition moves between machines, so a `file`
 * checkpoint (one machine's disk) could not follow it: `file` and `redis` both go to the queue's
 * Redis, keyed by job, fingerprint and partition. `sql` stays in its database (shared, and
 * committed with the sink's rows); `none` stays none.
 */
export function partitionCheckpointStores(target: RedisTarget, prefix: string, leaseMs?: number): Record<string, CheckpointStoreFactory> {
  // A partition's lease lives as long as BullMQ's lock: a killed worker's partition is free to the next one at the same time.
  const redis = redisCheckpointStore({ url: target.endpoint, prefix, ...(leaseMs ? { leaseMs } : {}) });
  return { file: redis, redis };
}

/** Where partition checkpoints live, for messages and the report (no credentials). */
export function partitionCheckpointLabel(plan: JobPlan, target: RedisTarget, prefix: string): string | null {
  switch (plan.checkpoint.store) {
    case 'none':
      return null;
    case 'sql':
      return `sql (connection ${plan.checkpoint.connection ?? '?'}, one checkpoint per partition)`;
    default:
      return `${target.display} ${prefix}:checkpoint:${partitionJobId(plan.name, plan.fingerprint, 0).replace(/p0$/, 'p*')}`;
  }
}
