/**
 * `@sluice/core`: the API a Sluice plugin is written against.
 *
 * - define a plugin: {@link defineSource}, {@link defineTransform}, {@link defineSink};
 * - what the engine hands it: {@link PluginContext} and the instance types;
 * - errors that steer retries: {@link TransientError}, {@link PermanentError}, {@link RecordError};
 * - hide secrets of its own (a connection URL's password) in every encoding: {@link Redactor};
 * - test it in a few lines: {@link runTransform}, {@link collectSource}, {@link writeSink},
 *   {@link captureSink}, {@link checkConfig}, {@link createTestContext}.
 *
 * Everything else in this package is the engine's own and may change in any release; the
 * `sluice` command reaches it through `@sluice/core/internal`, which plugins must not import.
 *
 * @packageDocumentation
 */

// Defining plugins
export { defineSource, defineTransform, defineSink } from './plugin/define.js';
export { withDefaults } from './plugin/config.js';
export {
  PLUGIN_API_VERSION,
  type AnyPluginDefinition,
  type ConfigOf,
  type WrittenConfigOf,
  type PluginKind,
  type PluginSchema,
  type RuleViolation,
  type SinkDefinition,
  type SinkGuarantee,
  type SourceDefinition,
  type TransformDefinition,
} from './plugin/types.js';

// Records and the instances a plugin's `create` returns
export type {
  BatchInfo,
  BatchTransformResult,
  PositionList,
  RecordInfo,
  RecordPosition,
  RetryNotice,
  ReadOptions,
  SinkInstance,
  SluiceRecord,
  SourceEstimate,
  SourceInstance,
  SourcePage,
  RawPage,
  SourceRecordError,
  TransformInstance,
  TransformResult,
  WriteInfo,
  WriteResult,
} from './plugin/types.js';

// The context and its services
export type { JobInfo, PluginContext } from './plugin/types.js';
export type { Clock } from './engine/clock.js';
export { systemClock } from './engine/clock.js';
export { positionsArray } from './engine/positions.js';
export type { Logger, LogLevel } from './events/logger.js';
export { Redactor } from './events/redact.js';
export type { ConnectionRegistry, ConnectionConfig, OpenedConnection } from './engine/connections.js';
export type { CompiledExpression, CompiledTemplate, ExpressionScope, TemplateOptions } from './expr/index.js';
export type { Ledger } from './checkpoint/ledger.js';

// Errors
export { RecordError, TransientError, PermanentError, StartupRefusal } from './errors/index.js';
export { ExpressionError } from './expr/index.js';

// Checkpoint stores and connection kinds a plugin package may add (in its default export, beside its plugins)
export { defineCheckpointStore, defineConnectionKind } from './plugin/extensions.js';
export type {
  CheckpointConfig,
  CheckpointStoreDefinition,
  CheckpointStoreFactory,
  CheckpointStoreOptions,
  ConnectionKindDefinition,
} from './plugin/extensions.js';
export type { Checkpoint, CheckpointStore } from './checkpoint/types.js';
// A checkpoint store's run lock (`CheckpointStore.lock`): the holder, its staleness, the refusal.
export { CheckpointLockedError, isStale, lockHolder, parseHolder, pauseForLock, type CheckpointLock, type LockHolder, type LockOptions } from './checkpoint/lock.js';
export type { JobCounters, StepCounters } from './events/types.js';

// Testing a plugin (also at `@sluice/core/testing`)
export {
  captureSink,
  checkConfig,
  collectSource,
  createTestContext,
  MemoryLogger,
  runTransform,
  writeSink,
  type CapturedSink,
  type ConfigProblem,
  type TestContextOptions,
} from './testing/kit.js';
