// Plugins of this package; filled in by its own issue.
import type { CheckpointStoreFactory } from '@sluice/core';

export default [] as const;
export const checkpointStores: Record<string, CheckpointStoreFactory> = {};
