import { defineSource, PermanentError, type ConfigOf, type Logger, type ReadOptions, type RuleViolation, type SourceInstance, type SourcePage, type WrittenConfigOf } from '@sluice/core';
import { FileChunks } from './chunks.js';
import { rawCsvShape } from './csv-raw.js';
import { CsvRecordParser, readCsvHeader, readCsvHeaderRow, type CsvParseRange, type CsvReadOptions } from './csv-read.js';
import { fileCheck, verifyCheck, type FileCheck } from './check.js';
import { resumePoint, type FileCursor } from './cursor.js';
import { expandInputs, type InputFile } from './files.js';
import { FORMATS, formatHint, formatProblem, inferFormat, requireFormat, type FileFormat } from './formats.js';
import { JsonArrayParser } from './json-array.js';
import { DEFAULT_MAX_LINE_BYTES } from './limits.js';
import { JsonLinesParser, type PositionMode } from './lines.js';
import { PageCollector } from './page.js';
import { isRange, lineStartAtOrAfter, planPartitions, slicesOf, sliceSpan, type FileSlice } from './partition.js';

const SPLITS = ['auto', 'files'] as const;
type Split = (typeof SPLITS)[number];

const csvReadSchema = {
  type: 'object',
  description: 'CSV options (format csv only).',
  additionalProperties: false,
  default: {},
  examples: [{ delimiter: ';', cast: true }],
  properties: {
    delimiter: {
      type: 'string',
      minLength: 1,
      description: 'Field separator.',
      default: ',',
      examples: [',', ';', '\t', '|'],
    },
    header: {
      anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
      description:
        'true: the first row names the columns. false: no header row; fields are named "0", "1", …. A list: these column names, and the first row is data.',
      default: true,
      examples: [true, ['id', 'name', 'email']],
    },
    quote: {
      type: 'string',
      maxLength: 1,
      description: 'Quote character around fields that contain the delimiter, quotes or line breaks; "" turns quoting off.',
      default: '"',
      examples: ['"', "'"],
    },
    skipEmptyLines: {
      type: 'boolean',
      description: 'Skip lines with nothing on them (otherwise an empty line is a row, usually with the wrong number of fields).',
      default: true,
      examples: [true],
    },
    cast: {
      type: 'boolean',
      description:
        'Turn numbers and true/false into JSON numbers and booleans, and unquoted empty fields into null. Numbers with leading zeros stay text.',
      default: false,
      examples: [true],
    },
  },
} as const;

/** JSON Schema of the file source's `with`. */
export const fileSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      ],
      description:
        'File, glob, or a list of them, relative to the job file. Matches of a glob are read in lexicographic order; a glob that matches nothing is an error.',
      examples: ['data/users.csv', 'data/**/*.jsonl.gz', ['exports/2024-*.csv', 'exports/late.csv']],
    },
    format: {
      type: 'string',
      enum: FORMATS,
      description:
        'jsonl (one JSON object per line), csv, or json (one array of objects). Default: from the extension (.jsonl/.ndjson, .csv, .json, each optionally .gz).',
      examples: ['jsonl', 'csv'],
    },
    csv: csvReadSchema,
    encoding: {
      type: 'string',
      enum: ['utf8', 'utf-8'],
      description: 'Text encoding; UTF-8 only. A byte order mark at the start is ignored.',
      default: 'utf8',
      examples: ['utf8'],
    },
    maxLineBytes: {
      type: 'integer',
      minimum: 1024,
      description:
        'The longest line (JSON Lines), row (CSV) or array element (JSON) read, in bytes. A longer one is a record error with its position (following onError) and is skipped without being held in memory; for .gz files this bounds what one line can make the decompressor hold.',
      default: DEFAULT_MAX_LINE_BYTES,
      examples: [DEFAULT_MAX_LINE_BYTES, 1048576],
    },
    split: {
      type: 'string',
      enum: SPLITS,
      description:
        'How a distributed run (sluice run --workers) splits the input. auto: into groups of whole files, and a file of at least 1.5 partitions\' share into byte ranges cut at line starts (jsonl and csv; .gz files and JSON arrays only whole). Records of a byte range have the position { file, offset } (the byte offset of their first byte) instead of a line number. CSV byte ranges assume no line break inside a quoted field: a partition that ends inside quotes (such a field, or a broken quote) fails and says so. files: whole files only (use it for CSV with multi-line fields).',
      default: 'auto',
      examples: ['auto', 'files'],
    },
  },
} as const;

/** The source's `with` as `create` gets it (defaults filled in), and as the user wrote it (rules). */
type Config = ConfigOf<typeof fileSourceSchema>;
type Written = WrittenConfigOf<typeof fileSourceSchema>;

/** Options with every default filled in. */
export interface FileSourceOptions {
  readonly patterns: readonly string[];
  readonly format: FileFormat;
  readonly csv: CsvReadOptions;
  readonly split: Split;
  readonly maxLineBytes: number;
}

const patternsOf = (config: Written): string[] => (typeof config.path === 'string' ? [config.path] : [...config.path]);

/** What the reader needs of the config: the format inferred when not given, the line limit handed to CSV. */
export function normaliseSourceConfig(config: Config): FileSourceOptions {
  const patterns = patternsOf(config);
  const { csv } = config;
  if (Buffer.byteLength(csv.quote) > 1) {
    throw new PermanentError(`file: csv.quote must be one ASCII character or "" (got '${csv.quote}')`);
  }
  return {
    patterns,
    format: requireFormat(patterns, config.format),
    csv: { ...csv, maxLineBytes: config.maxLineBytes },
    split: config.split,
    maxLineBytes: config.maxLineBytes,
  };
}

/** Rule: the format is given or follows from the file extensions. */
export function formatIsKnown(config: Written): RuleViolation | undefined {
  const problem = formatProblem(patternsOf(config), config.format);
  return problem ? { path: 'format', message: problem, hint: formatHint } : undefined;
}

/** Rule: `csv` options only make sense for CSV. */
export function csvOptionsNeedCsv(config: Written): RuleViolation | undefined {
  const format = inferFormat(patternsOf(config), config.format);
  if (config.csv === undefined || format === undefined || format === 'csv') return undefined;
  return { path: 'csv', message: `csv options apply to format csv only; this step reads ${format}`, hint: 'remove csv, or set format: csv' };
}

interface ItemParser {
  feed(chunk: Buffer): void;
  end(): void | Promise<void>;
}

/** Where a slice's read begins and ends (absolute offsets; `end` undefined: the end of the file). */
interface Span {
  readonly start: number;
  readonly end: number | undefined;
  readonly mode: PositionMode;
}

/** The most bytes a raw page may span (a page of longer rows is read as records): what the reader holds back for one. */
const RAW_HOLD = 4 * 1024 * 1024;

/** Raw pages of this read (`ReadOptions.raw` asked for csv and the CSV options allow them), or undefined. */
function rawOf(options: FileSourceOptions, read: ReadOptions): CsvParseRange['raw'] {
  // Cast fields are values, not text: raw pages then only for a sink that takes them (rawCast).
  if (options.format !== 'csv' || !read.raw?.includes('csv') || (options.csv.cast && read.rawCast !== true)) return undefined;
  const shape = rawCsvShape(options.csv);
  // Held back at most a quarter of maxLineBytes, so a page waiting for its end is never taken for an over-long row.
  return shape ? { shape, rows: Math.max(1, read.batchSize), hold: Math.min(RAW_HOLD, Math.floor(options.maxLineBytes / 4)) } : undefined;
}

async function openParser(options: FileSourceOptions, pages: PageCollector, file: InputFile, from: FileCursor, span: Span, logger: Logger, raw: CsvParseRange['raw']): Promise<ItemParser> {
  switch (options.format) {
    case 'jsonl':
      return new JsonLinesParser(pages, file.name, from.offset, from.line, {
        mode: span.mode,
        maxLineBytes: options.maxLineBytes,
        onPartialLastLine: (line, bytes) =>
          logger.warn(`file: the last line of '${file.name}' (line ${line}, ${bytes} bytes) has no line break and is not valid JSON yet; it is left for the next run`, { file: file.name, line }),
      });
    case 'json':
      return new JsonArrayParser(pages, file.name, from.offset, from.line, from.index ?? -1, options.maxLineBytes);
    case 'csv': {
      // A resumed read (and a byte range) seeks past the header row, so read it first from the file's start.
      const header = options.csv.header === true && from.offset > 0 ? await readCsvHeader(file, options.csv) : undefined;
      const cutAt = span.end !== undefined && span.end < file.size ? span.end : undefined;
      return new CsvRecordParser(pages, file.name, from.offset, from.line, options.csv, header, { mode: span.mode, ...(cutAt !== undefined ? { cutAt } : {}), ...(raw ? { raw } : {}) });
    }
  }
}

/**
 * Where a slice's read begins and ends. A byte range starts at the first line start at or after
 * its `start` and ends at the first line start at or after its `end`, so each line belongs to the
 * range its first byte is in. A CSV range at the start of a file with a header row begins after it.
 */
async function spanOf(slice: FileSlice, file: InputFile, options: FileSourceOptions): Promise<Span> {
  if (!isRange(slice)) return { start: 0, end: undefined, mode: 'line' };
  let start = await lineStartAtOrAfter(file, slice.start ?? 0);
  const end = slice.end === undefined ? undefined : await lineStartAtOrAfter(file, slice.end);
  if (start === 0 && options.format === 'csv' && options.csv.header === true) start = (await readCsvHeaderRow(file, options.csv)).end;
  return { start, end: end === undefined ? undefined : Math.max(start, end), mode: 'offset' };
}

/** The slice a cursor stopped in: the last slice of its file that starts at or before its offset. */
function sliceOfCursor(slices: readonly FileSlice[], cursor: FileCursor): number {
  let found = -1;
  for (const [k, slice] of slices.entries()) {
    if (slice.file === cursor.file && (slice.start ?? 0) <= cursor.offset) found = k;
  }
  if (found === -1) throw notInPartition(cursor);
  return found;
}

const notInPartition = (cursor: FileCursor) =>
  new PermanentError(`file: the checkpoint stopped in '${cursor.name}' at byte ${cursor.offset}, which this partition does not read; run with --fresh to start over`);

/** Reads the slices (every file, or a partition's) in order from `cursor`, in pages of at most `batchSize` items. */
async function* readSlices(files: readonly InputFile[], slices: readonly FileSlice[], options: FileSourceOptions, read: ReadOptions, logger: Logger): AsyncGenerator<SourcePage> {
  const { signal } = read;
  const resumed = read.cursor === undefined || read.cursor === null ? undefined : resumePoint(read.cursor, files, options.patterns.map((p) => `'${p}'`).join(', '));
  if (resumed?.check) await verifyCheck(files[resumed.file]!, resumed.check);
  const first = resumed ? sliceOfCursor(slices, resumed) : 0;
  const checks = new Map<number, FileCheck>();
  const pages = new PageCollector(Math.max(1, read.batchSize), options.format === 'json');
  const raw = rawOf(options, read);
  let before = 0;
  for (let k = 0; k < first; k++) before += sliceSpan(slices[k]!, files[slices[k]!.file]!);
  for (let k = first; k < slices.length; k++) {
    if (signal.aborted) return;
    const slice = slices[k]!;
    const file = files[slice.file]!;
    const span = await spanOf(slice, file, options);
    if (k === first && resumed && span.end !== undefined && resumed.offset > span.end) throw notInPartition(resumed);
    const from: FileCursor = k === first && resumed ? resumed : { file: slice.file, name: file.name, offset: span.start, line: 0, index: -1 };
    const chunks = new FileChunks(file, from.offset, span.end);
    const parser = await openParser(options, pages, file, from, span, logger, raw);
    const base = before;
    const origin = slice.start ?? 0;
    let check = checks.get(slice.file);
    if (!check) checks.set(slice.file, (check = await fileCheck(file)));
    pages.beginFile(slice.file, file.name, file.gzip ? () => base + chunks.diskRead : () => base + pages.offset - origin, check);
    for await (const chunk of chunks) {
      parser.feed(chunk);
      while (pages.ready.length > 0) {
        if (signal.aborted) return;
        yield pages.ready.shift()!;
      }
      if (signal.aborted) return;
    }
    await parser.end();
    while (pages.ready.length > 0) {
      if (signal.aborted) return;
      yield pages.ready.shift()!;
    }
    before += sliceSpan(slice, file);
  }
  pages.finish(before);
  const last = pages.ready.shift();
  if (last && !signal.aborted) yield last;
}

/** A read that fails at its first page (the engine reports it as the source's failure). */
// eslint-disable-next-line require-yield
async function* failing(error: unknown): AsyncGenerator<SourcePage> {
  throw error;
}

/** The `file` source: JSON Lines, CSV or a JSON array, from one file or a glob of many, `.gz` or not. */
export const fileSource = defineSource({
  name: 'file',
  description: 'Reads JSON Lines, CSV or JSON array files (a path, a glob or a list), plain or .gz, streaming and resumable.',
  schema: fileSourceSchema,
  rules: [formatIsKnown, csvOptionsNeedCsv],
  async create(config, ctx): Promise<SourceInstance> {
    const options = normaliseSourceConfig(config);
    const files = await expandInputs(options.patterns, (p) => ctx.resolvePath(p), ctx.job.dir);
    const patterns = options.patterns.map((p) => `'${p}'`).join(', ');
    const ranges = options.format !== 'json';
    // A resumed run: refuse (exit 2) before anything is read when the file is not the one the
    // checkpoint was made from (ctx.state is the cursor the run resumes from).
    if (ctx.state !== undefined && ctx.state !== null) {
      const cursor = resumePoint(ctx.state, files, patterns);
      const hint = cursor.check ? await verifyCheck(files[cursor.file]!, cursor.check) : undefined;
      if (hint) ctx.logger.warn(hint, { file: cursor.name });
    }
    return {
      read(read) {
        let slices: readonly FileSlice[];
        try {
          slices = slicesOf(read.partition, files, patterns, ranges);
        } catch (error) {
          return failing(error);
        }
        return readSlices(files, slices, options, read, ctx.logger);
      },
      async estimate(partition) {
        // The partition's bytes: the same slices `read` gets.
        const slices = slicesOf(partition, files, patterns, ranges);
        return { total: slices.reduce((sum, slice) => sum + sliceSpan(slice, files[slice.file]!), 0), unit: 'bytes' };
      },
      partitions: (n) =>
        planPartitions(files, n, (file) => options.split === 'auto' && !file.gzip && (options.format === 'jsonl' || options.format === 'csv')),
    };
  },
});
