import { httpSink } from './sink.js';
import { httpSource } from './source.js';
import { httpTransform } from './transform.js';

export { httpSource, httpSourceSchema, type HttpSourceConfig, type HttpSourceCursor } from './source.js';
export { httpTransform, httpTransformSchema, type HttpTransformConfig } from './transform.js';
export { httpSink, httpSinkSchema, idempotencyKey, type HttpSinkConfig } from './sink.js';
export { parseRetryAfter } from './durations.js';

export default [httpSource, httpTransform, httpSink];
