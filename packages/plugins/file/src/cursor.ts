import { StartupRefusal } from '@sluice/core';
import { isFileCheck, type FileCheck } from './check.js';
import type { InputFile } from './files.js';

/**
 * Where a read resumes, as saved in checkpoints:
 * `{ file, name, offset, line, index? }` — the index of the file in the sorted list of matches,
 * its name (relative to the job folder when inside it), the byte offset just after the last
 * item of the page (in the uncompressed data for `.gz`), the line number of that item (its last
 * line), and for JSON arrays the index of that element.
 */
export interface FileCursor {
  readonly file: number;
  readonly name: string;
  readonly offset: number;
  readonly line: number;
  readonly index?: number;
  /** The file as the read found it (size, first bytes' hash, inode, mtime): see check.ts. */
  readonly check?: FileCheck;
}

export const START: FileCursor = { file: 0, name: '', offset: 0, line: 0, index: -1 };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function isFileCursor(value: unknown): value is FileCursor {
  if (!value || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  return (
    isCount(c.file) &&
    typeof c.name === 'string' &&
    isCount(c.offset) &&
    isCount(c.line) &&
    (c.index === undefined || (typeof c.index === 'number' && Number.isInteger(c.index) && c.index >= -1)) &&
    (c.check === undefined || isFileCheck(c.check))
  );
}

/** Checks a saved cursor against the files matching now; throws a clear error when they differ. */
export function resumePoint(cursor: unknown, files: readonly InputFile[], patterns: string): FileCursor {
  if (cursor === undefined || cursor === null) return START;
  if (!isFileCursor(cursor)) {
    throw new StartupRefusal(`file: the checkpoint's position is not a file position (${JSON.stringify(cursor)}); run with --fresh to start over`);
  }
  const changed = `the files matching ${patterns} changed since the checkpoint`;
  const file = files[cursor.file];
  if (!file) {
    throw new StartupRefusal(
      `file: ${changed}: it stopped in file #${cursor.file + 1} '${cursor.name}', but only ${files.length} file(s) match now; run with --fresh to start over`,
    );
  }
  if (file.name !== cursor.name) {
    throw new StartupRefusal(
      `file: ${changed}: file #${cursor.file + 1} was '${cursor.name}' and is now '${file.name}'; run with --fresh to start over`,
    );
  }
  if (!file.gzip && cursor.offset > file.size) {
    throw new StartupRefusal(
      `file: '${file.name}' is shorter than its checkpoint position (${file.size} < ${cursor.offset} bytes); it changed since the checkpoint — run with --fresh`,
    );
  }
  return cursor;
}
