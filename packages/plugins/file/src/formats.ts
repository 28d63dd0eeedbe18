import { PermanentError } from '@sluice/core';

export const FORMATS = ['jsonl', 'csv', 'json'] as const;
export type FileFormat = (typeof FORMATS)[number];

const BY_EXTENSION: Record<string, FileFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.json': 'json',
};

/** True for paths ending in `.gz` (any case). */
export function isGzipPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gz');
}

/** The format a file name implies (`.jsonl`, `.ndjson`, `.csv`, `.json`, each optionally `.gz`), if any. */
export function formatFromPath(path: string): FileFormat | undefined {
  let lower = path.toLowerCase();
  if (lower.endsWith('.gz')) lower = lower.slice(0, -3);
  const dot = lower.lastIndexOf('.');
  const slash = Math.max(lower.lastIndexOf('/'), lower.lastIndexOf('\\'));
  if (dot <= slash) return undefined;
  return BY_EXTENSION[lower.slice(dot)];
}

export const formatHint = 'set format: jsonl, csv or json';

/** The explicit format, or the one every path agrees on; undefined when it cannot be told. */
export function inferFormat(paths: readonly string[], explicit: string | undefined): FileFormat | undefined {
  if (explicit !== undefined) return explicit as FileFormat;
  const found = new Set(paths.map(formatFromPath));
  if (found.size !== 1) return undefined;
  return [...found][0];
}

/** Why no format could be inferred, or undefined when one can. Used by the `rules` and by `create`. */
export function formatProblem(paths: readonly string[], explicit: string | undefined): string | undefined {
  if (explicit !== undefined || inferFormat(paths, undefined) !== undefined) return undefined;
  const unknown = paths.filter((p) => formatFromPath(p) === undefined);
  if (unknown.length > 0) {
    return `cannot tell the format of '${unknown[0]}' from its extension (known: .jsonl, .ndjson, .csv, .json, each optionally .gz)`;
  }
  const kinds = [...new Set(paths.map(formatFromPath))].join(', ');
  return `the paths have different formats (${kinds}); one file step reads one format`;
}

/** Throws a user-facing error when the format cannot be told; returns it otherwise. */
export function requireFormat(paths: readonly string[], explicit: string | undefined): FileFormat {
  const problem = formatProblem(paths, explicit);
  if (problem) throw new PermanentError(`file: ${problem}; ${formatHint}`);
  return inferFormat(paths, explicit)!;
}

/** Cuts long raw text for error reports. */
export function trimRaw(text: string, max = 1000): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
