import { usage } from '../args.js';
import { CheckpointMismatchError, openCheckpointStore, RunConnections } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun } from '../job.js';
import { equation } from '../render/format.js';

const USAGE = `usage: sluice status JOB.yaml [--json]

Shows the job's checkpoint: where a run would resume, and the counts so far.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, builtInCheckpointStores(), connections);
  try {
    const checkpoint = await store.load();
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ job: plan.name, location: store.location, checkpoint: checkpoint ?? null, matches: checkpoint ? checkpoint.fingerprint === plan.fingerprint : null }, null, 2)}\n`);
      return 0;
    }
    if (!checkpoint) {
      process.stdout.write(`${plan.name}: no checkpoint (${store.location}); the next run starts from the beginning\n`);
      return 0;
    }
    const lines = [
      `${plan.name}: ${checkpoint.done ? 'complete' : 'in progress'} — checkpoint of ${checkpoint.updatedAt}`,
      `  where: ${store.location}`,
      `  batch: ${checkpoint.seq}, cursor: ${JSON.stringify(checkpoint.cursor)}`,
      `  ${equation(checkpoint.counters)}`,
    ];
    if (checkpoint.fingerprint !== plan.fingerprint) lines.push(`  warning: ${new CheckpointMismatchError(store.location).message}`);
    else lines.push(checkpoint.done ? '  the next run reads only what the source has added since; --fresh starts over' : '  the next run resumes after this batch');
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await store.close?.();
    await connections.closeAll();
  }
}
