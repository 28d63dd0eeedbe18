/** The part of a better-sqlite3 connection this module sets up. */
interface PragmaTarget {
  pragma(p: string): unknown;
  defaultSafeIntegers(on: boolean): unknown;
}

/**
 * The settings of every SQLite connection the plugin opens — knex's pool connection and the
 * writer thread's own (sqlite-thread.ts) — so that both read, wait and commit alike.
 */
export function sqlitePragmas(db: PragmaTarget, filename: string): void {
  // Integers come back as BigInt, so none beyond 2^53 is rounded; records get numbers while exact.
  db.defaultSafeIntegers(true);
  // WAL: readers (the checkpoint store, a `sluice status`) do not block the writer, nor it them.
  if (filename !== ':memory:') db.pragma('journal_mode = WAL');
  // Two connections (the pool's and the writer thread's) take turns on the write lock: wait, do not fail.
  db.pragma('busy_timeout = 5000');
  // Every COMMIT is on disk before the checkpoint moves past it.
  db.pragma('synchronous = FULL');
}
