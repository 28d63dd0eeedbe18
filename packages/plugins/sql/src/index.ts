import type { CheckpointStoreFactory } from '@sluice/core';
import { sqlCheckpointStore } from './checkpoint-store.js';
import { sqlSink } from './sink.js';
import { sqlSource } from './source.js';

export { sqlSource, sqlSourceSchema, tableOrQuery, queryNeedsKey, tableOptionsNeedTable, type SqlCursor } from './source.js';
export { sqlSink, sqlSinkSchema, columnsAreDistinct, keyNeedsUpsertOrCreate, createdUpsertNeedsKey, keyIsMapped, type SqlSinkState } from './sink.js';
export { SqlCheckpointStore, sqlCheckpointStore } from './checkpoint-store.js';
export { TABLES as SYSTEM_TABLES } from './system.js';

export default [sqlSource, sqlSink];

/** `checkpoint: { store: sql, connection: NAME }`. */
export const checkpointStores: Record<string, CheckpointStoreFactory> = { sql: sqlCheckpointStore };
