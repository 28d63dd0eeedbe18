import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv } from 'ajv';
import { jobSchema } from './schema.js';

/** Where ajv (the draft-07 Ajv class) keeps its meta-schema. */
export const META_SCHEMA_ID = 'http://json-schema.org/draft-07/schema';

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** What the generated job validator was made from: a changed job schema makes it stale (job-validator.ts). */
export function jobSchemaFingerprint(schema: object = jobSchema): string {
  return hash(JSON.stringify(schema));
}

/**
 * What the generated meta-schema validator was made from: ajv's version and its draft-07
 * meta-schema. Another ajv makes it stale (ajv.ts then compiles the meta-schema as ajv does).
 */
export function metaSchemaFingerprint(ajv: Ajv): string {
  return hash(`${ajvVersion()}\n${JSON.stringify(ajv.schemas[META_SCHEMA_ID]?.schema)}`);
}

/**
 * What a validator generated at build time from an option schema was made from (precompiled.ts):
 * ajv's version, its options and the schema. Any change makes it another fingerprint, so the
 * schema is compiled as before.
 */
export function optionSchemaFingerprint(schema: object, options: object): string {
  return hash(`${ajvVersion()}\n${JSON.stringify(options)}\n${JSON.stringify(schema)}`);
}

let version: string | undefined;
function ajvVersion(): string {
  version ??= (createRequire(import.meta.url)('ajv/package.json') as { version: string }).version;
  return version;
}
