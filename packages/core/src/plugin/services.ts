import { createRequire } from 'node:module';
import type { DependencyContainer } from 'tsyringe';
import type { AnyCheckpointStoreDefinition, ConnectionKindDefinition } from './extensions.js';

// Both are CommonJS. `require`d, not `import`ed: an import makes Node scan each file for its
// export names first (cjs-module-lexer, following tsyringe's ~30 re-exported files), which cost
// ~50 ms of every start-up; the objects are the same either way (bench/results/startup-2026-12-02.md).
// tsyringe reads decorator metadata through Reflect: the polyfill must load before it does.
const require = createRequire(import.meta.url);
require('reflect-metadata');
const { container: rootContainer } = require('tsyringe') as typeof import('tsyringe');

/**
 * Tokens of the containers Sluice composes a run from. A registry's container holds what the
 * packages contribute (store and connection kinds, any number of each); a run's child container
 * adds that run's services, which plugins then reach through `ctx`.
 */
export const Services = {
  /** Contributed: a `CheckpointStoreDefinition` per registration. */
  CheckpointStoreKind: 'sluice.CheckpointStoreKind',
  /** Contributed: a `ConnectionKindDefinition` per registration. */
  ConnectionKind: 'sluice.ConnectionKind',
  // One run's services:
  Clock: 'sluice.Clock',
  Logger: 'sluice.Logger',
  EventBus: 'sluice.EventBus',
  CheckpointStore: 'sluice.CheckpointStore',
  Connections: 'sluice.Connections',
  Redactor: 'sluice.Redactor',
  Random: 'sluice.Random',
} as const;

/** A container for a registry: a child of tsyringe's root, so nothing leaks between registries. */
export function newProviderContainer(): DependencyContainer {
  return rootContainer.createChildContainer();
}
export function checkpointStoreKinds(container: DependencyContainer): AnyCheckpointStoreDefinition[] {
  return container.isRegistered(Services.CheckpointStoreKind, true) ? container.resolveAll<AnyCheckpointStoreDefinition>(Services.CheckpointStoreKind) : [];
}

export function connectionKinds(container: DependencyContainer): ConnectionKindDefinition<object>[] {
  return container.isRegistered(Services.ConnectionKind, true) ? container.resolveAll<ConnectionKindDefinition<object>>(Services.ConnectionKind) : [];
}

/** The values a run registers in its child container. */
export interface RunServices {
  readonly clock: unknown;
  readonly bus: unknown;
  readonly redactor: unknown;
  readonly connections: unknown;
  readonly logger: unknown;
  readonly random: () => number;
}

/** The run's composition root: a child of the providers' container holding this run's services. */
export function runContainer(parent: DependencyContainer, services: RunServices): DependencyContainer {
  const container = parent.createChildContainer();
  container.register(Services.Clock, { useValue: services.clock });
  container.register(Services.EventBus, { useValue: services.bus });
  container.register(Services.Redactor, { useValue: services.redactor });
  container.register(Services.Connections, { useValue: services.connections });
  container.register(Services.Logger, { useValue: services.logger });
  container.register(Services.Random, { useValue: services.random });
  return container;
}
