import { usage } from '../args.js';
import { CheckpointMismatchError, describeHolder, openCheckpointStore, Redactor, RunConnections, type Checkpoint, type JobCounters, type JobPlan, type LockHolder } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { loadForRun } from '../job.js';
import { equation, int } from '../render/format.js';
import { storedThreadPlan, threadPlanPath } from '../threads/plan.js';

const USAGE = `usage: sluice status JOB.yaml [--json]

Shows the job's checkpoint: where a run would resume, and the counts so far; and the run that
holds the job now, if one does. After a run with --threads, also each partition's checkpoint.`;

/** One checkpoint of the job (the one-thread run's, or a --threads partition's) and who holds it. */
interface StoreState {
  readonly location: string;
  readonly checkpoint: Checkpoint | undefined;
  readonly holder: LockHolder | null;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  // The cursor and the location may hold values that came from ${env:…} or ${file:…}: secrets.
  const { redact } = new Redactor(plan.secrets);
  const connections = new RunConnections(plan.connections);
  try {
    const single = await storeState(plan, connections);
    const threads = await threadsState(plan, connections);
    const matches = (c: Checkpoint | undefined) => (c ? c.fingerprint === plan.fingerprint : null);
    const lockOf = (holder: LockHolder | null) => {
      if (!holder) return null;
      const { token: _token, ...lock } = holder;
      return lock;
    };
    if (values.json) {
      const status = {
        job: plan.name,
        location: single.location,
        checkpoint: single.checkpoint ?? null,
        matches: matches(single.checkpoint),
        lock: lockOf(single.holder),
        threads: threads
          ? {
              plan: threads.path,
              matches: threads.matches,
              partitions: threads.partitions.map((p, index) => ({ index, location: p.location, checkpoint: p.checkpoint ?? null, matches: matches(p.checkpoint), lock: lockOf(p.holder) })),
            }
          : null,
      };
      process.stdout.write(`${JSON.stringify(status, (_key, value: unknown) => (typeof value === 'string' ? redact(value) : value), 2)}\n`);
      return 0;
    }
    const lines = singleLines(plan, single, threads !== undefined);
    if (threads) lines.push(...threadsLines(plan, threads));
    process.stdout.write(redact(`${lines.join('\n')}\n`));
    return 0;
  } finally {
    await connections.closeAll();
  }
}

async function storeState(plan: JobPlan, connections: RunConnections, partition?: number): Promise<StoreState> {
  const store = await openCheckpointStore(plan, {}, connections, partition);
  try {
    return { location: store.location, checkpoint: await store.load(), holder: (await store.lockHolder?.()) ?? null };
  } finally {
    await store.close?.();
  }
}

interface ThreadsState {
  readonly path: string;
  /** Whether the partition plan was made for this version of the job (else the next --threads run plans anew). */
  readonly matches: boolean;
  readonly partitions: StoreState[];
}

/** The partitions of the job's last `--threads` run, from the plan it kept beside the checkpoints. */
async function threadsState(plan: JobPlan, connections: RunConnections): Promise<ThreadsState | undefined> {
  const stored = await storedThreadPlan(plan);
  if (!stored) return undefined;
  const partitions: StoreState[] = [];
  for (let index = 0; index < stored.specs.length; index++) partitions.push(await storeState(plan, connections, index));
  return { path: threadPlanPath(plan), matches: stored.fingerprint === plan.fingerprint, partitions };
}

const runningNow = (holder: LockHolder | null) => (holder ? `running now: ${describeHolder(holder)} (sluice reset and a second run wait for it to end)` : undefined);

/** The one-thread run's checkpoint; when a `--threads` run left partitions and there is none, one line. */
function singleLines(plan: JobPlan, s: StoreState, threads: boolean): string[] {
  const running = runningNow(s.holder);
  const { checkpoint } = s;
  if (!checkpoint) {
    const next = threads ? 'no checkpoint of a run without --threads' : 'no checkpoint';
    const then = threads ? '' : '; the next run starts from the beginning';
    return [`${plan.name}: ${next} (${s.location})${then}`, ...(running ? [`  ${running}`] : [])];
  }
  const lines = [
    `${plan.name}: ${checkpoint.done ? 'complete' : 'in progress'} — checkpoint of ${checkpoint.updatedAt}`,
    `  where: ${s.location}`,
    `  batch: ${checkpoint.seq}, cursor: ${JSON.stringify(checkpoint.cursor)}`,
    `  ${equation(checkpoint.counters)}`,
  ];
  if (checkpoint.fingerprint !== plan.fingerprint) lines.push(`  warning: ${new CheckpointMismatchError(s.location).message}`);
  else lines.push(checkpoint.done ? '  the next run reads only what the source has added since; --fresh starts over' : '  the next run resumes after this batch');
  if (checkpoint.replay?.writing) lines.push(`  replay interrupted: ${checkpoint.replay.file}; sluice replay finishes it (sluice run refuses until then)`);
  if (running) lines.push(`  ${running}`);
  return lines;
}

/** The partitions of a `--threads` run: each one's state, and their counts added up. */
function threadsLines(plan: JobPlan, t: ThreadsState): string[] {
  const { partitions } = t;
  const done = partitions.filter((p) => p.checkpoint?.done).length;
  const total = sumCounters(partitions.flatMap((p) => (p.checkpoint ? [p.checkpoint.counters] : [])));
  const lines = [
    `${plan.name} --threads: ${partitions.length} partitions (plan ${t.path}), ${done} complete`,
    `  ${equation(total)}`,
  ];
  partitions.forEach((p, index) => {
    const c = p.checkpoint;
    const state = !c
      ? 'no checkpoint: starts from its beginning'
      : `${c.done ? 'complete' : 'in progress'}, batch ${c.seq}, ${int(c.counters.read)} read, ${int(c.counters.written)} written — checkpoint of ${c.updatedAt}`;
    lines.push(`  p${index}: ${state} (${p.location})`);
    if (c && c.fingerprint !== plan.fingerprint) lines.push(`    warning: ${new CheckpointMismatchError(p.location).message}`);
    const running = runningNow(p.holder);
    if (running) lines.push(`    ${running}`);
  });
  if (!t.matches) lines.push('  the partition plan was made for a different version of this job: the next --threads run plans anew');
  else if (done === partitions.length) lines.push('  the next run with --threads reads only what the source has added since; --fresh starts over');
  else lines.push('  sluice run with --threads resumes each partition from its checkpoint; --fresh starts over');
  return lines;
}

function sumCounters(all: readonly JobCounters[]): JobCounters {
  const sum: Record<string, number> = { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 };
  for (const counters of all) for (const [key, value] of Object.entries(counters)) if (typeof value === 'number') sum[key] = (sum[key] ?? 0) + value;
  return sum as unknown as JobCounters;
}
