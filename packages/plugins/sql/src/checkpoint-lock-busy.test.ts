// The run lock on SQLite when another process holds the database's write lock (a run of the job
// stopped mid-commit): the second run must be refused as "held" (exit 2 naming the holder), not fail
// with SQLite's raw "database is locked" after the busy timeout. Seen once in test/run-lock.test.ts
// under a CPU hog; here the write lock is held on purpose, so the case always happens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointLockedError, type ConnectionConfig } from '@sluice/core';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { SqlLock } from './checkpoint-lock.js';
import { openConnection } from './connection.js';

const holder = (n: number) => ({ pid: 1000 + n, host: 'host-a', startedAt: new Date().toISOString(), token: `token-${n}` });

it('SQLite: a lock asked for while another process holds the write lock is refused as held, naming the holder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-busy-'));
  const file = join(dir, 'state.db');
  const opened = await openConnection('db', { client: 'better-sqlite3', url: file } as ConnectionConfig, 1, dir);
  const first = await SqlLock.acquire(opened.value, 'job', file, holder(1));
  const other = new Database(file);
  other.exec('begin immediate');
  try {
    const refused = await SqlLock.acquire(opened.value, 'job', file, holder(2)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused, String(refused)).toBeInstanceOf(CheckpointLockedError);
    expect((refused as CheckpointLockedError).holder).toMatchObject({ pid: 1001, host: 'host-a' });
  } finally {
    other.exec('rollback');
    other.close();
    await first.release();
    await opened.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
