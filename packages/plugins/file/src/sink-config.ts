// The file sink's options: schema, rules, and what the writer derives from them (format, gzip,
// the partition's path). Apart from sink.ts so read-back.ts can use them without a cycle.
import type { ConfigOf, RuleViolation, WrittenConfigOf } from '@sluice/core';
import type { CsvWriteOptions } from './encode.js';
import { FORMATS, formatHint, formatProblem, inferFormat, isGzipPath, requireFormat, type FileFormat } from './formats.js';

/** JSON Schema of the file sink's `with`. */
export const fileSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      description:
        'Output file, relative to the job file. A fresh run replaces it; a resumed run truncates it to its checkpointed size and appends. In a distributed run (sluice run --workers) each partition writes its own file: {partition} in the path becomes the partition number, and a path without it gets .p<number> before its extension (out/users.jsonl → out/users.p0.jsonl, out.csv.gz → out.p0.csv.gz). A run that is not distributed writes {partition} as 0.',
      examples: ['out/users.jsonl', 'out/users.csv.gz', 'out/report.json', 'out/users-{partition}.jsonl'],
    },
    format: {
      type: 'string',
      enum: FORMATS,
      description:
        'jsonl (one JSON object per line), csv, or json (one array, one element per line). Default: from the extension (.jsonl/.ndjson, .csv, .json, each optionally .gz).',
      examples: ['jsonl', 'csv'],
    },
    csv: {
      type: 'object',
      description: 'CSV options (format csv only).',
      additionalProperties: false,
      default: {},
      examples: [{ delimiter: ';', columns: ['id', 'email'] }],
      properties: {
        delimiter: { type: 'string', minLength: 1, description: 'Field separator.', default: ',', examples: [',', ';', '\t'] },
        header: { type: 'boolean', description: 'Write a header row with the column names first.', default: true, examples: [true, false] },
        columns: {
          type: 'array',
          items: { type: 'string' },
          minItems: 1,
          description:
            'Columns and their order. Default: the keys of the first record written; fields of later records that are not among them are left out (with a warning).',
          examples: [['id', 'name', 'email']],
        },
      },
    },
    gzip: {
      type: 'boolean',
      description: 'Compress with gzip (each batch is one gzip member; the concatenation is a valid .gz file). Default: true when path ends in .gz.',
      examples: [true],
    },
    mkdir: { type: 'boolean', description: "Create the output file's folders when they are missing.", default: true, examples: [true, false] },
  },
} as const;

/** The sink's `with` as `create` gets it (defaults filled in), and as the user wrote it (rules). */
export type FileSinkConfig = ConfigOf<typeof fileSinkSchema>;
type Written = WrittenConfigOf<typeof fileSinkSchema>;

/** Options with every default filled in. */
export interface FileSinkOptions {
  readonly path: string;
  readonly format: FileFormat;
  readonly csv: CsvWriteOptions;
  readonly gzip: boolean;
  readonly mkdir: boolean;
}

/** What the sink saves with each checkpoint. */
export interface FileSinkState {
  /** Bytes in the file after the checkpointed batch (on disk, so compressed for gzip). */
  readonly size: number;
  readonly records: number;
  /** CSV: the column order in use, so a resumed run keeps it and writes no second header. */
  readonly columns?: readonly string[];
}

/** What the writer needs of the config: the format inferred when not given, gzip from the extension unless set. */
export function normaliseSinkConfig(config: FileSinkConfig): FileSinkOptions {
  return {
    path: config.path,
    format: requireFormat([config.path], config.format),
    csv: config.csv,
    gzip: config.gzip ?? isGzipPath(config.path),
    mkdir: config.mkdir,
  };
}

/** Stands for the partition number in a sink path. */
export const PARTITION_PLACEHOLDER = '{partition}';

/**
 * The file a sink writes: `{partition}` becomes the partition number (0 when the run is not
 * distributed); in a partition of a distributed run, a path without it gets `.p<index>` before
 * its extension(s) — `out/users.jsonl` → `out/users.p2.jsonl`, `out.csv.gz` → `out.p2.csv.gz`,
 * `out` → `out.p2` — so partitions running at once never share a file.
 */
export function partitionPath(path: string, partition: { readonly index: number } | undefined): string {
  if (path.includes(PARTITION_PLACEHOLDER)) return path.split(PARTITION_PLACEHOLDER).join(String(partition?.index ?? 0));
  if (!partition) return path;
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const dir = path.slice(0, slash + 1);
  let name = path.slice(slash + 1);
  let extension = '';
  if (/.\.gz$/i.test(name)) {
    extension = name.slice(-3);
    name = name.slice(0, -3);
  }
  const dot = name.lastIndexOf('.');
  if (dot > 0) {
    extension = name.slice(dot) + extension;
    name = name.slice(0, dot);
  }
  return `${dir}${name}.p${partition.index}${extension}`;
}

/** Rule: the format is given or follows from the file extension. */
export function sinkFormatIsKnown(config: Written): RuleViolation | undefined {
  const problem = formatProblem([config.path], config.format);
  return problem ? { path: 'format', message: problem, hint: formatHint } : undefined;
}

/** Rule: `csv` options only make sense for CSV. */
export function sinkCsvOptionsNeedCsv(config: Written): RuleViolation | undefined {
  const format = inferFormat([config.path], config.format);
  if (config.csv === undefined || format === undefined || format === 'csv') return undefined;
  return { path: 'csv', message: `csv options apply to format csv only; this step writes ${format}`, hint: 'remove csv, or set format: csv' };
}
