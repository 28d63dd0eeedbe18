// The crash-test hook (`sluice crash-test`, `crashTest` in `@sluice/core/testing`): kills this
// process with SIGKILL at a named point of the engine, caps how much the source reads, and keeps
// a journal of what it read, so the harness can compare a crashed and resumed run with an
// uninterrupted one. It is armed only by the harness: SLUICE_FAULTS must name a spec file the
// harness wrote for this one run, carrying the same random token. Otherwise `faults` is undefined
// and every call site in the engine is an optional call that does nothing.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { EnginePage } from './batch.js';

/** The environment variable the harness sets: `<token>:<absolute path of the spec file>`. */
export const FAULTS_ENV = 'SLUICE_FAULTS';

/** Where a crash-test run may kill itself. */
export const CRASH_POINTS = [
  'handed',
  'pipelined',
  'mid-write',
  'written',
  'between-sinks',
  'before-checkpoint',
  'after-checkpoint',
  'dead-letter',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** What the harness writes for one run (one process). */
export interface FaultSpec {
  /** 32 hex digits; must match the token in the environment variable. */
  readonly token: string;
  /** The run's number within its scenario (0 = the first run, 1 = its first resume, …); names journal files. */
  readonly run: number;
  /** Folder of the journal files: what the source read and where the run died. */
  readonly journal: string;
  /** Stop reading once the job has read this many records (whole pages; counted across resumes). */
  readonly records?: number;
  /**
   * Read in bursts of this many pages, each after a checkpoint was saved (or 2 s passed): a small
   * job then has checkpoints between its batches, and a sink still gets batches back to back.
   */
  readonly pace?: number;
  /**
   * Die the first time this process reaches `point` for batch `seq` or a later one (of sink `sink`,
   * when given) — with `afterCheckpoint`, only once a checkpoint stands behind it (this run saved
   * one, or resumed from one), so that the next run resumes rather than starts over.
   */
  readonly crash?: { readonly point: CrashPoint; readonly seq: number; readonly sink?: string; readonly afterCheckpoint?: boolean };
}

/** One line of a journal file. */
export type JournalLine =
  | { readonly part: string | null; readonly start: number | null }
  | { readonly part: string | null; readonly seq: number; readonly records: unknown[] }
  | { readonly crash: CrashPoint; readonly sink?: string; readonly seq?: number };

type Detail = { readonly sink?: string; readonly seq: number };

/** The armed hook. Every method is a no-op for points other than the armed one. */
export class FaultHook {
  private readonly file: string;
  /** Writes handed to each sink and not settled yet. */
  private readonly pending = new Map<string, number>();
  /** A checkpoint stands: this run saved one or resumed from one. */
  private checkpointed = false;
  /** Told when the next checkpoint is saved (the source's pacing waits for it). */
  private saved: Array<() => void> = [];

  constructor(private readonly spec: FaultSpec) {
    mkdirSync(spec.journal, { recursive: true });
    this.file = join(spec.journal, `${String(spec.run).padStart(3, '0')}-${process.pid}-${threadId}.jsonl`);
  }

  /** A named point (`before-checkpoint`, `after-checkpoint`). */
  at(point: CrashPoint, detail: Detail): void {
    if (point === 'after-checkpoint') {
      this.checkpointed = true;
      for (const tell of this.saved.splice(0)) tell();
    }
    const crash = this.spec.crash;
    if (!crash || crash.point !== point || detail.seq < crash.seq || (crash.sink !== undefined && crash.sink !== detail.sink)) return;
    if (crash.afterCheckpoint && !this.checkpointed) return;
    this.die(point, detail);
  }

  /** A sink was handed a batch: `handed` now, `pipelined` when another write of it is pending, `mid-write` a turn later, `written` when it returns. */
  writing(sink: string, seq: number, write: unknown): void {
    const settled = Promise.resolve(write);
    const count = (this.pending.get(sink) ?? 0) + 1;
    this.pending.set(sink, count);
    let done = false;
    const settle = () => {
      done = true;
      this.pending.set(sink, (this.pending.get(sink) ?? 1) - 1);
    };
    settled.then(() => {
      settle();
      this.at('written', { sink, seq });
    }, settle);
    this.at('handed', { sink, seq });
    if (count >= 2) this.at('pipelined', { sink, seq });
    if (this.spec.crash?.point === 'mid-write') setImmediate(() => done || this.at('mid-write', { sink, seq }));
  }

  /** The sinks of a fan-out took batch `seq`: `between-sinks` when one has finished it and another has not. */
  fanOut(seq: number, finishes: readonly Promise<unknown>[]): void {
    if (finishes.length < 2 || this.spec.crash?.point !== 'between-sinks') return;
    let finished = 0;
    for (const finish of finishes) {
      finish.then(
        () => ++finished === 1 && this.at('between-sinks', { seq }),
        () => undefined,
      );
    }
  }

  /** The dead-letter sink was handed batch `seq`'s dead letters: `dead-letter` a turn later, while it writes. */
  deadLetter(seq: number, write: unknown): void {
    if (this.spec.crash?.point !== 'dead-letter') return;
    let done = false;
    Promise.resolve(write).then(
      () => (done = true),
      () => (done = true),
    );
    setImmediate(() => done || this.at('dead-letter', { seq }));
  }

  /**
   * Wraps the source's pages: journals each page as it is read, and ends the source once the job
   * has read `records` (counted from `read`, what the checkpoint says was read before this run).
   */
  source(pages: AsyncIterable<EnginePage>, o: { readonly resumedAt: number | undefined; readonly firstSeq: number; readonly read: number; readonly partition: unknown }): AsyncIterable<EnginePage> {
    const part = o.partition === undefined ? null : JSON.stringify(o.partition);
    if (o.resumedAt !== undefined) this.checkpointed = true;
    this.journalLine({ part, start: o.resumedAt ?? null });
    const cap = this.spec.records;
    const pace = this.spec.pace;
    const line = (line: JournalLine) => this.journalLine(line);
    const nextCheckpoint = () => this.nextCheckpoint();
    return (async function* () {
      let seq = o.firstSeq;
      let read = o.read;
      let burst = 0;
      if (cap !== undefined && read >= cap) return;
      for await (const page of pages) {
        if (pace !== undefined && burst++ === pace) {
          await nextCheckpoint();
          burst = 1;
        }
        line({ part, seq: seq++, records: page.records });
        yield page;
        read += page.records.length + (page.errors?.length ?? 0);
        if (cap !== undefined && read >= cap) return;
      }
    })();
  }

  /** Resolves when the next checkpoint is saved, or after 2 s (a job that saves none). */
  private nextCheckpoint(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, 2000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.saved.push(done);
    });
  }

  private journalLine(line: JournalLine): void {
    appendFileSync(this.file, `${JSON.stringify(line, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }

  private die(point: CrashPoint, detail: Detail): never {
    this.journalLine({ crash: point, ...detail });
    process.kill(process.pid, 'SIGKILL');
    // The signal may reach another thread first: wait for it here, doing nothing.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
}

/** Reads `SLUICE_FAULTS`; undefined (the hook off) unless it names a spec file with the same token. */
export function armFaults(value: string | undefined): FaultHook | undefined {
  if (!value) return undefined;
  const match = /^([0-9a-f]{32}):(.+)$/.exec(value);
  let spec: FaultSpec | undefined;
  try {
    spec = match ? (JSON.parse(readFileSync(match[2]!, 'utf8')) as FaultSpec) : undefined;
  } catch {
    spec = undefined;
  }
  if (!spec || spec.token !== match![1]) {
    // A leftover variable from a crash test arms nothing: its spec file is gone with its run.
    process.stderr.write(`sluice: ${FAULTS_ENV} is set but names no crash-test run in progress; ignored\n`);
    return undefined;
  }
  return new FaultHook(spec);
}

/** The hook of this process: undefined unless a crash-test harness started it. */
export const faults: FaultHook | undefined = armFaults(process.env[FAULTS_ENV]);
