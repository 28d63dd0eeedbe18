import { sqlConnectionKinds, sqlStore } from './extensions.js';
import { sqlSink } from './sink.js';
import { sqlSource } from './source.js';

export { sqlSource, sqlSourceSchema, tableOrQuery, queryNeedsKey, tableOptionsNeedTable, type SqlCursor } from './source.js';
export { sqlSink, sqlSinkSchema, columnsAreDistinct, keyNeedsUpsertOrCreate, createdUpsertNeedsKey, keyIsMapped, type SqlSinkState } from './sink.js';
export { SqlCheckpointStore, sqlCheckpointStore } from './checkpoint-store.js';
export { TABLES as SYSTEM_TABLES } from './system.js';

export { sqlStore, sqlConnectionKinds } from './extensions.js';

/** The plugins, the `sql` checkpoint store and the connection kinds (pg, mysql2, better-sqlite3). */
export default [sqlSource, sqlSink, sqlStore, ...sqlConnectionKinds];
