/** A record: one JSON object moving through a job. */
export type SluiceRecord = Record<string, unknown>;

/** Where a record came from, as precise as the source can say (file and line, byte offset, key…). */
export type RecordPosition = Record<string, unknown>;

/**
 * The positions of a page's records, `at(i)` being where record `i` came from. An array of
 * positions is one; a source that reads many records may instead describe them cheaply (a file
 * and each record's line number) and make a position object only when `at` is called — the engine
 * asks only for a record that fails, is retried, or goes to a plugin that reads `positions`.
 * `at` must return an equal position every time it is called with the same index.
 */
export interface PositionList {
  readonly length: number;
  at(index: number): RecordPosition | undefined;
}
