import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { resolve } from 'node:path';
import type { JobPlan, StepPlan } from '@sluice/core/internal';
import { PARTITION_PLACEHOLDER, partitionPath } from '@sluice/plugin-file';

/**
 * A `--threads` run writes a file sink's output (and the dead-letter file) one part per
 * partition, as a distributed run does (`out.p0.jsonl`, `out.p1.jsonl`, …), and joins the parts
 * in partition order into the file the job names once every partition is done. Partitions are
 * consecutive slices of the source, so the joined file holds the records of a one-thread run in
 * the same order. Parts are byte-concatenated (gzip members concatenate, too); a CSV part after the
 * first drops its header row.
 */
export interface JoinTarget {
  /** The file the job names, resolved. */
  readonly path: string;
  readonly parts: readonly string[];
  /** CSV with a header row: parts after the first lose their first line. */
  readonly csvHeader: boolean;
}

/** The files to join for `plan` over `count` partitions, or why the output cannot be joined. */
export function joinTargets(plan: JobPlan, count: number): { targets: JoinTarget[] } | { problem: string } {
  const targets: JoinTarget[] = [];
  for (const step of [...plan.sinks, plan.deadLetter]) {
    if (step.use !== 'file' || typeof step.config.path !== 'string') continue;
    const path = step.config.path;
    // The user asked for one file per partition: nothing to join.
    if (path.includes(PARTITION_PLACEHOLDER)) continue;
    const format = formatOf(step, path);
    if (format === 'json') return { problem: `sink '${step.id}' writes a JSON array (${path}), whose parts cannot be joined; write JSON Lines, or put {partition} in the path to keep one file per partition` };
    const csvHeader = format === 'csv' && (step.config.csv as { header?: boolean } | undefined)?.header !== false;
    if (csvHeader && /\.gz$/i.test(path)) return { problem: `sink '${step.id}' writes gzipped CSV with a header (${path}), whose parts cannot be joined; set csv.header: false, or put {partition} in the path` };
    const full = resolve(plan.dir, path);
    targets.push({ path: full, parts: Array.from({ length: count }, (_, index) => partitionPath(full, { index })), csvHeader });
  }
  return { targets };
}

function formatOf(step: StepPlan, path: string): string {
  if (typeof step.config.format === 'string') return step.config.format;
  const name = path.replace(/\.gz$/i, '');
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.json$/i.test(name)) return 'json';
  return 'jsonl';
}

/**
 * Joins one target: into a temp file, fsynced, renamed over the target, then the parts go. A crash
 * before the rename leaves the parts (the next run joins again); after it, the joined file stands
 * and leftover parts are only deleted.
 */
export async function joinParts(target: JoinTarget): Promise<void> {
  const present = await Promise.all(target.parts.map((part) => stat(part).then(() => true, () => false)));
  if (!present.some(Boolean)) return;
  const temp = `${target.path}.joining`;
  const out = createWriteStream(temp);
  for (const [index, part] of target.parts.entries()) {
    if (!present[index]) continue;
    const input = createReadStream(part, target.csvHeader && index > 0 ? { start: await firstLineEnd(part) } : {});
    for await (const chunk of input) if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const handle = await open(temp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, target.path);
  for (const part of target.parts) await rm(part, { force: true });
}

/** The byte after the first line feed of `path` (its size when it has none). */
async function firstLineEnd(path: string): Promise<number> {
  let offset = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    const at = chunk.indexOf(10);
    if (at >= 0) return offset + at + 1;
    offset += chunk.length;
  }
  return offset;
}
