import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Who runs a job now: what a second run, `sluice status` and `sluice reset` show. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO time the run took the lock. */
  readonly startedAt: string;
  /** Unique per lock taken: tells this run's lock from an earlier one of the same pid. */
  readonly token: string;
}

/** A lock a run holds on its job state (or one partition's) for its whole life. */
export interface CheckpointLock {
  /** Lets go; idempotent. Never throws for a lock that is already gone. */
  release(): Promise<void>;
}

/** Options of {@link CheckpointStore.lock}. */
export interface LockOptions {
  /**
   * How long to keep trying while another holder has it (a distributed worker taking over a
   * partition from a killed one waits for its lease to run out). Default 0: fail at once.
   */
  readonly waitMs?: number;
  /** Ends the wait early (a worker told to stop): the store then throws instead of waiting on. */
  readonly signal?: AbortSignal;
}

/**
 * A store's pause between tries for a lock another run holds: `ms`, cut short when `signal` aborts —
 * then it throws, so a worker told to stop (SIGTERM) does not wait the other run out first.
 */
export async function pauseForLock(ms: number, location: string, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
  if (signal?.aborted) throw new Error(`stopped while waiting for the lock of ${location}, which another run holds`);
}

/** The holder of this process, made once per lock. */
export function lockHolder(): LockHolder {
  return { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomUUID() };
}

/** Another run holds the job state: the run that asked exits 2 with this message. */
export class CheckpointLockedError extends Error {
  constructor(
    /** The job state, as the store names it (`.sluice/checkpoints/hello.json`). */
    readonly location: string,
    readonly holder: LockHolder | undefined,
    /** What to do when the holder is gone and the lock stayed: a command or a sentence. */
    readonly howToClear: string,
  ) {
    super(
      `another run holds this job's state (${location}): ${describeHolder(holder)}; ` +
        `wait for it to finish, or, if that run is gone, ${howToClear}`,
    );
    this.name = 'CheckpointLockedError';
  }
}

/** `pid 4242 on host etl-1 since 2026-01-05T10:00:00.000Z`. */
export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'a run that left no details';
  return `pid ${holder.pid} on host ${holder.host} since ${holder.startedAt}`;
}

/** Whether a process of this host is alive (EPERM: alive, not ours to signal). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `holder` is certainly gone: only a holder of this host whose pid is dead. A lock taken
 * on another host is never assumed stale (its process cannot be seen from here).
 */
export function isStale(holder: LockHolder): boolean {
  return holder.host === hostname() && holder.pid !== process.pid && !processAlive(holder.pid);
}

/** Reads a holder stored as JSON (a lock file, a Redis value, a `sluice_locks` row); undefined when it is not one. */
export function parseHolder(text: string | null | undefined): LockHolder | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.startedAt === 'string') {
      return { pid: value.pid, host: value.host, startedAt: value.startedAt, token: String(value.token ?? '') };
    }
  } catch {
    // A torn or foreign file: no details.
  }
  return undefined;
}

/** A lock file whose writer died between creating and filling it is stale after this long. */
const TORN_MS = 10_000;

/**
 * A lock file (`<job>.lock` beside the checkpoint) made with O_EXCL, holding the holder as JSON.
 * A lock left by a dead process of this host is taken over; one from another host must be
 * deleted by hand (`rm <path>`) once its run is known to be gone.
 */
export class FileLock implements CheckpointLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly holder: LockHolder,
  ) {}

  static async acquire(path: string, location: string, holder: LockHolder = lockHolder(), o: LockOptions = {}): Promise<FileLock> {
    await mkdir(dirname(path), { recursive: true });
    const deadline = Date.now() + (o.waitMs ?? 0);
    for (;;) {
      try {
        const handle = await open(path, 'wx');
        try {
          await handle.writeFile(JSON.stringify(holder));
          await handle.sync();
        } finally {
          await handle.close();
        }
        return new FileLock(path, holder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = await FileLock.read(path);
      if (current.state === 'stale') {
        // Delete it only if it is still the same file content we judged (another run may have
        // taken it over meanwhile), then race for it again with O_EXCL.
        const again = await readFile(path, 'utf8').catch(() => undefined);
        if (again === current.text) await rm(path, { force: true });
        continue;
      }
      if (current.state === 'free') continue;
      if (Date.now() >= deadline) throw new CheckpointLockedError(location, current.holder, FileLock.howToClear(path, current.holder));
      await pauseForLock(200, location, o.signal);
    }
  }

  /** The lock file's holder and whether it still holds. */
  static async read(path: string): Promise<{ state: 'free' | 'held' | 'stale'; holder?: LockHolder; text?: string }> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
      throw error;
    }
    const holder = parseHolder(text);
    if (!holder) {
      // Created but never filled (its writer died at once), or not ours: stale once old enough.
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      return { state: age > TORN_MS ? 'stale' : 'held', text };
    }
    return { state: isStale(holder) ? 'stale' : 'held', holder, text };
  }

  static howToClear(path: string, holder: LockHolder | undefined): string {
    const where = holder && holder.host !== hostname() ? ` (check on host ${holder.host}: a lock from another host is never assumed stale)` : '';
    return `delete the lock file: rm ${path}${where}`;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const current = parseHolder(await readFile(this.path, 'utf8').catch(() => null));
    // Never delete a lock someone else took over (ours was judged stale by mistake).
    if (current?.token === this.holder.token) await rm(this.path, { force: true });
  }
}
