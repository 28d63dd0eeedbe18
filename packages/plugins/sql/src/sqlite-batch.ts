import { classify, describeError } from './errors.js';

/**
 * One SQLite batch transaction as plain data: what the SQLite writer hands its writer thread (or
 * runs in place on an in-memory database). Rows travel as one flat array of bound values per part,
 * not as records: a structured clone of a flat array of primitives is cheap, and the thread needs
 * no knowledge of records, columns or kinds.
 */
export interface SqliteJob {
  readonly before: readonly SqliteStatement[];
  readonly parts: readonly SqlitePart[];
  /** Run only when no row was refused (else the writer resends the batch without the refused rows). */
  readonly after: readonly SqliteStatement[];
}

export interface SqliteStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** Must change exactly one row, else the transaction rolls back ({@link SqliteOutcome} `fence`). */
  readonly fenced?: boolean;
}

/** Rows of one shape: `head + tuple × n (joined by ', ') + tail` inserts n of them. */
export interface SqlitePart {
  readonly head: string;
  readonly tuple: string;
  readonly tail: string;
  /** Values per row. */
  readonly width: number;
  /**
   * The rows' values, `ROWS_PER_STATEMENT` rows to a chunk (the last may hold fewer): row r's
   * values are `chunks[c][i * width … (i + 1) * width - 1]` with c, i = r ÷ and mod
   * `ROWS_PER_STATEMENT`. Chunks, not one array: an array of a whole batch's values is a large
   * object, freed only by a full collection, on both threads — they grew the peak RSS.
   */
  readonly chunks: ReadonlyArray<readonly unknown[]>;
}

/** A statement's refusal of one row: the part, the row in it, SQLite's words. */
export interface SqliteRefusal {
  readonly part: number;
  readonly row: number;
  readonly message: string;
}

/** What an error looks like once it has crossed a thread: enough for `classify` and the message. */
export interface PlainError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
}

export type SqliteOutcome =
  | { readonly ok: true }
  /** Rows SQLite refused; the transaction was rolled back. */
  | { readonly refused: readonly SqliteRefusal[] }
  /** `after[fence]` changed no row or several; rolled back. */
  | { readonly fence: number }
  /** Anything else; rolled back. */
  | { readonly error: PlainError };

/**
 * Rows per INSERT statement (SQLite binds up to 32,766 values a statement). 25, not 100: SQLite's
 * CPU per row was lower with the shorter statements (1M-row upsert, writer thread 1.23 → 1.17 s:
 * bench/results/sqlite-2026-12-02.md); one row a statement cost ~1.2× of 100 rows.
 */
export const ROWS_PER_STATEMENT = 25;

interface Statement {
  run(params: readonly unknown[]): { changes: number };
}

export interface SqliteDatabase {
  prepare(sql: string): Statement;
  readonly inTransaction: boolean;
}

/** Prepared statements of one connection, by SQL text (a plan's statements repeat batch after batch). */
export class StatementCache {
  private readonly cache = new Map<string, Statement>();
  /** INSERTs by shape (head and tail) and row count. */
  private readonly inserts = new Map<string, Map<number, Statement>>();

  constructor(private readonly db: SqliteDatabase) {}

  get(sql: string): Statement {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      // Markers and rejects statements differ by row count: bound the cache, do not grow it forever.
      if (this.cache.size > 256) this.cache.clear();
      this.cache.set(sql, statement);
    }
    return statement;
  }

  /** The INSERT of `rows` rows of `part` (built once per shape and size, not per statement run). */
  insert(part: SqlitePart, rows: number): Statement {
    const shape = part.head + part.tail;
    let sizes = this.inserts.get(shape);
    if (!sizes) {
      if (this.inserts.size > 64) this.inserts.clear();
      this.inserts.set(shape, (sizes = new Map()));
    }
    let statement = sizes.get(rows);
    if (!statement) {
      statement = this.db.prepare(`${part.head}${rows === 1 ? part.tuple : new Array<string>(rows).fill(part.tuple).join(', ')}${part.tail}`);
      sizes.set(rows, statement);
    }
    return statement;
  }
}

export function plainError(error: unknown): PlainError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: error instanceof Error ? error.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

/** The error again on this side of the thread: its class (TypeError: a value better-sqlite3 cannot bind), name and code. */
export function revive(plain: PlainError): Error {
  const error = plain.name === 'TypeError' ? new TypeError(plain.message) : new Error(plain.message);
  if (plain.name !== 'TypeError' && plain.name !== 'Error') error.name = plain.name;
  if (plain.code !== undefined) (error as Error & { code?: string }).code = plain.code;
  return error;
}

/**
 * Runs `job` in one `BEGIN IMMEDIATE` transaction. A statement of many rows the data is refused
 * by is undone alone (SQLite undoes the statement, the transaction goes on) and its rows are
 * written one by one, so that every refused row is found; if any was, the whole transaction rolls
 * back and the refusals are returned, so that the caller can compute the marker statements that
 * depend on them and send the batch again without those rows — never a round trip to the caller
 * while the write lock is held (the caller's thread may itself be waiting on that lock).
 */
export function runSqliteJob(db: SqliteDatabase, statements: StatementCache, job: SqliteJob): SqliteOutcome {
  // Prepared statements, as better-sqlite3's own transaction() uses, not exec(): one code path for
  // every statement of a batch (test/support/sqlite-commit-kill.cjs watches them to die after a COMMIT).
  const control = (sql: 'BEGIN IMMEDIATE' | 'COMMIT' | 'ROLLBACK') => statements.get(sql).run([]);
  try {
    control('BEGIN IMMEDIATE');
  } catch (error) {
    return { error: plainError(error) };
  }
  try {
    for (const s of job.before) statements.get(s.sql).run(s.params);
    const refused: SqliteRefusal[] = [];
    for (let p = 0; p < job.parts.length; p++) insertPart(statements, job.parts[p]!, p, refused);
    if (refused.length > 0) {
      control('ROLLBACK');
      return { refused };
    }
    for (let i = 0; i < job.after.length; i++) {
      const s = job.after[i]!;
      const done = statements.get(s.sql).run(s.params);
      if (s.fenced && done.changes !== 1) {
        control('ROLLBACK');
        return { fence: i };
      }
    }
    control('COMMIT');
    return { ok: true };
  } catch (error) {
    try {
      if (db.inTransaction) control('ROLLBACK');
    } catch {
      // The connection is broken; the error below says why.
    }
    return { error: plainError(error) };
  }
}

/** The part's rows, a chunk to a statement; a refused statement's rows one by one. */
function insertPart(statements: StatementCache, part: SqlitePart, p: number, refused: SqliteRefusal[]): void {
  const { width } = part;
  // Rows without columns: the statement for one such row, for SQLite's own refusal of it.
  if (width === 0) {
    if (part.chunks.length) statements.insert(part, 1).run([]);
    return;
  }
  let first = 0;
  for (const chunk of part.chunks) {
    const n = chunk.length / width;
    if (n === 0) continue;
    try {
      statements.insert(part, n).run(chunk);
    } catch (error) {
      if (classify(error) !== 'data') throw error;
      const one = statements.insert(part, 1);
      for (let i = 0; i < n; i++) {
        try {
          one.run(chunk.slice(i * width, (i + 1) * width));
        } catch (rowError) {
          if (classify(rowError) !== 'data') throw rowError;
          refused.push({ part: p, row: first + i, message: describeError(rowError) });
        }
      }
    }
    first += n;
  }
}
