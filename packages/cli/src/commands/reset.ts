import { rm } from 'node:fs/promises';
import { usage } from '../args.js';
import { CheckpointLockedError, lockHolder, openCheckpointStore, Redactor, RunConnections, type CheckpointLock, type CheckpointStore } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { loadForRun } from '../job.js';
import { storedThreadPlan, threadPlanPath } from '../threads/plan.js';

const USAGE = `usage: sluice reset JOB.yaml

Deletes the job's checkpoint — and, after a run with --threads, every partition's checkpoint and
the partition plan; the next run starts from the beginning (and its sinks start empty).
Refuses (exit 2) while a run holds the job or one of its partitions.`;

export async function run(argv: string[]): Promise<number> {
  const { positionals, help } = parse(argv, {}, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  const connections = new RunConnections(plan.connections);
  // The location may hold a value that came from ${env:…} or ${file:…}: a secret.
  const { redact } = new Redactor(plan.secrets);
  const threads = await storedThreadPlan(plan);
  const stores: CheckpointStore[] = [];
  const locks: CheckpointLock[] = [];
  try {
    // The job's own state, then each partition's of a --threads run.
    stores.push(await openCheckpointStore(plan, {}, connections));
    for (let index = 0; index < (threads?.specs.length ?? 0); index++) stores.push(await openCheckpointStore(plan, {}, connections, index));
    // Deleting the state of a run that is going on would corrupt its output: hold every lock
    // meanwhile, and delete nothing unless all of them are free. Held ones are tried first, so a
    // --threads run going on is refused before reset holds a lock its next partition would need.
    const held: CheckpointStore[] = [];
    for (const store of stores) if (await store.lockHolder?.()) held.push(store);
    for (const store of [...held, ...stores.filter((s) => !held.includes(s))]) {
      try {
        const lock = await store.lock?.(lockHolder());
        if (lock) locks.push(lock);
      } catch (error) {
        if (!(error instanceof CheckpointLockedError)) throw error;
        process.stderr.write(redact(`sluice reset: ${error.message}\n`));
        return 2;
      }
    }
    const [single, ...partitions] = stores;
    const had = await single!.load().catch(() => true);
    await single!.clear();
    const lines = [`${plan.name}: ${had ? 'checkpoint deleted' : 'had no checkpoint'} (${single!.location})`];
    if (threads) {
      let deleted = 0;
      for (const store of partitions) {
        if (await store.load().catch(() => true)) deleted++;
        await store.clear();
      }
      await rm(threadPlanPath(plan), { force: true });
      lines.push(`${plan.name} --threads: ${deleted} of ${partitions.length} partition checkpoints deleted, and the partition plan (${threadPlanPath(plan)})`);
    }
    process.stdout.write(redact(`${lines.join('\n')}\n`));
    return 0;
  } finally {
    for (const lock of locks) await lock.release();
    for (const store of stores) await store.close?.();
    await connections.closeAll();
  }
}
