import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SqlConnection } from './connection.js';
import type { SqliteJob, SqliteOutcome } from './sqlite-batch.js';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.js';

/**
 * The main thread's end of a SQLite writer thread: one per connection (one writer connection per
 * database file, as SQLite allows one writer at a time anyway), started on the first batch, ended
 * when the connection closes. better-sqlite3 is synchronous: on the main thread SQLite's work
 * (binding, the B-tree, the fsync of each COMMIT) ran serially with CSV parsing and the engine; on
 * its own thread it overlaps them.
 */
export class SqliteThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve(o: SqliteOutcome): void; reject(e: Error): void }>();
  private exited: Error | undefined;

  constructor(filename: string) {
    this.worker = new Worker(workerFile(), { workerData: { filename } });
    // A run that ends without closing its connection (a failure path) must not hang on the thread.
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiter?.resolve(reply.outcome);
    });
    this.worker.on('error', (error) => this.fail(new Error(`sql: the SQLite writer thread failed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new Error(`sql: the SQLite writer thread ended (exit code ${code})`)));
  }

  private fail(error: Error): void {
    this.exited ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(this.exited);
    this.waiting.clear();
  }

  /** Runs one batch transaction on the thread; batches run in the order they are sent. */
  run(job: SqliteJob): Promise<SqliteOutcome> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, job } satisfies WorkerRequest);
    });
  }

  /** Closes the thread's connection (after the batches sent before) and waits for the thread to end. */
  async close(): Promise<void> {
    if (this.exited) return;
    const ended = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ close: true } satisfies WorkerRequest);
    await ended;
  }
}

/**
 * The compiled worker beside this module; when this module runs from its TypeScript source (the
 * plugin's in-process tests), the build's copy (`tsc -b` first).
 */
function workerFile(): string {
  const here = fileURLToPath(new URL('./sqlite-worker.js', import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL('../dist/sqlite-worker.js', import.meta.url));
}

const threads = new WeakMap<SqlConnection, SqliteThread>();

/** The database file of a better-sqlite3 connection (`:memory:` for an in-memory one). */
export function sqliteFilename(conn: SqlConnection): string {
  const config = (conn.knex.client as { config?: { connection?: { filename?: unknown } } }).config;
  const filename = config?.connection?.filename;
  return typeof filename === 'string' ? filename : ':memory:';
}

/**
 * The writer thread of `conn`, or undefined for an in-memory database (another connection would
 * see another database: such writes stay on the pool's connection).
 */
export function sqliteThreadOf(conn: SqlConnection): SqliteThread | undefined {
  const filename = sqliteFilename(conn);
  if (filename === ':memory:' || filename === '') return undefined;
  let thread = threads.get(conn);
  if (!thread) {
    const started = new SqliteThread(filename);
    threads.set(conn, (thread = started));
    conn.onClose(() => started.close());
  }
  return thread;
}
