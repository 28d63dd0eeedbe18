// The SQLite writer thread (see sqlite-thread.ts): its own connection to the job's database file,
// running the batch transactions it is sent, one after another, while the main thread parses the
// next batches. Synchronous better-sqlite3 calls here block only this thread.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { plainError, runSqliteJob, StatementCache, type SqliteDatabase, type SqliteJob, type SqliteOutcome } from './sqlite-batch.js';
import { sqlitePragmas } from './sqlite-pragmas.js';

/** A request of the main thread: a batch to run (by id), or the end. */
export type WorkerRequest = { readonly id: number; readonly job: SqliteJob } | { readonly close: true };
/** The answer to request `id`. */
export interface WorkerReply {
  readonly id: number;
  readonly outcome: SqliteOutcome;
}

const { filename } = workerData as { filename: string };
let db: Database.Database | undefined;
let statements: StatementCache | undefined;

/** Opened on the first batch, so that a failure to open is that batch's error, with SQLite's words. */
function open(): StatementCache {
  if (!statements) {
    db = new Database(filename);
    sqlitePragmas(db, filename);
    statements = new StatementCache(db as unknown as SqliteDatabase);
  }
  return statements;
}

parentPort!.on('message', (request: WorkerRequest) => {
  if ('close' in request) {
    db?.close();
    parentPort!.close();
    return;
  }
  let outcome: SqliteOutcome;
  try {
    const cache = open();
    outcome = runSqliteJob(db as unknown as SqliteDatabase, cache, request.job);
  } catch (error) {
    outcome = { error: plainError(error) };
  }
  parentPort!.postMessage({ id: request.id, outcome } satisfies WorkerReply);
});
