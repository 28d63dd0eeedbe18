import type { ValidateFunction } from 'ajv';
import { compileSchema } from './ajv.js';
import { JOB_SCHEMA_FINGERPRINT, validate as generated } from './job-validator.generated.js';
import { jobSchema } from './schema.js';
import { jobSchemaFingerprint } from './fingerprint.js';

let chosen: ValidateFunction | undefined;

/**
 * The job schema's validator: the one generated at build time (no ajv compile at start-up), or,
 * when schema.ts changed since it was generated, the schema compiled now — slower, never wrong.
 * (job-validator.test.ts fails while the generated file is stale, so that only lasts until the tests run.)
 */
export function jobValidator(): ValidateFunction {
  chosen ??= JOB_SCHEMA_FINGERPRINT === jobSchemaFingerprint() ? (generated as ValidateFunction) : compileSchema(jobSchema);
  return chosen;
}
