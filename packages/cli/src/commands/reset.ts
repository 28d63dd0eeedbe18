import { usage } from '../args.js';
import { openCheckpointStore, Redactor, RunConnections } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun } from '../job.js';

const USAGE = `usage: sluice reset JOB.yaml

Deletes the job's checkpoint; the next run starts from the beginning (and its sinks start empty).`;

export async function run(argv: string[]): Promise<number> {
  const { positionals, help } = parse(argv, {}, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, builtInCheckpointStores(), connections);
  try {
    const had = await store.load().catch(() => true);
    await store.clear();
    // The location may hold a value that came from ${env:…} or ${file:…}: a secret.
    const { redact } = new Redactor(plan.secrets);
    process.stdout.write(redact(`${plan.name}: ${had ? 'checkpoint deleted' : 'had no checkpoint'} (${store.location})\n`));
    return 0;
  } finally {
    await store.close?.();
    await connections.closeAll();
  }
}
