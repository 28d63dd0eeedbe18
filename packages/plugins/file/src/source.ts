import { defineSource, type ReadOptions, type RuleViolation, type SourceInstance, type SourcePage } from '@sluice/core';
import { FileChunks } from './chunks.js';
import { CsvRecordParser, readCsvHeader, type CsvReadOptions } from './csv-read.js';
import { resumePoint, START, type FileCursor } from './cursor.js';
import { expandInputs, type InputFile } from './files.js';
import { FORMATS, formatHint, formatProblem, inferFormat, requireFormat, type FileFormat } from './formats.js';
import { JsonArrayParser } from './json-array.js';
import { JsonLinesParser } from './lines.js';
import { PageCollector } from './page.js';

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
  },
} as const;

type Config = {
  path: string | readonly string[];
  format?: string;
  csv?: { delimiter?: string; header?: boolean | readonly string[]; quote?: string; skipEmptyLines?: boolean; cast?: boolean };
};

/** Options with every default filled in. */
export interface FileSourceOptions {
  readonly patterns: readonly string[];
  readonly format: FileFormat;
  readonly csv: CsvReadOptions;
}

const patternsOf = (config: Config): string[] => (typeof config.path === 'string' ? [config.path] : [...config.path]);

/** Fills in defaults (the engine's ajv does not) and infers the format. */
export function normaliseSourceConfig(config: Config): FileSourceOptions {
  const patterns = patternsOf(config);
  const csv = config.csv ?? {};
  return {
    patterns,
    format: requireFormat(patterns, config.format),
    csv: {
      delimiter: csv.delimiter ?? ',',
      header: csv.header ?? true,
      quote: csv.quote ?? '"',
      skipEmptyLines: csv.skipEmptyLines ?? true,
      cast: csv.cast ?? false,
    },
  };
}

/** Rule: the format is given or follows from the file extensions. */
export function formatIsKnown(config: Config): RuleViolation | undefined {
  const problem = formatProblem(patternsOf(config), config.format);
  return problem ? { path: 'format', message: problem, hint: formatHint } : undefined;
}

/** Rule: `csv` options only make sense for CSV. */
export function csvOptionsNeedCsv(config: Config): RuleViolation | undefined {
  const format = inferFormat(patternsOf(config), config.format);
  if (config.csv === undefined || format === undefined || format === 'csv') return undefined;
  return { path: 'csv', message: `csv options apply to format csv only; this step reads ${format}`, hint: 'remove csv, or set format: csv' };
}

interface ItemParser {
  feed(chunk: Buffer): void;
  end(): void | Promise<void>;
}

async function openParser(options: FileSourceOptions, pages: PageCollector, file: InputFile, from: FileCursor): Promise<ItemParser> {
  switch (options.format) {
    case 'jsonl':
      return new JsonLinesParser(pages, file.name, from.offset, from.line);
    case 'json':
      return new JsonArrayParser(pages, file.name, from.offset, from.line, from.index ?? -1);
    case 'csv': {
      // A resumed read seeks past the header row, so read it first from the file's start.
      const header = options.csv.header === true && from.offset > 0 ? await readCsvHeader(file, options.csv) : undefined;
      return new CsvRecordParser(pages, file.name, from.offset, from.line, options.csv, header);
    }
  }
}

/** Reads the files in order from `cursor`, in pages of at most `batchSize` items. */
async function* readFiles(files: readonly InputFile[], options: FileSourceOptions, read: ReadOptions): AsyncGenerator<SourcePage> {
  const { signal } = read;
  const start = resumePoint(read.cursor, files, options.patterns.map((p) => `'${p}'`).join(', '));
  const pages = new PageCollector(Math.max(1, read.batchSize), options.format === 'json');
  let before = 0;
  for (let i = 0; i < start.file; i++) before += files[i].size;
  for (let i = start.file; i < files.length; i++) {
    if (signal.aborted) return;
    const file = files[i];
    const from = i === start.file ? start : START;
    const chunks = new FileChunks(file, from.offset);
    const parser = await openParser(options, pages, file, from);
    const base = before;
    pages.beginFile(i, file.name, file.gzip ? () => base + chunks.diskRead : () => base + pages.offset);
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
    before += file.size;
  }
  pages.finish(before);
  const last = pages.ready.shift();
  if (last && !signal.aborted) yield last;
}

/** The `file` source: JSON Lines, CSV or a JSON array, from one file or a glob of many, `.gz` or not. */
export const fileSource = defineSource({
  name: 'file',
  description: 'Reads JSON Lines, CSV or JSON array files (a path, a glob or a list), plain or .gz, streaming and resumable.',
  schema: fileSourceSchema,
  rules: [formatIsKnown, csvOptionsNeedCsv],
  async create(config, ctx): Promise<SourceInstance> {
    const options = normaliseSourceConfig(config as Config);
    const files = await expandInputs(options.patterns, (p) => ctx.resolvePath(p), ctx.job.dir);
    const total = files.reduce((sum, f) => sum + f.size, 0);
    return {
      read: (read) => readFiles(files, options, read),
      estimate: async () => ({ total, unit: 'bytes' }),
    };
  },
});
