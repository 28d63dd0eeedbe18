import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { FileLedger, type Ledger } from './ledger.js';
import { FileLock, type CheckpointLock, type LockHolder, type LockOptions } from './lock.js';
import type { Checkpoint, CheckpointStore } from './types.js';

/** Checkpoints as JSON files: `<folder>/<job>.json`, written to a temp file, fsynced, renamed. */
export class FileCheckpointStore implements CheckpointStore {
  readonly location: string;
  private dirReady = false;

  constructor(
    private readonly folder: string,
    private readonly job: string,
  ) {
    this.location = join(folder, `${job}.json`);
  }

  /** `<folder>/<job>.<name>.ledger`: append-only, fsynced, beside the checkpoint. */
  ledger(name: string): Promise<Ledger> {
    return FileLedger.open(join(this.folder, `${this.job}.${name}.ledger`));
  }

  async clearLedgers(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(`${this.job}.`) && name.endsWith('.ledger')) await FileLedger.remove(join(this.folder, name));
    }
  }

  /** `<folder>/<job>.lock`: the pid, host and start of the run that holds the job. */
  get lockPath(): string {
    return join(this.folder, `${this.job}.lock`);
  }

  lock(holder: LockHolder, options?: LockOptions): Promise<CheckpointLock> {
    return FileLock.acquire(this.lockPath, this.location, holder, options);
  }

  async lockHolder(): Promise<LockHolder | undefined> {
    const current = await FileLock.read(this.lockPath);
    return current.state === 'held' ? (current.holder ?? { pid: 0, host: '?', startedAt: '?', token: '' }) : undefined;
  }

  async load(): Promise<Checkpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return JSON.parse(text) as Checkpoint;
    } catch (error) {
      throw new Error(`checkpoint ${this.location} is not valid JSON; delete it or run with --fresh`, { cause: error });
    }
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const folder = dirname(this.location);
    if (!this.dirReady) {
      await mkdir(folder, { recursive: true });
      this.dirReady = true;
    }
    const temp = `${this.location}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(checkpoint));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.location);
    // The rename itself must survive a crash: sync the folder.
    const dir = await open(folder, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async clear(): Promise<void> {
    await rm(this.location, { force: true });
    await rm(`${this.location}.tmp`, { force: true });
  }
}

/** `checkpoint.store: none`: nothing is remembered; every run starts from the beginning. */
export class NoCheckpointStore implements CheckpointStore {
  readonly location = '(none)';
  async load(): Promise<undefined> {
    return undefined;
  }
  async save(): Promise<void> {}
  async clear(): Promise<void> {}
}
