/** A record: one JSON object moving through a job. */
export type SluiceRecord = Record<string, unknown>;

/** Where a record came from, as precise as the source can say (file and line, byte offset, key…). */
export type RecordPosition = Record<string, unknown>;
