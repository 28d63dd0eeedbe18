import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  defineSink,
  PermanentError,
  TransientError,
  type PluginContext,
  type RawPage,
  type SinkInstance,
  type SluiceRecord,
  type WriteResult,
} from '@sluice/core';
import { csvPageToJsonLines } from './csv-jsonl.js';
import { closeCsv, closeJsonArray, encodeBatch, type EncodedBatch } from './encode.js';
import { readBackFile } from './read-back.js';
import {
  fileSinkSchema,
  normaliseSinkConfig,
  partitionPath,
  sinkCsvOptionsNeedCsv,
  sinkFormatIsKnown,
  type FileSinkOptions,
  type FileSinkState,
} from './sink-config.js';

export {
  fileSinkSchema,
  normaliseSinkConfig,
  partitionPath,
  PARTITION_PLACEHOLDER,
  sinkCsvOptionsNeedCsv,
  sinkFormatIsKnown,
  type FileSinkConfig,
  type FileSinkOptions,
  type FileSinkState,
} from './sink-config.js';

function isSinkState(value: unknown): value is FileSinkState {
  if (!value || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  const count = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  return count(s.size) && (s.records === undefined || count(s.records)) && (s.columns === undefined || Array.isArray(s.columns));
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Where the output will stand once every batch handed over so far is on the file. */
interface Planned {
  readonly size: number;
  readonly records: number;
  readonly columns: readonly string[] | undefined;
}

/**
 * Appends batches to one open file at the size it knows. Exactly-once comes from truncation: a
 * resumed run cuts the file back to the size saved with the checkpoint, dropping whatever was
 * written after it, and appends from there.
 *
 * Pipelined (`pipeline: 2`): `write` encodes a batch at once, against where the output will stand
 * after the batches before it, and queues its bytes behind theirs; so the engine can hand over
 * (and this sink encode) batch N+1 while batch N is still being written. The file is written
 * strictly in order: after a failed write the ones queued behind it fail too, without writing,
 * and the engine's retries start again from what is on the file.
 */
class FileWriter implements SinkInstance {
  readonly pipeline = 2;
  private size: number;
  private records: number;
  private columns: readonly string[] | undefined;
  private planned: Planned;
  /** The queue of positioned writes, in batch order. */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  /** A write failed: refuse the ones queued after it until the queue is empty. */
  private broken = false;
  /** A failed write may have left bytes after `size`; cut them before the next write. */
  private dirty = false;
  /** A new file's folder entry is made durable at the first flush. */
  private syncFolder: boolean;
  private closed = false;
  private readonly warned = new Set<string>();

  constructor(
    private readonly fh: FileHandle,
    private readonly options: FileSinkOptions,
    private readonly absolute: string,
    private readonly ctx: PluginContext,
    state: FileSinkState | undefined,
  ) {
    this.size = state?.size ?? 0;
    this.records = state?.records ?? 0;
    this.columns = options.csv.columns ?? state?.columns;
    this.planned = { size: this.size, records: this.records, columns: this.columns };
    this.syncFolder = state === undefined;
    this.raw =
      options.format === 'jsonl'
        ? { formats: ['csv'], cast: true, accepts: (page) => page.format === 'csv', write: (page) => this.writeRaw(page) }
        : undefined;
  }

  /**
   * Raw CSV pages into JSON Lines (`SinkInstance.raw`): each page transcoded straight from its
   * bytes (csv-jsonl.ts) to the bytes its records would have been written as. A page with a row
   * the reader would refuse (another number of fields) is declined by throwing, before anything is
   * queued: the engine then writes the page's records, and the reader's record errors go their way.
   */
  readonly raw: SinkInstance['raw'];
  /** Whether the run was told (once) that rows go in raw. */
  private saidRaw = false;

  write(records: SluiceRecord[]): Promise<WriteResult | void> {
    const start = this.begin();
    if (start) return start;
    const from = this.planned;
    const batch = encodeBatch(
      this.options.format,
      records,
      { size: from.size, columns: from.columns },
      this.options.csv,
      (field, columns) => this.warnUnknown(field, columns),
    );
    const data = batch.text === '' ? undefined : this.bytesOf(batch.text);
    return this.enqueue(data, batch.written, batch.columns, batch.rejected);
  }

  private writeRaw(page: RawPage): Promise<WriteResult | void> {
    const start = this.begin();
    if (start) return start;
    const json = csvPageToJsonLines(page);
    if (json === undefined) {
      return Promise.reject(new PermanentError('file: a raw CSV page has a row the reader refuses; the page is written record by record'));
    }
    if (!this.saidRaw) {
      this.saidRaw = true;
      this.ctx.logger.info(`file: CSV rows go into ${this.options.path} as JSON Lines made from their bytes (no records made)`, { path: this.options.path });
    }
    const data = json.length === 0 ? undefined : this.options.gzip ? gzipSync(json) : json;
    return this.enqueue(data, page.count, undefined, []);
  }

  /** A write refused before it is encoded (the sink is closed, or a write queued before it failed), or undefined. */
  private begin(): Promise<never> | undefined {
    if (this.closed) return Promise.reject(new PermanentError(`file: output ${this.absolute} is already closed`));
    if (this.broken) {
      if (this.pending > 0) return Promise.reject(this.refused());
      // Everything queued has settled: start again from what is on the file.
      this.broken = false;
      this.planned = { size: this.size, records: this.records, columns: this.columns };
    }
    return undefined;
  }

  /** Queues an encoded batch's bytes (`count` records) behind the batches before it. */
  private enqueue(data: Buffer | undefined, count: number, columns: string[] | undefined, rejected: EncodedBatch['rejected']): Promise<WriteResult | void> {
    const from = this.planned;
    const to: Planned = {
      size: from.size + (data?.length ?? 0),
      records: from.records + (data ? count : 0),
      columns: columns ?? from.columns,
    };
    this.planned = to;
    this.pending++;
    const written = this.queue.then(async () => {
      if (this.broken) throw this.refused();
      if (data) await this.append(data);
      this.records = to.records;
      this.columns = to.columns;
    });
    this.queue = written.catch(() => {
      this.broken = true;
    });
    return written.then(
      () => {
        this.pending--;
        const result = { state: this.stateOf(to) };
        return rejected.length > 0 ? { ...result, rejected } : result;
      },
      (error: unknown) => {
        this.pending--;
        this.broken = true;
        throw error;
      },
    );
  }

  state(): FileSinkState {
    return this.stateOf({ size: this.size, records: this.records, columns: this.columns });
  }

  async flush(): Promise<void> {
    await this.io('sync', () => this.fh.sync());
    if (this.syncFolder) {
      this.syncFolder = false;
      await syncDirectory(dirname(this.absolute));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.queue;
      const state = { size: this.size, columns: this.columns };
      const tail =
        this.options.format === 'json' ? closeJsonArray(state) : this.options.format === 'csv' ? closeCsv(state, this.options.csv) : '';
      if (tail !== '') await this.append(this.bytesOf(tail));
      else if (this.dirty) await this.io('truncate', () => this.fh.truncate(this.size));
      await this.io('sync', () => this.fh.sync());
    } finally {
      await this.fh.close();
    }
  }

  private stateOf(at: Planned): FileSinkState {
    return this.options.format === 'csv' ? { size: at.size, records: at.records, columns: at.columns } : { size: at.size, records: at.records };
  }

  private refused(): Error {
    return new TransientError(`file: an earlier write to ${this.absolute} failed; this batch is written again after it`);
  }

  private bytesOf(text: string): Buffer {
    const plain = Buffer.from(text, 'utf8');
    // Each batch is its own gzip member: concatenated members are one valid gzip stream, and a
    // member boundary is a clean place to truncate.
    return this.options.gzip ? gzipSync(plain) : plain;
  }

  /** One positioned write per batch; `size` moves only when all of it is on the file. */
  private async append(data: Buffer): Promise<void> {
    if (this.dirty) await this.io('truncate', () => this.fh.truncate(this.size));
    this.dirty = true;
    await this.io('write', () => writeAll(this.fh, data, this.size));
    this.dirty = false;
    this.size += data.length;
  }

  /**
   * Runs a file operation, naming the file in its error: Node's messages for writes through a
   * file handle (`ENOSPC: no space left on device, write`) do not say which file. The error's
   * code and retryability are kept (a full disk may be freed before the step's retries run out).
   */
  private async io<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const cause = error as NodeJS.ErrnoException;
      const named = new Error(`file: cannot ${operation} ${this.absolute}: ${cause.code === 'ENOSPC' ? 'no space left on the device' : cause.message}${cause.code ? ` (${cause.code})` : ''}`, { cause });
      Object.assign(named, { code: cause.code });
      throw named;
    }
  }

  private warnUnknown(field: string, columns: readonly string[]): void {
    if (this.warned.has(field)) return;
    this.warned.add(field);
    this.ctx.logger.warn(
      `file: field '${field}' is not among the CSV columns (${columns.join(', ')}) and is not written; set csv.columns to choose the columns`,
      { path: this.options.path, field },
    );
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Not every platform can fsync a folder (Windows); the file itself is synced.
  } finally {
    await fh?.close();
  }
}

/** For `--dry-run`: accepts batches, writes nothing, saves no state. */
const dryRunSink: SinkInstance = {
  async write() {},
  state: () => undefined,
};

async function openOutput(options: FileSinkOptions, absolute: string, state: unknown): Promise<{ fh: FileHandle; state?: FileSinkState }> {
  if (state === undefined || state === null) {
    if (options.mkdir) await mkdir(dirname(absolute), { recursive: true });
    try {
      return { fh: await open(absolute, 'w') };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' && !options.mkdir ? ' (its folder does not exist; set mkdir: true)' : '';
      throw new PermanentError(`file: cannot create output file ${absolute}${hint}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (!isSinkState(state)) {
    throw new PermanentError(`file: the checkpoint's state for output ${absolute} is not a file sink state (${JSON.stringify(state)}); run with --fresh`);
  }
  let fh: FileHandle;
  try {
    fh = await open(absolute, 'r+');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PermanentError(
        `file: output file ${absolute} is missing, but its checkpoint says ${state.size} bytes were written; it was changed outside sluice — run with --fresh`,
        { cause: error },
      );
    }
    throw new PermanentError(`file: cannot open output file ${absolute}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const { size } = await fh.stat();
    if (size < state.size) {
      throw new PermanentError(
        `file: output file ${absolute} is shorter than its checkpoint (${size} < ${state.size} bytes); it was changed outside sluice — run with --fresh`,
      );
    }
    // Drops what was written after the checkpoint: those batches are about to be written again.
    await fh.truncate(state.size);
  } catch (error) {
    await fh.close();
    throw error;
  }
  return { fh, state };
}

/** The `file` sink: JSON Lines, CSV or a JSON array, optionally gzip; exactly-once by truncation. */
export const fileSink = defineSink({
  name: 'file',
  description: 'Writes JSON Lines, CSV or a JSON array, optionally gzip-compressed; resumes exactly once by truncating to its checkpointed size.',
  schema: fileSinkSchema,
  rules: [sinkFormatIsKnown, sinkCsvOptionsNeedCsv],
  guarantee: 'exactly-once',
  ordered: true,
  readBack: (config, ctx) => readBackFile(config, ctx),
  async create(config, ctx): Promise<SinkInstance> {
    const options = normaliseSinkConfig(config);
    if (ctx.job.dryRun) return dryRunSink;
    const absolute = ctx.resolvePath(partitionPath(options.path, ctx.job.partition));
    const { fh, state } = await openOutput(options, absolute, ctx.state);
    return new FileWriter(fh, options, absolute, ctx, state);
  },
});
