import { createReadStream, type ReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PermanentError } from '@sluice/core';
import type { InputFile } from './files.js';

/** Large reads: fewer syscalls and fewer awaits per megabyte. */
export const READ_CHUNK = 1 << 20;

/**
 * The bytes of one input file from `start` (an offset in the uncompressed data) up to `end`
 * (exclusive; plain files only, the end of the file when undefined), as Buffers. `diskRead`
 * tells how much of the file on disk has been read, for progress.
 */
export class FileChunks implements AsyncIterable<Buffer> {
  private disk: ReadStream | undefined;

  constructor(
    private readonly file: InputFile,
    private readonly start: number,
    private readonly end?: number,
  ) {}

  /** Bytes read from disk so far (compressed bytes for `.gz`), counting the skipped start. */
  get diskRead(): number {
    if (!this.disk) return 0;
    return this.file.gzip ? this.disk.bytesRead : this.start + this.disk.bytesRead;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (!this.file.gzip) {
      if (this.end !== undefined && this.end <= this.start) return;
      // A real seek: the bytes before `start` are never read. (`end` of a read stream is inclusive.)
      const end = this.end === undefined ? {} : { end: this.end - 1 };
      this.disk = createReadStream(this.file.path, { start: this.start, highWaterMark: READ_CHUNK, ...end });
      yield* this.disk as AsyncIterable<Buffer>;
      return;
    }
    // gzip has no random access: decompress from the beginning and drop the first `start`
    // uncompressed bytes. Only the decompressed stream has the offsets cursors speak of.
    this.disk = createReadStream(this.file.path, { highWaterMark: READ_CHUNK });
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    // pipeline destroys the gunzip stream with the disk's error, so the loop below throws it.
    pipeline(this.disk, gunzip, () => {});
    let skip = this.start;
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        if (skip === 0) {
          yield chunk;
        } else if (chunk.length <= skip) {
          skip -= chunk.length;
        } else {
          const rest = chunk.subarray(skip);
          skip = 0;
          yield rest;
        }
      }
      if (skip > 0) {
        throw new PermanentError(
          `file: '${this.file.name}' holds fewer bytes than its checkpoint offset ${this.start}; it changed since the checkpoint — run with --fresh`,
        );
      }
    } finally {
      gunzip.destroy();
    }
  }
}
