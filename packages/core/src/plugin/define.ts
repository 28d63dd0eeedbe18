import type { JSONSchema } from 'json-schema-to-ts';
import {
  PLUGIN_API_VERSION,
  type SinkDefinition,
  type SourceDefinition,
  type TransformDefinition,
} from './types.js';

type Omit2<T> = Omit<T, 'kind'>;
const brand = <T extends object>(def: T, kind: string) =>
  Object.freeze({ ...def, kind, apiVersion: PLUGIN_API_VERSION }) as unknown as T;

/** Defines a source plugin: `create` returns `read({ cursor, batchSize, signal })` yielding pages. */
export function defineSource<const S extends JSONSchema>(def: Omit2<SourceDefinition<S>>): SourceDefinition<S> {
  return brand(def, 'source') as SourceDefinition<S>;
}

/** Defines a transform plugin: `create` returns `process(record)` → record, records or null. */
export function defineTransform<const S extends JSONSchema>(def: Omit2<TransformDefinition<S>>): TransformDefinition<S> {
  return brand(def, 'transform') as TransformDefinition<S>;
}

/** Defines a sink plugin: `create` returns `write(records, info)` and optionally `state()`/`flush()`. */
export function defineSink<const S extends JSONSchema>(def: Omit2<SinkDefinition<S>>): SinkDefinition<S> {
  return brand(def, 'sink') as SinkDefinition<S>;
}
