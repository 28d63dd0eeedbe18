import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { planPartitions, type JobPlan } from '@sluice/core/internal';

/**
 * The partition plan of a `--threads` run, kept beside the checkpoints
 * (`<checkpoint.path>/<job>.threads.json`) so a run started again (after a crash, or with another
 * thread count) resumes the same partitions from their checkpoints.
 */
export interface ThreadPlan {
  readonly version: 1;
  readonly fingerprint: string;
  readonly specs: unknown[];
  /** The source could not split: the run goes on one thread. */
  readonly unsplittable: boolean;
}

export function threadPlanPath(plan: JobPlan): string {
  // Beside a file store's checkpoints; other stores keep no folder, so their plans go to the file store's default one.
  const folder = typeof plan.checkpoint.path === 'string' ? plan.checkpoint.path : '.sluice/checkpoints';
  return join(resolve(plan.dir, folder), `${plan.name}.threads.json`);
}

/** The plan a `--threads` run left beside the checkpoints, whichever version of the job it was made for. */
export async function storedThreadPlan(plan: JobPlan): Promise<ThreadPlan | undefined> {
  if (plan.checkpoint.store === 'none') return undefined;
  const stored = await readFile(threadPlanPath(plan), 'utf8').then(
    (text) => JSON.parse(text) as Partial<ThreadPlan>,
    () => undefined,
  );
  return stored?.version === 1 && Array.isArray(stored.specs) && stored.specs.length > 0 ? (stored as ThreadPlan) : undefined;
}

/** The stored plan when it belongs to this version of the job (and `fresh` is off), else a new one, stored. */
export async function threadPlan(plan: JobPlan, partitions: number, fresh: boolean): Promise<ThreadPlan & { reused: boolean }> {
  const path = threadPlanPath(plan);
  if (!fresh && plan.checkpoint.store !== 'none') {
    const stored = await readFile(path, 'utf8').then(
      (text) => JSON.parse(text) as ThreadPlan,
      () => undefined,
    );
    if (stored?.version === 1 && stored.fingerprint === plan.fingerprint && Array.isArray(stored.specs) && stored.specs.length > 0) return { ...stored, reused: true };
  }
  const planned = await planPartitions(plan, partitions);
  const doc: ThreadPlan = { version: 1, fingerprint: plan.fingerprint, specs: planned.specs.map((s) => s ?? null), unsplittable: planned.unsplittable || planned.specs.length < 2 };
  if (plan.checkpoint.store !== 'none' && !doc.unsplittable) {
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(doc));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } else await rm(path, { force: true });
  return { ...doc, reused: false };
}
