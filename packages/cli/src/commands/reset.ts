import { usage } from '../args.js';
import { CheckpointLockedError, lockHolder, openCheckpointStore, Redactor, RunConnections, type CheckpointLock } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { loadForRun } from '../job.js';

const USAGE = `usage: sluice reset JOB.yaml

Deletes the job's checkpoint; the next run starts from the beginning (and its sinks start empty).
Refuses (exit 2) while a run holds the job.`;

export async function run(argv: string[]): Promise<number> {
  const { positionals, help } = parse(argv, {}, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, {}, connections);
  // The location may hold a value that came from ${env:…} or ${file:…}: a secret.
  const { redact } = new Redactor(plan.secrets);
  let lock: CheckpointLock | undefined;
  try {
    // Deleting the state of a run that is going on would corrupt its output: hold the lock meanwhile.
    try {
      lock = await store.lock?.(lockHolder());
    } catch (error) {
      if (!(error instanceof CheckpointLockedError)) throw error;
      process.stderr.write(redact(`sluice reset: ${error.message}\n`));
      return 2;
    }
    const had = await store.load().catch(() => true);
    await store.clear();
    process.stdout.write(redact(`${plan.name}: ${had ? 'checkpoint deleted' : 'had no checkpoint'} (${store.location})\n`));
    return 0;
  } finally {
    await lock?.release();
    await store.close?.();
    await connections.closeAll();
  }
}
