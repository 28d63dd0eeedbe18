import { usage } from '../args.js';
import { CheckpointMismatchError, describeHolder, openCheckpointStore, Redactor, RunConnections } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun } from '../job.js';
import { equation } from '../render/format.js';

const USAGE = `usage: sluice status JOB.yaml [--json]

Shows the job's checkpoint: where a run would resume, and the counts so far; and the run that
holds the job now, if one does.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  // The cursor and the location may hold values that came from ${env:…} or ${file:…}: secrets.
  const { redact } = new Redactor(plan.secrets);
  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, builtInCheckpointStores(), connections);
  try {
    const checkpoint = await store.load();
    const holder = (await store.lockHolder?.()) ?? null;
    const { token: _token, ...lock } = holder ?? { token: '' };
    const running = holder ? `  running now: ${describeHolder(holder)} (sluice reset and a second run wait for it to end)` : undefined;
    if (values.json) {
      const status = {
        job: plan.name,
        location: store.location,
        checkpoint: checkpoint ?? null,
        matches: checkpoint ? checkpoint.fingerprint === plan.fingerprint : null,
        lock: holder ? lock : null,
      };
      process.stdout.write(`${JSON.stringify(status, (_key, value: unknown) => (typeof value === 'string' ? redact(value) : value), 2)}\n`);
      return 0;
    }
    if (!checkpoint) {
      process.stdout.write(redact(`${plan.name}: no checkpoint (${store.location}); the next run starts from the beginning\n${running ? `${running}\n` : ''}`));
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
    if (checkpoint.replay?.writing) lines.push(`  replay interrupted: ${checkpoint.replay.file}; sluice replay finishes it (sluice run refuses until then)`);
    if (running) lines.push(running);
    process.stdout.write(redact(`${lines.join('\n')}\n`));
    return 0;
  } finally {
    await store.close?.();
    await connections.closeAll();
  }
}
