import { createRequire } from 'node:module';
import type { Ajv, Options, SchemaValidateFunction, ValidateFunction } from 'ajv';
import { META_SCHEMA_ID, metaSchemaFingerprint } from './fingerprint.js';
import { keywordValidators } from './keywords.js';
import { META_SCHEMA_FINGERPRINT, validate as generatedMetaValidate } from './meta-validator.generated.js';
import { precompiledValidator } from './precompiled.js';

export { SLUICE_KEYWORDS } from './keywords.js';

// ajv and ajv-formats load at the first schema compiled, not at every start-up (~40 ms): a run
// whose schemas all have validators generated at build time (precompiled.ts) never loads them.
// Both are CommonJS; require() also spares Node's scan of their export names that import() makes.
const require = createRequire(import.meta.url);
const ajvModule = () => require('ajv') as typeof import('ajv');
// ajv-formats is CommonJS with a default export.
const addFormats = (ajv: Ajv, options?: object) => (require('ajv-formats') as { default: (ajv: Ajv, options?: object) => Ajv }).default(ajv, options);

/**
 * The options of every ajv here, the generated job validator's included (standalone.ts). Each
 * validator runs about once per job load: skip ajv's code optimisation, which costs more than it saves here.
 */
export const AJV_OPTIONS = { allErrors: true, strict: false, verbose: true, code: { optimize: false } } as const satisfies Options;

/** The options of the ajv that compiles a schema, with or without filling in defaults. */
export function ajvOptions(withDefaults: boolean): Options {
  return { ...AJV_OPTIONS, useDefaults: withDefaults };
}

/** Adds the formats and Sluice's keywords to an ajv; `formatsCode` is for generated (standalone) code. */
export function addSluiceVocabulary(ajv: Ajv, formatsCode?: unknown): Ajv {
  addFormats(ajv, formatsCode ? { code: { formats: formatsCode } } : undefined);
  // The functions keep their errors on themselves, null when valid (as ajv itself resets them).
  for (const [keyword, validate] of Object.entries(keywordValidators)) ajv.addKeyword({ keyword, schemaType: 'boolean', validate: validate as SchemaValidateFunction, errors: true });
  return ajv;
}

const shared: { plain?: Ajv; defaults?: Ajv } = {};

/**
 * One ajv for job and plugin schemas, with Sluice's custom keywords. `withDefaults` fills in each
 * missing option that has a `default` (plugin, store and connection options); the job schema is
 * checked without, since a step's unset setting must still inherit the job's `defaults:`.
 */
export function sluiceAjv(withDefaults = false): Ajv {
  const key = withDefaults ? 'defaults' : 'plain';
  const existing = shared[key];
  if (existing) return existing;
  const ajv = addSluiceVocabulary(new (ajvModule().Ajv)(ajvOptions(withDefaults)));
  useGeneratedMetaValidator(ajv);
  shared[key] = ajv;
  return ajv;
}

/**
 * ajv checks every schema it compiles against the draft-07 meta-schema, whose validator it compiles
 * first (~80 ms of start-up). This one was generated from the same ajv at build time (standalone.ts);
 * ajv uses it as if it had compiled it, so the check and its errors stay ajv's own. With another ajv
 * version than it was made from, ajv compiles its meta-schema as usual.
 */
function useGeneratedMetaValidator(ajv: Ajv): void {
  const meta = ajv.schemas[META_SCHEMA_ID];
  if (meta && !meta.validate && META_SCHEMA_FINGERPRINT === metaSchemaFingerprint(ajv)) meta.validate = generatedMetaValidate as unknown as ValidateFunction;
}

const compiled = { plain: new WeakMap<object, ValidateFunction>(), defaults: new WeakMap<object, ValidateFunction>() };

/**
 * A schema's validator, compiled once per process (or generated at build time: precompiled.ts);
 * with `withDefaults` it fills in defaults as it validates.
 */
export function compileSchema(schema: object, withDefaults = false): ValidateFunction {
  const cache = compiled[withDefaults ? 'defaults' : 'plain'];
  let fn = cache.get(schema);
  if (!fn) {
    fn = precompiledValidator(schema, ajvOptions(withDefaults)) ?? sluiceAjv(withDefaults).compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}
