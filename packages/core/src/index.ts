export * from './plugin/types.js';
export { defineSource, defineTransform, defineSink } from './plugin/define.js';
export type { Clock } from './engine/clock.js';
export { systemClock } from './engine/clock.js';
export type { Logger, LogLevel } from './events/logger.js';
export type { ConnectionRegistry, ConnectionConfig, OpenedConnection } from './engine/connections.js';
export type { CompiledExpression, CompiledTemplate, ExpressionScope } from './expr/index.js';
export { ExpressionError } from './expr/index.js';
export { RecordError, TransientError, PermanentError } from './errors/index.js';
