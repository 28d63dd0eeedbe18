import type { PositionList, RawPage, RecordPosition, SluiceRecord, SourcePage, SourceRecordError } from '@sluice/core';
import type { FileCheck } from './check.js';

/** The resumable position after an item: see `FileCursor` in cursor.ts. */
export interface CursorPoint {
  file: number;
  name: string;
  offset: number;
  line: number;
  /** JSON arrays only: index of the last element. */
  index?: number;
  /** What the resume checks the file against (check.ts). */
  check?: FileCheck;
}

/**
 * Collects parsed items into pages of at most `batchSize` items (records and record errors).
 *
 * Parsers are synchronous and may produce many pages from one chunk; before each item they set
 * `offset`/`line` (and `index`) to the position just after it, so a page sealed after any item
 * carries an exact resume point. That keeps the hot loop free of per-record promises.
 */
export class PageCollector {
  private fileIndex = 0;
  private fileName = '';
  private fileCheck: FileCheck | undefined;
  /** Position just after the item being added (set by the parser before `record`/`error`). */
  offset = 0;
  line = 0;
  index = -1;
  /** Progress (bytes) at seal time; set per file by the reader. */
  private progress: () => number = () => 0;

  readonly ready: SourcePage[] = [];
  private records: SluiceRecord[];
  /** Per record: its line or byte offset (`recordAt`, see {@link FilePositions}), or its position (`record`). */
  private positions: Array<number | RecordPosition>;
  /** Where each file (or kind of number) of the open page starts in it; see {@link FilePositions}. */
  private segments: PositionSegment[] = [];
  private errors: SourceRecordError[] = [];
  private count = 0;
  /** Records in the open page: `records` and `positions` are made at a page's size up front (growing them push by push allocated twice as much). */
  private filled = 0;
  private point: CursorPoint | undefined;

  constructor(
    private readonly batchSize: number,
    private readonly withIndex: boolean,
  ) {
    this.records = this.pageArray();
    this.positions = this.pageArray();
  }

  private pageArray<T>(): T[] {
    return new Array<T>(Math.min(this.batchSize, 8192));
  }

  /** Starts items of another file; the open page keeps the resume point of its last item. */
  beginFile(index: number, name: string, progress: () => number, check?: FileCheck): void {
    if (this.count > 0 && this.point === undefined) this.point = this.current();
    this.fileIndex = index;
    this.fileName = name;
    this.fileCheck = check;
    this.progress = progress;
  }

  record(record: SluiceRecord, position: RecordPosition): void {
    this.records[this.filled] = record;
    this.positions[this.filled++] = position;
    this.mark();
  }

  /**
   * A record whose position is `{ file, line }` or `{ file, offset }` (`key`) in the current file:
   * the number is kept and the position made only when the engine asks for it.
   */
  recordAt(record: SluiceRecord, key: PositionKey, at: number): void {
    const last = this.segments[this.segments.length - 1];
    if (last === undefined || last.key !== key || last.file !== this.fileName) this.segments.push({ from: this.filled, file: this.fileName, key });
    this.records[this.filled] = record;
    this.positions[this.filled++] = at;
    this.mark();
  }

  /**
   * A record-level error. `sealable: false` adds it without closing the page, for errors whose
   * own end offset is unknown (the next item's offset then covers it).
   */
  error(error: SourceRecordError, sealable = true): void {
    this.errors.push(error);
    if (sealable) this.mark();
    else this.count++;
  }

  private mark(): void {
    this.point = undefined;
    if (++this.count >= this.batchSize) this.seal();
  }

  /** True when the open page holds nothing: the next item starts a page. */
  get empty(): boolean {
    return this.count === 0;
  }

  /**
   * A whole page of rows not made into records (`SourcePage.raw`), ending at `offset` after line
   * `line`; only between pages (`empty`).
   */
  rawPage(raw: RawPage, offset: number, line: number): void {
    this.offset = offset;
    this.line = line;
    this.ready.push({ records: [], cursor: this.current(), progress: this.progress(), raw });
  }

  /** Closes the last page, at the end of the input, with `progress` as its progress. */
  finish(progress: number): void {
    this.progress = () => progress;
    this.seal();
  }

  /** Closes the current page (if it holds anything) into `ready`. */
  seal(): void {
    if (this.count === 0) return;
    this.records.length = this.positions.length = this.filled;
    const page: { -readonly [K in keyof SourcePage]: SourcePage[K] } = {
      records: this.records,
      cursor: this.point ?? this.current(),
      positions: this.segments.length > 0 ? new FilePositions(this.positions, this.segments) : (this.positions as RecordPosition[]),
      progress: this.progress(),
    };
    if (this.errors.length > 0) page.errors = this.errors;
    this.ready.push(page);
    this.records = this.pageArray();
    this.positions = this.pageArray();
    this.segments = [];
    this.filled = 0;
    this.errors = [];
    this.count = 0;
    this.point = undefined;
  }

  private current(): CursorPoint {
    const cursor: CursorPoint = { file: this.fileIndex, name: this.fileName, offset: this.offset, line: this.line };
    if (this.withIndex) cursor.index = this.index;
    if (this.fileCheck) cursor.check = this.fileCheck;
    return cursor;
  }
}

/** What a record's number is in {@link PageCollector.recordAt}: a line number or a byte offset. */
export type PositionKey = 'line' | 'offset';

/** From record `from` of a page on, numbers are `key`s of `file` (until the next segment). */
interface PositionSegment {
  readonly from: number;
  readonly file: string;
  readonly key: PositionKey;
}

/**
 * A page's positions as the parsers found them: a number per record (a line or an offset) and the
 * file each run of records is in, so reading a file makes no position object per record. A record
 * added with a whole position (`record`) keeps it.
 */
export class FilePositions implements PositionList {
  constructor(
    private readonly values: ReadonlyArray<number | RecordPosition>,
    private readonly segments: readonly PositionSegment[],
  ) {}

  get length(): number {
    return this.values.length;
  }

  at(index: number): RecordPosition | undefined {
    const value = this.values[index];
    if (typeof value !== 'number') return value;
    let k = this.segments.length - 1;
    while (this.segments[k]!.from > index) k--;
    const { file, key } = this.segments[k]!;
    return key === 'line' ? { file, line: value } : { file, offset: value };
  }
}
