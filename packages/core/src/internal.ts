// The engine's own surface, for the sluice CLI and Sluice's own packages. Not for plugins:
// a plugin uses only what `@sluice/core` exports.
export { loadJob, loadJobText, applySet, fingerprintOf, type LoadOptions, type LoadResult } from './job/load.js';
export type { JobPlan, StepPlan, RetryPolicy } from './job/plan.js';
export { jobSchema, retrySchema, stepSettingsProperties } from './job/schema.js';
export { formatDiagnostic, displayPath, didYouMean, type Diagnostic } from './job/diagnostics.js';
export { parseDuration, parseRate, parseFailureBudget } from './job/values.js';
export { sluiceAjv, compileSchema, SLUICE_KEYWORDS } from './job/ajv.js';
export { PluginRegistry, type RegisteredPlugin, type RegistryProblem } from './plugin/registry.js';
export { importPlugin, loadPluginModule, resolvePackage, isModulePath, PluginLoadError, CORE_VERSION, type LoadedPluginModule } from './plugin/resolve.js';
export { parseYaml, locate, type PositionedYaml } from './job/yaml.js';
export { JobRun, CheckpointMismatchError, type RunOptions } from './engine/run.js';
export { Services, runContainer, checkpointStoreKinds, connectionKinds, type RunServices } from './plugin/services.js';
export { openCheckpointStore } from './checkpoint/open.js';
export { fileStore, noStore } from './checkpoint/core-stores.js';
export type { CheckpointStoreFactory, CheckpointStoreOptions, CheckpointStoreDefinition, ConnectionKindDefinition, CheckpointConfig } from './plugin/extensions.js';
export { planPartitions, type PartitionPlan, type PlanPartitionsOptions } from './engine/partitions.js';
export { Pipeline, RunFailure, formatPosition, messageOf, type EnginePage } from './engine/pipeline.js';
export { backoffDelay } from './engine/backoff.js';
export { StepThrottle } from './engine/throttle.js';
export { RunConnections } from './engine/connections.js';
export { FileCheckpointStore, NoCheckpointStore } from './checkpoint/file-store.js';
export type { Checkpoint, CheckpointStore } from './checkpoint/types.js';
export { CheckpointLockedError, describeHolder, FileLock, isStale, lockHolder, parseHolder, processAlive, type CheckpointLock, type LockHolder, type LockOptions } from './checkpoint/lock.js';
export { EventBus, BusLogger, Redactor, redactValue } from './events/bus.js';
export * from './events/types.js';
export { replayDeadLetters, deadLettersOfMissingSteps, ReplayRefusedError, type ReplayOptions, type ReplayResult } from './engine/replay.js';
export { editorSchema } from './job/editor-schema.js';
export { FileLedger, type Ledger } from './checkpoint/ledger.js';
