import type { DependencyContainer } from 'tsyringe';
import { RunConnections } from '../engine/connections.js';
import type { JobPlan } from '../job/plan.js';
import type { CheckpointStoreFactory } from '../plugin/extensions.js';
import { checkpointStoreKinds } from '../plugin/services.js';
import type { CheckpointStore } from './types.js';

/**
 * Opens the checkpoint store a job names: the kind registered in the job's container under that
 * name, unless `overrides` replaces it (a distributed partition keeps its checkpoint elsewhere).
 */
export async function openCheckpointStore(
  plan: JobPlan,
  overrides: Readonly<Record<string, CheckpointStoreFactory>> = {},
  connections = new RunConnections(plan.connections),
  partition?: number,
  container: DependencyContainer = plan.container,
): Promise<CheckpointStore> {
  const name = plan.checkpoint.store;
  const kinds = checkpointStoreKinds(container);
  const factory = overrides[name] ?? (kinds.find((kind) => kind.name === name)?.create as CheckpointStoreFactory | undefined);
  if (!factory) throw new Error(`checkpoint store '${name}' is not available (known: ${[...new Set([...kinds.map((k) => k.name), ...Object.keys(overrides)])].join(', ')})`);
  return factory({ job: plan.name, dir: plan.dir, config: plan.checkpoint, connections, fingerprint: plan.fingerprint, ...(partition !== undefined ? { partition } : {}) });
}
