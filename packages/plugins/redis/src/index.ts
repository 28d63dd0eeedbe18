import { redisStore } from './checkpoint-store.js';

/** No record plugins: this package adds the `redis` checkpoint store (`checkpoint: { store: redis, url, prefix }`). */
export default [redisStore];

export { redisStore, RedisCheckpointStore, redisCheckpointStore, clearRunCheckpoints, type RedisCheckpointStoreOptions } from './checkpoint-store.js';
export { RedisLedger } from './ledger.js';
export { checkpointKey, ledgerKey, DEFAULT_PREFIX } from './keys.js';
export { RedisEndpoint, messageOf as redisErrorText, withoutCredentials, type EndpointParseOptions } from './endpoint.js';
