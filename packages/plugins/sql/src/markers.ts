import type { Rejection } from './batch.js';
import type { SqlConnection } from './connection.js';
import type { DialectName } from './dialect.js';
import { rowsOf } from './introspect.js';
import { MarkerFenceError, markerStatements, native, nowValue, readMarker, TABLES, type Statement } from './system.js';

/** Records `first` … `end - 1` of a batch's whole write (end exclusive). */
type Range = readonly [first: number, end: number];

/** What one write of the sql sink does in exactly-once mode, given what earlier writes committed. */
export type MarkedWrite =
  /** Everything asked for is committed already: skip it, reporting what it refused then. */
  | { readonly kind: 'done'; readonly rejected: Rejection[] }
  /** A whole batch nothing of which is committed: its rows and the batch's marker in one transaction. */
  | { readonly kind: 'whole' }
  /**
   * A part of a halved batch, or a batch some parts of which a run that died committed: only the
   * records `todo` (indices of this write, ascending) are written, with their ranges; `rejected`
   * are the refusals of the records committed earlier.
   */
  | { readonly kind: 'part'; readonly todo: number[]; readonly rejected: Rejection[] };

/**
 * What the sql sink knows, in exactly-once mode, of what this job committed to its table.
 *
 * - `sluice_sink_markers`: the seq of the last batch committed whole (or of a batch committed after
 *   every part of the ones before it): a batch at or below it is skipped.
 * - `sluice_sink_parts`: when the engine halves a batch the sink refused (`WriteInfo.part`), each
 *   part commits with a row naming the range of the batch's whole write it holds — not with the
 *   marker, which would make the batch's other parts look done. A write of a batch (whole or a
 *   part) that overlaps committed ranges writes only the records outside them. So a resume, which
 *   writes the batch whole again, writes exactly what no part committed: the records of a part
 *   that failed (they are refused again, or written if they now pass) and of parts not reached.
 *   Ranges are kept until a run starts from a checkpoint past their batch (or `--fresh`).
 * - `sluice_sink_rejects`: the records a committed write refused, by their index in the batch's
 *   whole write, so a skipped batch or part reports them again.
 */
export class Markers {
  /** The last seq committed whole (or passed); undefined: none. */
  marker: number | undefined;
  private readonly ranges = new Map<number, Range[]>();
  private rejects = new Map<number, Rejection[]>();

  constructor(
    private readonly conn: SqlConnection,
    private readonly job: string,
    private readonly sink: string,
  ) {}

  /** Reads what the runs before committed after the checkpoint (`afterSeq`). */
  async start(afterSeq: number): Promise<void> {
    // Ranges of batches the checkpoint passed are never read again. Deleted here, once a run, not
    // with each checkpoint save: that would cost every save a statement for rows that are rare.
    if (afterSeq >= 0) await this.conn.knex.raw(`delete from ${TABLES.parts} where job = ? and sink = ? and seq <= ?`, [this.job, this.sink, afterSeq]);
    this.marker = await readMarker(this.conn, this.job, this.sink);
    for (const [seq, ranges] of await this.readRanges('>', afterSeq)) this.ranges.set(seq, ranges);
    this.rejects = await this.readRejects('>', afterSeq);
  }

  /** Whether a run of this job committed anything to the table (a resume, not a fresh start). */
  get written(): boolean {
    return this.marker !== undefined || this.ranges.size > 0;
  }

  /** After a failed attempt (it may have committed: a lost COMMIT reply), what the database says of batch `seq`. */
  async refresh(seq: number): Promise<void> {
    this.marker = await readMarker(this.conn, this.job, this.sink);
    const ranges = (await this.readRanges('=', seq)).get(seq);
    if (ranges) this.ranges.set(seq, ranges);
    else this.ranges.delete(seq);
    this.rejects.set(seq, (await this.readRejects('=', seq)).get(seq) ?? []);
  }

  /** What a write of `count` records at `offset` of batch `seq`'s whole write must do. */
  plan(seq: number, offset: number, count: number, whole: boolean): MarkedWrite {
    const done = this.ranges.get(seq);
    if (!done) {
      if (this.marker !== undefined && seq <= this.marker) return { kind: 'done', rejected: this.rejectsIn(seq, offset, count, () => true) };
      return whole ? { kind: 'whole' } : { kind: 'part', todo: Array.from({ length: count }, (_, i) => i), rejected: [] };
    }
    const covered = (i: number) => done.some(([first, end]) => offset + i >= first && offset + i < end);
    const todo: number[] = [];
    for (let i = 0; i < count; i++) if (!covered(i)) todo.push(i);
    const rejected = this.rejectsIn(seq, offset, count, covered);
    return todo.length === 0 ? { kind: 'done', rejected } : { kind: 'part', todo, rejected };
  }

  /**
   * The statements that record a write in its transaction. Whole: the batch's marker (fenced: it
   * must move forward). Part: a row per run of `todo`'s records, fenced by its key (a range commits
   * once), and — while the marker is below the batch — a fence on the marker too: another run of
   * the job that committed the batch whole meanwhile rolls this part back. `rejected` are by index
   * in this write's records (of `todo` for a part).
   */
  statements(dialect: DialectName, seq: number, offset: number, todo: readonly number[] | undefined, rejected: readonly Rejection[]): Statement[] {
    if (!todo) return markerStatements(dialect, this.job, this.sink, seq, rejected);
    const out: Statement[] = [];
    const fence = () => new MarkerFenceError(`sql: part of batch ${seq} of sink '${this.sink}' of job '${this.job}' was committed by another run (or its markers cleared); it is rolled back`);
    if (this.marker === undefined || this.marker < seq) {
      const marker = native(dialect, `update ${TABLES.markers} set updated_at = ? where job = ? and sink = ? and seq < ?`, [nowValue(dialect), this.job, this.sink, seq]);
      out.push({ ...marker, fence });
    }
    const insert = dialect === 'mysql' ? 'insert ignore into' : 'insert into';
    const tail = dialect === 'mysql' ? '' : ' on conflict do nothing';
    for (const [first, end] of runsOf(todo)) {
      const range = [offset + first, offset + end] as const;
      out.push({ ...native(dialect, `${insert} ${TABLES.parts} (job, sink, seq, first_idx, end_idx) values (?, ?, ?, ?, ?)${tail}`, [this.job, this.sink, seq, ...range]), fence });
      // A retried part must not collide with its own earlier refusals.
      out.push(native(dialect, `delete from ${TABLES.rejects} where job = ? and sink = ? and seq = ? and idx >= ? and idx < ?`, [this.job, this.sink, seq, ...range]));
    }
    for (let i = 0; i < rejected.length; i += 200) {
      const chunk = rejected.slice(i, i + 200);
      const params: unknown[] = [];
      for (const r of chunk) params.push(this.job, this.sink, seq, offset + todo[r.index]!, r.error.message);
      out.push(native(dialect, `insert into ${TABLES.rejects} (job, sink, seq, idx, error) values ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`, params));
    }
    return out;
  }

  /** A write committed: the marker moves (whole), or its ranges are known committed (part). */
  committed(seq: number, offset: number, todo: readonly number[] | undefined): void {
    if (!todo) {
      this.marker = Math.max(this.marker ?? -1, seq);
      return;
    }
    const ranges = this.ranges.get(seq) ?? [];
    for (const [first, end] of runsOf(todo)) ranges.push([offset + first, offset + end]);
    this.ranges.set(seq, ranges);
  }

  /** Refusals recorded for records `offset` … `offset + count - 1` of batch `seq` that `keep` says, by index in this write. */
  private rejectsIn(seq: number, offset: number, count: number, keep: (i: number) => boolean): Rejection[] {
    const out: Rejection[] = [];
    for (const r of this.rejects.get(seq) ?? []) {
      const i = r.index - offset;
      if (i >= 0 && i < count && keep(i)) out.push({ index: i, error: r.error });
    }
    return out;
  }

  private async readRanges(op: '>' | '=', seq: number): Promise<Map<number, Range[]>> {
    const rows = rowsOf(
      await this.conn.knex.raw(`select seq, first_idx, end_idx from ${TABLES.parts} where job = ? and sink = ? and seq ${op} ? order by seq, first_idx`, [this.job, this.sink, seq]),
    );
    const out = new Map<number, Range[]>();
    for (const row of rows) {
      const key = Number(row.seq);
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push([Number(row.first_idx), Number(row.end_idx)]);
    }
    return out;
  }

  private async readRejects(op: '>' | '=', seq: number): Promise<Map<number, Rejection[]>> {
    const rows = rowsOf(
      await this.conn.knex.raw(`select seq, idx, error from ${TABLES.rejects} where job = ? and sink = ? and seq ${op} ? order by seq, idx`, [this.job, this.sink, seq]),
    );
    const out = new Map<number, Rejection[]>();
    for (const row of rows) {
      const key = Number(row.seq);
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push({ index: Number(row.idx), error: new Error(String(row.error)) });
    }
    return out;
  }
}

/** Ascending indices → runs of consecutive ones, as [first, end). */
function runsOf(indices: readonly number[]): Range[] {
  const runs: Array<[number, number]> = [];
  for (const i of indices) {
    const last = runs[runs.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else runs.push([i, i + 1]);
  }
  return runs;
}
