import type { ErrorObject } from 'ajv';
import { compileSchema } from '../job/ajv.js';
import type { ConfigOf } from './types.js';

/** What checking a `with` (or a store's or connection's options) against its schema found. */
export interface CheckedConfig {
  readonly valid: boolean;
  readonly errors: ErrorObject[];
  /** A copy of the config with every missing option that has a `default` filled in: what `create` gets. */
  readonly config: Record<string, unknown>;
}

/**
 * The one config path: validates `written` against `schema` and fills in its defaults (ajv
 * `useDefaults`) on a copy, so rules still see what the user wrote and `create` sees
 * `ConfigOf<typeof schema>`.
 */
export function checkConfigAgainst(schema: object, written: unknown): CheckedConfig {
  const config = structuredClone(written ?? {}) as Record<string, unknown>;
  const validate = compileSchema(schema, true);
  const valid = validate(config);
  return { valid, errors: valid ? [] : [...(validate.errors ?? [])], config };
}

/**
 * A copy of `config` with the schema's defaults filled in, as the engine hands a step's `with` to
 * `create` — for a plugin that calls another plugin's `create` itself (`withDefaults(fileSource.schema, { path })`).
 */
export function withDefaults<S extends object>(schema: S, config: unknown): ConfigOf<S> {
  return checkConfigAgainst(schema, config).config as ConfigOf<S>;
}
