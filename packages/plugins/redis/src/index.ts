import type { CheckpointStoreFactory } from '@sluice/core';
import { redisStoreFactory } from './checkpoint-store.js';

/** No record plugins: this package adds the `redis` checkpoint store. */
export default [];

/** `checkpoint: { store: redis, url: redis://host:6379, prefix: sluice }`. */
export const checkpointStores: Readonly<Record<string, CheckpointStoreFactory>> = { redis: redisStoreFactory };

export { RedisCheckpointStore, redisCheckpointStore, clearRunCheckpoints, type RedisCheckpointStoreOptions } from './checkpoint-store.js';
export { RedisLedger } from './ledger.js';
export { checkpointKey, ledgerKey, DEFAULT_PREFIX } from './keys.js';
export { RedisEndpoint, messageOf as redisErrorText, withoutCredentials, type EndpointParseOptions } from './endpoint.js';
