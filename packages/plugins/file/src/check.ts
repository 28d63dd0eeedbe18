import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { StartupRefusal } from '@sluice/core';
import type { InputFile } from './files.js';

/** How many of a file's first bytes its fingerprint covers. */
export const HEAD_BYTES = 64 * 1024;

/**
 * What a cursor remembers of the file it points into, so that a resume can tell the same file
 * (appended to, perhaps) from another one put in its place: its size and the hash of its first
 * bytes when the read began — both decide — and its inode and modification time, which only hint.
 */
export interface FileCheck {
  readonly size: number;
  /** How many first bytes `head` covers: min(size, 64 KiB). */
  readonly headBytes: number;
  /** SHA-256 of those bytes, hex, first 32 digits. */
  readonly head: string;
  readonly ino?: number;
  readonly mtimeMs?: number;
}

async function headHash(path: string, bytes: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    let got = 0;
    while (got < bytes) {
      const { bytesRead } = await fh.read(buf, got, bytes - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return createHash('sha256').update(buf.subarray(0, got)).digest('hex').slice(0, 32);
  } finally {
    await fh.close();
  }
}

/** The check of `file` as it is now (its size and inode as listed when the run began). */
export async function fileCheck(file: InputFile): Promise<FileCheck> {
  const headBytes = Math.min(file.size, HEAD_BYTES);
  return { size: file.size, headBytes, head: await headHash(file.path, headBytes), ino: file.ino, mtimeMs: file.mtimeMs };
}

export function isFileCheck(value: unknown): value is FileCheck {
  if (!value || typeof value !== 'object') return false;
  const c = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  return count(c.size) && count(c.headBytes) && typeof c.head === 'string';
}

/**
 * Refuses to resume in a file that is not the one the checkpoint was made from: shorter than it
 * was, or with other first bytes. Returns a hint to log when the file was replaced by one that
 * starts the same and is not shorter (another inode, or older): it is read as if appended to.
 */
export async function verifyCheck(file: InputFile, check: FileCheck): Promise<string | undefined> {
  const refuse = (why: string) =>
    new StartupRefusal(
      `file: '${file.name}' is not the file the checkpoint was made from: ${why}; it was replaced or rewritten — run with --fresh to read it from the start (or put the original back)`,
    );
  if (file.size < check.size) throw refuse(`it is shorter (${file.size} < ${check.size} bytes)`);
  if ((await headHash(file.path, check.headBytes)) !== check.head) throw refuse(`its first ${check.headBytes.toLocaleString('en-US')} bytes changed`);
  if (check.ino !== undefined && file.ino !== undefined && check.ino !== file.ino) {
    return `file: '${file.name}' is another file than at the checkpoint (inode ${check.ino} → ${file.ino}) but starts with the same bytes and is not shorter; resuming as if it were appended to (run with --fresh to read it whole)`;
  }
  if (check.mtimeMs !== undefined && file.mtimeMs !== undefined && file.mtimeMs < check.mtimeMs) {
    return `file: '${file.name}' is older than at the checkpoint but starts with the same bytes and is not shorter; resuming as if it were appended to (run with --fresh to read it whole)`;
  }
  return undefined;
}
