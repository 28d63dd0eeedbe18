import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv';
import { optionSchemaFingerprint } from './fingerprint.js';

/**
 * Validators of option schemas (a plugin's `with`, a store's or a connection kind's options) that
 * ajv compiled at build time and wrote out as code (standalone.ts), by the fingerprint of what they
 * were made from. The sluice command registers those of the packages it ships; compileSchema
 * (ajv.ts) uses one when a schema's fingerprint matches — the same code ajv would compile, without
 * loading ajv and compiling at every start-up — and compiles any other schema as before.
 */
const tables = new Map<string, PrecompiledMaker>();
const made = new Map<string, ValidateFunction>();

/** A generated validator's code: it sets `module.exports` to the validator (ajv's CommonJS flavour). */
export type PrecompiledMaker = (module: { exports?: unknown }) => unknown;

/** Adds generated validators: fingerprint → the validator's code, run on first use. */
export function addPrecompiledValidators(table: Readonly<Record<string, PrecompiledMaker>>): void {
  for (const [fingerprint, make] of Object.entries(table)) tables.set(fingerprint, make);
}

/** The generated validator of `schema` under these ajv options, if one was made from exactly it. */
export function precompiledValidator(schema: object, options: object): ValidateFunction | undefined {
  if (tables.size === 0) return undefined;
  const fingerprint = optionSchemaFingerprint(schema, options);
  let fn = made.get(fingerprint);
  if (!fn) {
    const make = tables.get(fingerprint);
    if (!make) return undefined;
    fn = make({}) as ValidateFunction;
    made.set(fingerprint, fn);
  }
  return fn;
}

const coreRequire = createRequire(import.meta.url);

/**
 * The `require` of generated validators that live outside this package: ajv's run-time helpers
 * and ajv-formats' formats, resolved from here, where the ajv they were generated with is.
 */
export function ajvRuntimeRequire(id: string): unknown {
  if (!/^ajv(-formats)?\/dist\//.test(id)) throw new Error(`a generated validator may only require ajv's run-time parts (got '${id}')`);
  return coreRequire(id);
}
