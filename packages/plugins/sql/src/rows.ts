import type { SluiceRecord } from '@sluice/core';
import type { PreparedBatch, Rejection } from './batch.js';
import { columnNameProblem, type ColumnInfo, type DialectName, type TableInfo } from './dialect.js';
import { missingColumn } from './introspect.js';

/** The columns a record fills, and from which of its fields. */
interface Shape {
  /** Same id, same columns: such records share one statement. */
  readonly id: string;
  readonly columns: readonly ColumnInfo[];
  readonly fields: readonly string[];
  /** Why records of this shape are refused (a field with no column). */
  readonly problem?: string;
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * True when `record`'s own enumerable keys are `keys`, in that order: the answer `Object.keys`
 * would give, without the array and the joined cache key it cost for every record.
 */
function keysAre(record: SluiceRecord, keys: readonly string[]): boolean {
  let n = 0;
  for (const key in record) {
    if (key !== keys[n] || !hasOwn.call(record, key)) return false;
    n++;
  }
  return n === keys.length;
}

/**
 * The sql sink's records → rows: which columns each record fills (by the shape of its fields,
 * cached), records of one shape in a row run each, and the records refused before the database
 * sees them (a field the table lacks, a field no database can name exactly).
 */
export class RowShaper {
  private readonly shapes = new Map<string, Shape>();
  /** Field names known to be fine as column names. */
  private readonly goodNames = new Set<string>();
  /** The field names of the last record shaped (no `columns:` mapping), and its shape: the next record most often has the same. */
  private last: { readonly names: readonly string[]; readonly shape: Shape } | undefined;
  /** The field names of the last record whose names were all fine. */
  private lastGood: readonly string[] | undefined;

  constructor(
    private readonly mapping: Array<[string, string]> | undefined,
    /** The table's name as configured, for messages. */
    private readonly table: string,
    private readonly ignoreUnknown: boolean,
    private readonly dialect: DialectName,
  ) {}

  /** The table's columns changed (evolved): shapes are worked out again. */
  reset(): void {
    this.shapes.clear();
    this.last = undefined;
    this.lastGood = undefined;
  }

  /**
   * Records → runs of rows with the same columns; a record with a field the table lacks is refused
   * here, before the database sees it.
   */
  prepare(records: SluiceRecord[], rejected: Rejection[], info: TableInfo): PreparedBatch[] {
    const whole = rejected.length === 0 ? this.oneShape(records, info) : undefined;
    if (whole) return [whole];
    const parts: PreparedBatch[] = [];
    let current: Shape | undefined;
    let part: { columns: readonly ColumnInfo[]; fields: readonly string[]; records: SluiceRecord[]; index: number[] } | undefined;
    const refused = rejected.length ? new Set(rejected.map((r) => r.index)) : undefined;
    for (let i = 0; i < records.length; i++) {
      if (refused?.has(i)) continue;
      const record = records[i]!;
      const shape = this.shapeOf(record, info);
      if (shape.problem !== undefined) {
        rejected.push({ index: i, error: new Error(shape.problem) });
        continue;
      }
      if (!part || shape.id !== current!.id) {
        current = shape;
        part = { columns: shape.columns, fields: shape.fields, records: [], index: [] };
        parts.push(part);
      }
      part.records.push(record);
      part.index.push(i);
    }
    return parts;
  }

  /** The batch as one part when every record has the fields of the first (the usual case): no copy of `records`. */
  private oneShape(records: SluiceRecord[], info: TableInfo): PreparedBatch | undefined {
    if (records.length === 0) return undefined;
    const shape = this.shapeOf(records[0]!, info);
    if (shape.problem !== undefined) return undefined;
    for (let i = 1; i < records.length; i++) if (this.shapeOf(records[i]!, info) !== shape) return undefined;
    const index = new Array<number>(records.length);
    for (let i = 0; i < records.length; i++) index[i] = i;
    return { columns: shape.columns, fields: shape.fields, records, index };
  }

  /** Which columns a record fills (cached by its field names): records with the same fields share one. */
  private shapeOf(record: SluiceRecord, info: TableInfo): Shape {
    const last = this.last;
    if (last !== undefined && keysAre(record, last.names)) return last.shape;
    const names = this.mapping ? this.mapping.filter(([field]) => record[field] !== undefined).map(([field]) => field) : Object.keys(record);
    const cacheKey = names.join('\u0000');
    let shape = this.shapes.get(cacheKey);
    if (shape) {
      if (!this.mapping) this.last = { names, shape };
      return shape;
    }
    const byColumn = new Map<string, string>();
    let problem: string | undefined;
    for (const field of names) {
      const column = this.mapping ? this.mapping.find(([f]) => f === field)![1] : field;
      if (!info.byName.has(column)) {
        if (this.mapping || !this.ignoreUnknown) {
          problem ??= `${missingColumn(column, info)}; map fields with columns:, or set ignoreUnknown: true`;
        }
        continue;
      }
      byColumn.set(column, field);
    }
    if (problem === undefined && byColumn.size === 0) problem = `the record has no field for any column of table ${info.name}`;
    const columns = info.columns.filter((c) => byColumn.has(c.name));
    shape = { id: columns.map((c) => c.name).join('\u0000'), columns, fields: columns.map((c) => byColumn.get(c.name)!), problem };
    if (this.shapes.size > 1000) this.shapes.clear();
    this.shapes.set(cacheKey, shape);
    if (!this.mapping) this.last = { names, shape };
    return shape;
  }

  /**
   * Records with a field that would go to a column the table lacks and that no database can name
   * exactly (white space at either end, control characters, too long) are refused here, naming the
   * field, instead of reaching a CREATE or ALTER that knex or the database would silently change.
   * Returns the other records. Only fields written without a `columns:` mapping are checked: mapped
   * column names were checked at startup.
   */
  refuseBadNames(records: SluiceRecord[], rejected: Rejection[], info: TableInfo | undefined): SluiceRecord[] {
    if (this.mapping) return records;
    /** The records kept, once one was refused (until then: all of `records` before `i`). */
    let kept: SluiceRecord[] | undefined;
    const d = this.dialect;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const lastGood = this.lastGood;
      if (lastGood !== undefined && keysAre(record, lastGood)) {
        kept?.push(record);
        continue;
      }
      let problem: string | undefined;
      for (const field in record) {
        if (info?.byName.has(field) || this.goodNames.has(field)) continue;
        const why = columnNameProblem(d, field);
        if (why === undefined) {
          if (this.goodNames.size < 10_000) this.goodNames.add(field);
          continue;
        }
        problem = `field ${JSON.stringify(field)} cannot be a column of ${this.table}: ${why}; rename it (a map step) or map it with columns:`;
        break;
      }
      if (problem === undefined) {
        kept?.push(record);
        this.lastGood = Object.keys(record);
      } else {
        kept ??= records.slice(0, i);
        rejected.push({ index: i, error: new Error(problem) });
      }
    }
    return kept ?? records;
  }
}
