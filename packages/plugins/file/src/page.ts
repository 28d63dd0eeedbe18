import type { RawPage, RecordPosition, SluiceRecord, SourcePage, SourceRecordError } from '@sluice/core';
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
  private positions: RecordPosition[];
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
      positions: this.positions,
      progress: this.progress(),
    };
    if (this.errors.length > 0) page.errors = this.errors;
    this.ready.push(page);
    this.records = this.pageArray();
    this.positions = this.pageArray();
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
