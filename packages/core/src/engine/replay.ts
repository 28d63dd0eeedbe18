import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { lockHolder } from '../checkpoint/lock.js';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { StartupRefusal } from '../errors/index.js';
import { EventBus } from '../events/bus.js';
import type { DeadLetterEntry, JobCounters, RunSummary } from '../events/types.js';
import type { JobPlan } from '../job/plan.js';
import type { RecordPosition, SluiceRecord } from '../plugin/types.js';
import type { EnginePage } from './batch.js';
import { RunConnections } from './connections.js';
import { JobRun, openCheckpointStore, type RunOptions } from './run.js';

export interface ReplayOptions extends Pick<RunOptions, 'bus' | 'clock' | 'random' | 'signal' | 'container' | 'checkpointStores'> {
  /** The dead-letter file to replay; the job's own by default. */
  readonly deadLetterFile?: string;
  /** Told the run that sends the records back in, once it is made (for its progress). */
  readonly started?: (run: JobRun) => void;
}

export interface ReplayResult {
  readonly summary: RunSummary;
  /** Records sent back in (a record several sinks refused has an entry per sink, and is one record). */
  readonly replayed: number;
  /** Of those, the records that failed again (they are back in the file). */
  readonly failedAgain: number;
  /** Entries the file holds now: what failed again, and what cannot be replayed. */
  readonly remaining: number;
  /** Entries that cannot be replayed (input that never became a record), kept as they were. */
  readonly unreplayable: number;
  readonly deadLetterFile: string;
}

/** Replay cannot start: nothing was run or changed. */
export class ReplayRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayRefusedError';
  }
}

/** The new dead-letter file, written beside the old one and renamed over it. */
const tempOf = (file: string) => `${file}.replay.tmp`;

/**
 * Sends dead-lettered records back through the job as it is now, each from the step (by id) where
 * it failed, appending to the sinks' output; the dead-letter file is then replaced by what failed
 * again. Records that never became records (unparseable source lines) stay in the file.
 *
 * Exactly once, also across a crash: the sinks start from the checkpoint's states (a file sink cuts
 * back to its checkpointed size), so a replay that dies midway is redone whole, its batches numbered
 * as before (a sql sink's marker skips those it committed). Until then the checkpoint notes it and
 * no run may write (`Checkpoint.replay.writing`). The checkpoint is
 * saved with the sinks' new states and a note of the pending file swap, then the new dead-letter
 * file is renamed into place; a crash between the two is finished by the next run or replay
 * (`finishPendingReplay`) instead of replaying again.
 */
export async function replayDeadLetters(plan: JobPlan, options: ReplayOptions = {}): Promise<ReplayResult> {
  const jobDeadLetter = plan.deadLetter.use === 'file' && typeof plan.deadLetter.config.path === 'string' ? resolve(plan.dir, plan.deadLetter.config.path) : undefined;
  const file = options.deadLetterFile ? resolve(options.deadLetterFile) : jobDeadLetter;
  if (!file) throw new ReplayRefusedError(`the job's deadLetter is not a file; name the file to replay with --dead-letter FILE`);
  const ownFile = file === jobDeadLetter;

  const connections = new RunConnections(plan.connections);
  const store = await openCheckpointStore(plan, options.checkpointStores, connections);
  // One run at a time: the replay holds the job's lock from reading the checkpoint to saving it.
  const lock = store.lock ? await store.lock(lockHolder(), { waitMs: 0 }) : undefined;
  try {
    const loaded = await store.load();
    if (!loaded) {
      throw new ReplayRefusedError(
        `replay needs the job's checkpoint, to append to the sinks' output where the last run left it; ${store.location} has none` +
          (plan.checkpoint.store === 'none' ? ' (checkpoint.store: none keeps no checkpoint)' : ' (run the job first)'),
      );
    }
    // The job may have changed since (that is the point of replaying): the entries name their step by id.
    const checkpoint = loaded.replay?.writing ? loaded : await finishPendingReplay(store, loaded);
    // Only dead letters the checkpoint counts: a crashed run's later ones are redone by its resume.
    const committed = ownFile ? sizeOf(checkpoint.deadLetter) : undefined;
    const { replay: deadLetters, keep, digest } = await readEntries(file, committed);
    const replay = replayRecords(plan, deadLetters, file);

    // Batches numbered after the checkpoint's, the same way on every try: a sql sink's marker then
    // skips exactly the replayed batches a killed replay had committed already.
    const writing = { firstSeq: checkpoint.seq + 1, batchSize: checkpoint.batchSize ?? plan.batch.size, digest };
    const interrupted = checkpoint.replay?.writing;
    if (interrupted && (checkpoint.replay!.file !== file || interrupted.digest !== digest)) {
      throw new ReplayRefusedError(
        `a replay of ${checkpoint.replay!.file} was interrupted before it finished, and its sinks may hold part of it; ` +
          `replay that file again, unchanged, to finish it (or start over with sluice run --fresh)`,
      );
    }
    const { firstSeq, batchSize } = interrupted ?? writing;
    const temp = tempOf(file);
    if (replay.length > 0 && !interrupted) {
      // From the first write on, only this replay may write next (see Checkpoint.replay).
      await store.save({ ...checkpoint, replay: { file, temp, writing }, updatedAt: new Date().toISOString() });
    }
    const kept = keep.map((line) => `${line}\n`).join('');
    await writeDurably(temp, kept);
    const batches = Math.ceil(replay.length / batchSize);
    const bus = options.bus ?? new EventBus();
    const run = new JobRun(plan, {
      ...options,
      bus,
      input: pagesOf(replay, batchSize),
      firstSeq,
      sinkStates: checkpoint.sinks,
      deadLetterConfig: { path: temp, format: 'jsonl' },
      deadLetterState: { size: Buffer.byteLength(kept) },
    });
    options.started?.(run);
    let summary: RunSummary;
    try {
      summary = await run.run();
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const failedAgain = summary.thisRun.deadLettered;
    // Records the checkpoint counts as dead letters, and those it counts as skipped (a fan-out
    // whose first refusing sink skips them; another sink's dead letter names them uncounted).
    const orphans = replay.filter((r) => !r.counted).length;
    const counted = replay.length - orphans;
    if (summary.status !== 'done') {
      await rm(temp, { force: true });
      return { summary, replayed: replay.length, failedAgain, remaining: deadLetters.length + keep.length, unreplayable: keep.length, deadLetterFile: file };
    }
    const entries = await countLines(temp);
    await syncFile(temp);
    const states = run.lastStates!;
    const r = summary.thisRun;
    const counters: JobCounters = {
      ...checkpoint.counters,
      written: checkpoint.counters.written + r.written,
      filtered: checkpoint.counters.filtered + r.filtered,
      skipped: checkpoint.counters.skipped + r.skipped - (ownFile ? orphans : 0),
      produced: checkpoint.counters.produced + r.produced,
      retries: checkpoint.counters.retries + r.retries,
      deadLettered: ownFile ? checkpoint.counters.deadLettered - counted + r.deadLettered : checkpoint.counters.deadLettered,
    };
    // The sinks' new output and the file swap are committed together; the swap itself follows.
    const saved: Checkpoint = {
      ...checkpoint,
      seq: firstSeq - 1 + batches,
      sinks: { ...checkpoint.sinks, ...states.sinks },
      deadLetter: ownFile ? states.deadLetter : checkpoint.deadLetter,
      counters,
      replay: { file, temp },
      updatedAt: new Date().toISOString(),
    };
    await store.save(saved);
    bus.emit({ type: 'checkpoint', seq: saved.seq, cursor: saved.cursor, counters: saved.counters });
    await finishPendingReplay(store, saved);
    return { summary, replayed: replay.length, failedAgain, remaining: entries, unreplayable: keep.length, deadLetterFile: file };
  } finally {
    await lock?.release();
    await store.close?.();
    await connections.closeAll();
  }
}

/**
 * Completes a replay that saved its checkpoint but may not have swapped the dead-letter file in
 * (a crash between the two): renames the new file into place if it is still there, then forgets
 * the note. Called before a run or replay uses the checkpoint; refuses a run
 * (`StartupRefusal`) while a replay that started writing has not finished.
 */
export async function finishPendingReplay(store: CheckpointStore, checkpoint: Checkpoint): Promise<Checkpoint> {
  if (!checkpoint.replay) return checkpoint;
  if (checkpoint.replay.writing) {
    // Its sinks may hold batches numbered where this run's would go (a sql sink would skip them).
    throw new StartupRefusal(
      `a replay of this job was interrupted before it finished (${store.location}); run sluice replay again to finish it, or start over with --fresh`,
    );
  }
  try {
    await rename(checkpoint.replay.temp, checkpoint.replay.file);
  } catch (error) {
    // Already renamed before the crash.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { replay: _done, ...rest } = checkpoint;
  const finished: Checkpoint = { ...rest, updatedAt: new Date().toISOString() };
  await store.save(finished);
  return finished;
}

/** Where an entry goes back in: the index of its transform, or past the transforms for a sink (undefined: no such step). */
function entryPoint(plan: JobPlan, e: Pick<DeadLetterEntry, 'kind' | 'step'>): number | undefined {
  if (e.kind === 'sink') return plan.sinks.some((step) => step.id === e.step) ? plan.steps.length : undefined;
  const index = plan.steps.findIndex((step) => step.id === e.step);
  return index === -1 ? undefined : index;
}

/**
 * The step ids of the job's own dead-letter file that the job has no step for, with their counts
 * (`sluice validate` warns: replay would refuse them). Reads at most the first `maxBytes`.
 */
export async function deadLettersOfMissingSteps(plan: JobPlan, maxBytes = 16 * 1024 * 1024): Promise<{ file: string; steps: Map<string, number> } | undefined> {
  const file = plan.deadLetter.use === 'file' && typeof plan.deadLetter.config.path === 'string' ? resolve(plan.dir, plan.deadLetter.config.path) : undefined;
  if (!file) return undefined;
  const steps = new Map<string, number>();
  try {
    for await (const line of createInterface({ input: createReadStream(file, { end: maxBytes - 1 }), crlfDelay: Infinity })) {
      let e: DeadLetterEntry;
      try {
        e = JSON.parse(line) as DeadLetterEntry;
      } catch {
        continue;
      }
      if (e.record && e.kind !== 'source' && typeof e.step === 'string' && entryPoint(plan, e) === undefined) steps.set(e.step, (steps.get(e.step) ?? 0) + 1);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return steps.size > 0 ? { file, steps } : undefined;
}

/** One record to send back in, and where (`Batch.entry`): a transform, or the sinks that refused it. */
interface ReplayRecord {
  readonly entry: DeadLetterEntry;
  point: number;
  /** Whether the checkpoint counts it as a dead letter (else as skipped: see `DeadLetterEntry.counted`). */
  readonly counted: boolean;
}

/**
 * The records to replay, each with its entry point; refuses the whole replay when an entry names a
 * step the job lacks. A record several sinks of a fan-out refused has an entry per sink: they become
 * one record that goes back to exactly those sinks (the others wrote it already).
 */
function replayRecords(plan: JobPlan, entries: readonly DeadLetterEntry[], file: string): ReplayRecord[] {
  const unknown = new Map<string, number>();
  const sinkIndex = new Map(plan.sinks.map((sink, k) => [sink.id, k]));
  if (plan.sinks.length > 52) throw new ReplayRefusedError(`replay sends records back to up to 52 sinks; this job has ${plan.sinks.length}`);
  const records: ReplayRecord[] = [];
  /** Records refused by sinks, by batch, position and content: where another sink's entry of the same record joins. */
  const bySink = new Map<string, ReplayRecord[]>();
  for (const e of entries) {
    const index = entryPoint(plan, e);
    if (index === undefined) {
      unknown.set(e.step, (unknown.get(e.step) ?? 0) + 1);
      continue;
    }
    if (e.kind !== 'sink') {
      records.push({ entry: e, point: index, counted: true });
      continue;
    }
    const bit = 2 ** sinkIndex.get(e.step)!;
    const key = `${e.batch}\u0000${JSON.stringify(e.position)}\u0000${JSON.stringify(e.record)}`;
    const same = bySink.get(key) ?? [];
    // The counting entry comes first in the file; later ones of other sinks join it.
    const joined = e.counted === false ? same.find((r) => Math.floor((r.point - index) / bit) % 2 === 0) : undefined;
    if (joined) {
      joined.point += bit;
      continue;
    }
    const record: ReplayRecord = { entry: e, point: index + bit, counted: e.counted !== false };
    records.push(record);
    same.push(record);
    bySink.set(key, same);
  }
  if (unknown.size > 0) {
    const named = [...unknown].map(([step, n]) => `'${step}' (${n} entr${n === 1 ? 'y' : 'ies'})`).join(', ');
    const known = [...plan.steps.map((s) => s.id), ...plan.sinks.map((s) => s.id)].join(', ');
    throw new ReplayRefusedError(
      `${file} holds dead letters of ${named}, which this job has no step for (its steps: ${known}); ` +
        'give the step back its id, or replay a file without those entries (--dead-letter FILE)',
    );
  }
  return records;
}

function sizeOf(state: unknown): number | undefined {
  const size = (state as { size?: unknown } | undefined)?.size;
  return typeof size === 'number' ? size : undefined;
}

async function readEntries(file: string, bytes: number | undefined): Promise<{ replay: DeadLetterEntry[]; keep: string[]; digest: string }> {
  const replay: DeadLetterEntry[] = [];
  const keep: string[] = [];
  const hash = createHash('sha256');
  const digest = () => hash.digest('hex');
  if (bytes === 0) return { replay, keep, digest: digest() };
  let lineNo = 0;
  try {
    const input = createReadStream(file, bytes === undefined ? {} : { end: bytes - 1 });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      hash.update(line).update('\n');
      if (!line.trim()) continue;
      let entry: DeadLetterEntry;
      try {
        entry = JSON.parse(line) as DeadLetterEntry;
      } catch {
        throw new ReplayRefusedError(`${file}:${lineNo}: not a dead-letter entry (invalid JSON)`);
      }
      if (entry.record && typeof entry.record === 'object' && entry.kind !== 'source' && typeof entry.step === 'string') replay.push(entry);
      else keep.push(line);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { replay, keep, digest: digest() };
    throw error;
  }
  return { replay, keep, digest: digest() };
}

async function writeDurably(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) if (line.trim()) n++;
  return n;
}

async function* pagesOf(records: ReplayRecord[], size: number): AsyncGenerator<EnginePage> {
  for (let i = 0; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    yield {
      records: slice.map((r) => r.entry.record as SluiceRecord),
      positions: slice.map((r) => r.entry.position as RecordPosition),
      entry: slice.map((r) => r.point),
      cursor: null,
    };
  }
}
