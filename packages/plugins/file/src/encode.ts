import { stringify } from 'csv-stringify/sync';
import { stringify as stringifyExact } from 'lossless-json';
import type { SluiceRecord } from '@sluice/core';
import type { FileFormat } from './formats.js';

/** A batch turned into text, plus what it decided (CSV columns) to keep once it is written. */
export interface EncodedBatch {
  readonly text: string;
  /** Indexes of records that cannot be written (e.g. a BigInt or a cycle), with why. */
  readonly rejected: Array<{ index: number; error: Error }>;
  readonly written: number;
  readonly columns?: string[];
}

export interface EncoderState {
  /** Bytes already in the file: a CSV header or a JSON array's `[` goes at 0. */
  readonly size: number;
  readonly columns?: readonly string[];
}

export interface CsvWriteOptions {
  readonly delimiter: string;
  readonly header: boolean;
  /** Fixed column order; otherwise the keys of the first record written. */
  readonly columns?: readonly string[];
}

function serialise(record: SluiceRecord, index: number, rejected: EncodedBatch['rejected']): string | undefined {
  try {
    const json = JSON.stringify(record);
    if (typeof json === 'string') return json;
    rejected.push({ index, error: new Error('cannot write the record: it is not a JSON value') });
  } catch (error) {
    // A BigInt (a whole number beyond 2^53 read from the input, or made by a step) is written as its
    // digits, so numbers pass through unchanged; JSON.stringify refuses it.
    if (error instanceof TypeError && /BigInt/.test(error.message)) {
      try {
        return stringifyExact(record)!;
      } catch (again) {
        error = again;
      }
    }
    rejected.push({ index, error: new Error(`cannot write the record as JSON: ${(error as Error).message}`, { cause: error }) });
  }
  return undefined;
}

/** JSON Lines: one object per line. */
export function encodeJsonLines(records: readonly SluiceRecord[]): EncodedBatch {
  const rejected: EncodedBatch['rejected'] = [];
  let text = '';
  let written = 0;
  for (let i = 0; i < records.length; i++) {
    const json = serialise(records[i], i, rejected);
    if (json === undefined) continue;
    text += json + '\n';
    written++;
  }
  return { text, rejected, written };
}

/**
 * JSON array, one element per line: `[\n` before the first element, `,\n` between elements. The
 * closing `\n]\n` is only written at close (see `closeJsonArray`), so the checkpointed size never
 * includes it and a resume can truncate and go on.
 */
export function encodeJsonArray(records: readonly SluiceRecord[], state: EncoderState): EncodedBatch {
  const rejected: EncodedBatch['rejected'] = [];
  let text = '';
  let written = 0;
  for (let i = 0; i < records.length; i++) {
    const json = serialise(records[i], i, rejected);
    if (json === undefined) continue;
    // The file holds `[` and at least one element exactly when it is not empty.
    text += (state.size === 0 && written === 0 ? '[\n' : ',\n') + json;
    written++;
  }
  return { text, rejected, written };
}

export function closeJsonArray(state: EncoderState): string {
  return state.size > 0 ? '\n]\n' : '[]\n';
}

/** A CSV cell: text as is, null/undefined empty, dates in ISO 8601, nested values as JSON. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      return JSON.stringify(value) ?? '';
  }
}

/** CSV via csv-stringify; the header row goes first when the file is still empty. */
export function encodeCsv(
  records: readonly SluiceRecord[],
  state: EncoderState,
  options: CsvWriteOptions,
  onUnknownField: (field: string, columns: readonly string[]) => void,
): EncodedBatch {
  const rejected: EncodedBatch['rejected'] = [];
  const columns = [...(options.columns ?? state.columns ?? (records.length > 0 ? Object.keys(records[0]) : []))];
  const known = new Set(columns);
  const rows: string[][] = [];
  if (state.size === 0 && options.header && records.length > 0) rows.push(columns);
  let written = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    try {
      rows.push(columns.map((c) => cell(record[c])));
    } catch (error) {
      rejected.push({ index: i, error: new Error(`cannot write the record as CSV: ${(error as Error).message}`, { cause: error }) });
      continue;
    }
    written++;
    if (options.columns === undefined) {
      for (const key in record) if (!known.has(key)) onUnknownField(key, columns);
    }
  }
  if (written === 0) return { text: '', rejected, written, columns };
  const text = stringify(rows, { delimiter: options.delimiter, record_delimiter: '\n', eof: true });
  return { text, rejected, written, columns };
}

/** The header of a CSV file that got no records, when the columns are known up front. */
export function closeCsv(state: EncoderState, options: CsvWriteOptions): string {
  if (state.size > 0 || !options.header || !options.columns) return '';
  return stringify([[...options.columns]], { delimiter: options.delimiter, record_delimiter: '\n', eof: true });
}

export function encodeBatch(
  format: FileFormat,
  records: readonly SluiceRecord[],
  state: EncoderState,
  csv: CsvWriteOptions,
  onUnknownField: (field: string, columns: readonly string[]) => void,
): EncodedBatch {
  switch (format) {
    case 'jsonl':
      return encodeJsonLines(records);
    case 'json':
      return encodeJsonArray(records, state);
    case 'csv':
      return encodeCsv(records, state, csv, onUnknownField);
  }
}
