import type { CheckpointStoreFactory } from '@sluice/core';

/** No record plugins: this package adds the `redis` checkpoint store. */
export default [];

export const checkpointStores: Readonly<Record<string, CheckpointStoreFactory>> = {};
