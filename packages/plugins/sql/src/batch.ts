import type { SluiceRecord } from '@sluice/core';
import type { ColumnInfo } from './dialect.js';
import type { Statement } from './system.js';

/**
 * Consecutive records of a batch that have the same fields, as rows of column values. A field a
 * record lacks is not written at all (the column keeps its default, or its value on update). Row
 * `r`'s value for `columns[c]` is `records[r][fields[c]]` (see {@link rowValue}): the writers read
 * the records themselves, so a batch costs no array per row.
 */
export interface PreparedBatch {
  /** The columns written, in table order. */
  readonly columns: readonly ColumnInfo[];
  /** The records, one per row. */
  readonly records: readonly SluiceRecord[];
  /** `fields[c]`: the record field that fills `columns[c]`. */
  readonly fields: readonly string[];
  /** `index[r]`: the record (in the `write` call) row `r` came from. */
  readonly index: number[];
}

/** Row `r`'s value for column `c` of `batch`. */
export function rowValue(batch: PreparedBatch, r: number, c: number): unknown {
  return batch.records[r]![batch.fields[c]!];
}

export interface Rejection {
  readonly index: number;
  readonly error: Error;
}

/** What one transaction of a sink does: optional statements first, the rows, then statements that may depend on what was refused. */
export interface BatchPlan {
  /** The batch's records, in order, in runs of the same fields. */
  readonly parts: readonly PreparedBatch[];
  readonly before: readonly Statement[];
  after(rejected: readonly Rejection[]): Statement[];
  /**
   * Awaited after the batch's statements, just before COMMIT: resolves when the batches handed to
   * the sink before this one have committed, rejects when one of them failed (this one then rolls
   * back, so batches commit in source order — what the exactly-once marker relies on).
   */
  beforeCommit?(): Promise<void>;
}

/** The statement kinds a writer issues for a batch. */
export interface WriteTarget {
  /** Quoted table name. */
  readonly table: string;
  readonly mode: 'insert' | 'upsert' | 'replace';
  /** Upsert key columns (names, unquoted). */
  readonly key: readonly string[];
  /** Every column of the table (for PostgreSQL's staging table). */
  readonly allColumns: readonly ColumnInfo[];
}

/** A dialect's way of committing one batch in one transaction; returns the rows it refused (by record index). */
export interface BatchWriter {
  write(plan: BatchPlan): Promise<Rejection[]>;
}
