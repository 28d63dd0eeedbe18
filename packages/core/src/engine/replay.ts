import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { DeadLetterEntry, JobCounters, RunSummary } from '../events/types.js';
import type { JobPlan } from '../job/plan.js';
import type { RecordPosition, SluiceRecord } from '../plugin/types.js';
import type { EnginePage } from './pipeline.js';
import { RunFailure } from './pipeline.js';
import { RunConnections } from './connections.js';
import { CheckpointMismatchError, JobRun, openCheckpointStore, type RunOptions } from './run.js';

export interface ReplayOptions extends Pick<RunOptions, 'bus' | 'clock' | 'random' | 'signal' | 'container' | 'checkpointStores'> {
  /** The dead-letter file to replay; the job's own by default. */
  readonly deadLetterFile?: string;
}

export interface ReplayResult {
  readonly summary: RunSummary;
  /** Entries sent back in. */
  readonly replayed: number;
  /** Entries that failed again or could not be replayed (source parse errors), now the whole file. */
  readonly remaining: number;
  readonly deadLetterFile: string;
}

/**
 * Sends dead-lettered records back through the job, each from the step where it failed, appending
 * to the sinks' output; the dead-letter file is then replaced (atomically) by what failed again.
 * Records that never became records (unparseable source lines) stay in the file.
 */
export async function replayDeadLetters(plan: JobPlan, options: ReplayOptions = {}): Promise<ReplayResult> {
  const jobDeadLetter = plan.deadLetter.use === 'file' && typeof plan.deadLetter.config.path === 'string' ? resolve(plan.dir, plan.deadLetter.config.path) : undefined;
  const file = options.deadLetterFile ? resolve(options.deadLetterFile) : jobDeadLetter;
  if (!file) throw new RunFailure(`the job's deadLetter is not a file; name the file to replay with --dead-letter FILE`);
  const ownFile = file === jobDeadLetter;

  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, options.checkpointStores, connections);
  try {
    const checkpoint = await store.load();
    if (!checkpoint) {
      throw new RunFailure(
        `replay needs the job's checkpoint, to append to the sinks' output where the last run left it; ${store.location} has none` +
          (plan.checkpoint.store === 'none' ? ' (checkpoint.store: none keeps no checkpoint)' : ' (run the job first)'),
      );
    }
    if (checkpoint.fingerprint !== plan.fingerprint) throw new CheckpointMismatchError(store.location);

    const { replay, keep } = await readEntries(file);
    // What cannot be replayed goes into the new file first; new failures are appended after it.
    const temp = join(dirname(file), `.${Date.now()}-${process.pid}.replay.tmp`);
    const handle = await open(temp, 'w');
    try {
      if (keep.length) await handle.writeFile(keep.map((line) => `${line}\n`).join(''));
    } finally {
      await handle.close();
    }
    const keptSize = (await stat(temp)).size;

    const run = new JobRun(plan, {
      ...options,
      input: pagesOf(replay, plan.batch.size, plan.steps.length),
      sinkStates: checkpoint.sinks,
      deadLetterConfig: { path: temp, format: 'jsonl' },
      deadLetterState: { size: keptSize },
    });
    let summary: RunSummary;
    try {
      summary = await run.run();
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    if (summary.status !== 'done') {
      await rm(temp, { force: true });
      return { summary, replayed: replay.length, remaining: replay.length + keep.length, deadLetterFile: file };
    }
    const states = run.lastStates!;
    const r = summary.thisRun;
    const counters: JobCounters = {
      ...checkpoint.counters,
      written: checkpoint.counters.written + r.written,
      filtered: checkpoint.counters.filtered + r.filtered,
      skipped: checkpoint.counters.skipped + r.skipped,
      produced: checkpoint.counters.produced + r.produced,
      retries: checkpoint.counters.retries + r.retries,
      deadLettered: ownFile ? checkpoint.counters.deadLettered - replay.length + r.deadLettered : checkpoint.counters.deadLettered,
    };
    // Checkpoint first, then the file: a crash between them may replay a record twice, never lose one.
    await store.save({
      ...checkpoint,
      sinks: { ...checkpoint.sinks, ...states.sinks },
      deadLetter: ownFile ? states.deadLetter : checkpoint.deadLetter,
      counters,
      updatedAt: new Date().toISOString(),
    });
    await rename(temp, file);
    return { summary, replayed: replay.length, remaining: keep.length + r.deadLettered, deadLetterFile: file };
  } finally {
    await store.close?.();
    await connections.closeAll();
  }
}

async function readEntries(file: string): Promise<{ replay: DeadLetterEntry[]; keep: string[] }> {
  const replay: DeadLetterEntry[] = [];
  const keep: string[] = [];
  let lineNo = 0;
  try {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      lineNo++;
      if (!line.trim()) continue;
      let entry: DeadLetterEntry;
      try {
        entry = JSON.parse(line) as DeadLetterEntry;
      } catch {
        throw new RunFailure(`${file}:${lineNo}: not a dead-letter entry (invalid JSON)`);
      }
      if (entry.record && typeof entry.record === 'object' && typeof entry.stepIndex === 'number' && entry.stepIndex >= 0) replay.push(entry);
      else keep.push(line);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { replay, keep };
    throw error;
  }
  return { replay, keep };
}

async function* pagesOf(entries: DeadLetterEntry[], size: number, sinkIndex: number): AsyncGenerator<EnginePage> {
  for (let i = 0; i < entries.length; i += size) {
    const slice = entries.slice(i, i + size);
    yield {
      records: slice.map((e) => e.record as SluiceRecord),
      positions: slice.map((e) => e.position as RecordPosition),
      entry: slice.map((e) => Math.min(e.stepIndex, sinkIndex)),
      cursor: null,
    };
  }
}
