import type { CheckpointStore } from '../checkpoint/types.js';
import type { ConnectionRegistry } from '../engine/connections.js';
import { PLUGIN_API_VERSION, type ConfigOf, type PluginSchema, type RuleViolation, type WrittenConfigOf } from './types.js';

/** A job's `checkpoint:` block after validation: `store` and that store's own options, defaults filled in. */
export interface CheckpointConfig {
  readonly store: string;
  /** Set by stores that keep the checkpoint in a named connection's database (a sink on it may commit with it). */
  readonly connection?: string;
  readonly [option: string]: unknown;
}

/** Where and how a job wants its checkpoints kept; given to a checkpoint store's `create`. */
export interface CheckpointStoreOptions<C = CheckpointConfig> {
  readonly job: string;
  /** The job file's folder. */
  readonly dir: string;
  readonly config: C;
  readonly connections: ConnectionRegistry;
  /** Set for a partition of a distributed run: its checkpoint is kept apart from the others. */
  readonly partition?: number;
  readonly fingerprint: string;
}

/** Opens a checkpoint store; a run may be handed one in place of a store's own `create` (distributed partitions, tests). */
export type CheckpointStoreFactory = (options: CheckpointStoreOptions) => CheckpointStore | Promise<CheckpointStore>;

/**
 * A kind of checkpoint store (`checkpoint: { store: <name>, … }`), contributed by the package
 * that implements it. Its schema describes the block's options besides `store`; `sluice validate`
 * checks them, fills in their defaults and `sluice schema` offers them to editors.
 */
export interface CheckpointStoreDefinition<S = PluginSchema> {
  readonly kind: 'checkpointStore';
  readonly name: string;
  readonly description: string;
  readonly schema: S;
  /** Cross-field checks, as a plugin's; paths are inside the `checkpoint:` block. */
  readonly rules?: ReadonlyArray<(config: WrittenConfigOf<S>) => RuleViolation | RuleViolation[] | undefined>;
  create(options: CheckpointStoreOptions<ConfigOf<S> & { readonly store: string }>): CheckpointStore | Promise<CheckpointStore>;
}

/**
 * A kind of named connection (`connections: { x: { client: <name>, … } }`), contributed by the
 * package whose plugins open it. Its schema describes the connection's options besides `client`.
 */
export interface ConnectionKindDefinition<S = PluginSchema> {
  readonly kind: 'connection';
  readonly name: string;
  readonly description: string;
  readonly schema: S;
}

/**
 * A store kind whatever its schema, as the registry keeps it (`CheckpointStoreDefinition<any>`
 * would make the compiler expand `FromSchema<any>` and give up).
 */
export interface AnyCheckpointStoreDefinition {
  readonly kind: 'checkpointStore';
  readonly name: string;
  readonly description: string;
  readonly schema: object;
  readonly rules?: ReadonlyArray<(config: never) => RuleViolation | RuleViolation[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  create(options: CheckpointStoreOptions<any>): CheckpointStore | Promise<CheckpointStore>;
}

export type AnyExtensionDefinition = AnyCheckpointStoreDefinition | ConnectionKindDefinition<object>;

const stamp = <T extends object>(def: T, kind: string) => Object.freeze({ ...def, kind, apiVersion: PLUGIN_API_VERSION });

/** Defines a checkpoint store kind; export it in the package's default array beside its plugins. */
export function defineCheckpointStore<const S extends PluginSchema>(def: Omit<CheckpointStoreDefinition<S>, 'kind'>): CheckpointStoreDefinition<S> {
  return stamp(def, 'checkpointStore') as unknown as CheckpointStoreDefinition<S>;
}

/** Defines a connection kind (a `client:` value); export it in the package's default array. */
export function defineConnectionKind<const S extends PluginSchema>(def: Omit<ConnectionKindDefinition<S>, 'kind'>): ConnectionKindDefinition<S> {
  return stamp(def, 'connection') as unknown as ConnectionKindDefinition<S>;
}

export function isExtensionDefinition(value: unknown): value is AnyExtensionDefinition {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || typeof v.schema !== 'object' || v.schema === null) return false;
  return (v.kind === 'checkpointStore' && typeof v.create === 'function') || v.kind === 'connection';
}
