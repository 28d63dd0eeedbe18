import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { AJV_OPTIONS, addSluiceVocabulary, compileSchema, sluiceAjv } from './ajv.js';
import { jobSchemaFingerprint, META_SCHEMA_ID } from './fingerprint.js';
import { validate as generated } from './job-validator.generated.js';
import { validate as generatedMeta } from './meta-validator.generated.js';
import { jobValidator } from './job-validator.js';
import { jobSchema, retrySchema } from './schema.js';
import { jobValidatorSource, metaValidatorSource } from './standalone.js';
import { parseYaml } from './yaml.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../../../..');

/** The job schema compiled now, as before the generated validator existed. */
const compiled = addSluiceVocabulary(new Ajv({ ...AJV_OPTIONS })).compile(jobSchema);

const jobFiles = readdirSync(join(root, 'jobs'))
  .filter((f) => /\.yaml$/.test(f) && !f.endsWith('.test.yaml'))
  .map((f) => [f, parseYaml(readFileSync(join(root, 'jobs', f), 'utf8'), f).value] as const);

const step = { use: 'map', with: { set: { a: '1' } } };
const valid = { version: 1, name: 'x', source: { use: 'file', with: { path: 'in.csv' } }, sink: { use: 'file', with: { path: 'out.jsonl' } } };
/** Every kind of problem the schema knows: types, enums, patterns, required, unknown keys, limits, and each custom keyword. */
const broken: Array<[string, unknown]> = [
  ['not an object', 'version: 1'],
  ['an array', [valid]],
  ['empty', {}],
  ['wrong version', { ...valid, version: 2 }],
  ['bad name', { ...valid, name: 'Bad Name' }],
  ['long name', { ...valid, name: 'a'.repeat(101) }],
  ['unknown top-level key', { ...valid, bach: {} }],
  ['batch of the wrong types and sizes', { ...valid, batch: { size: 'many', inFlight: 0, extra: 1 } }],
  ['batch size too large', { ...valid, batch: { size: 2_000_000 } }],
  ['plugins not strings', { ...valid, plugins: ['', 3] }],
  ['connection without a client string', { ...valid, connections: { db: { client: 4, url: 5 }, other: 'x' } }],
  ['defaults with bad values', { ...valid, defaults: { timeout: '5 seconds', rateLimit: 'fast', onError: 'ignore', concurrency: 0, retry: { attempts: 0, initialDelay: 'soon', jitter: 'yes', on: [true] } } }],
  ['step without use', { ...valid, steps: [{ with: {} }] }],
  ['step with bad id and unknown key', { ...valid, steps: [{ ...step, id: '-x', concurency: 4 }] }],
  ['bad when expression', { ...valid, steps: [{ ...step, when: 'record.a ==' }] }],
  ['when is not a string', { ...valid, steps: [{ ...step, when: 42 }] }],
  ['bad durations and rates on a sink', { ...valid, sink: { use: 'file', timeout: -1, rateLimit: '100/fortnight', retry: { maxDelay: '1 year' } } }],
  ['sinks empty', { ...valid, sink: undefined, sinks: [] }],
  ['sinks with a bad one', { ...valid, sink: undefined, sinks: [{ use: '' }, { use: 'file', with: [] }] }],
  ['steps not an array', { ...valid, steps: { use: 'map' } }],
  ['deadLetter without use', { ...valid, deadLetter: { with: {}, onError: 'skip' } }],
  ['errors.maxFailed wrong', { ...valid, errors: { maxFailed: '1 percent' } }],
  ['errors.maxFailed of another type', { ...valid, errors: { maxFailed: true, other: 1 } }],
  ['checkpoint store empty', { ...valid, checkpoint: { store: '' } }],
  ['$schema not a string', { ...valid, $schema: 1 }],
];

describe('the generated job validator', () => {
  it('is what the generator makes of the current job schema (else: node scripts/generate-validators.mjs)', () => {
    expect(readFileSync(join(here, 'job-validator.generated.ts'), 'utf8')).toBe(jobValidatorSource());
  });

  it('is the one used, since it was made from this schema', () => {
    expect(jobValidator()).toBe(generated);
  });

  it.each([...jobFiles.map(([f, v]) => [`jobs/${f}`, v] as const), ['a minimal job', valid] as const])('accepts %s as the compiled schema does', (_name, job) => {
    expect(compiled(job)).toBe(true);
    expect(generated(job)).toBe(true);
  });

  it.each(broken)('reports the same errors as the compiled schema: %s', (_name, job) => {
    const want = compiled(job);
    const wantErrors = structuredClone(compiled.errors);
    const got = generated(job);
    expect(want).toBe(false);
    expect(got).toBe(false);
    expect(generated.errors).toEqual(wantErrors);
  });

  it('is not used once the job schema differs from the one it was made from', () => {
    expect(jobSchemaFingerprint({ ...jobSchema, required: ['version'] })).not.toBe(jobSchemaFingerprint());
  });
});

/** ajv as it was before the generated meta-schema validator: it compiles its own. */
const plainAjv = () => addSluiceVocabulary(new Ajv({ ...AJV_OPTIONS, useDefaults: true }));

const schemas: Array<[string, unknown]> = [
  ['the job schema', jobSchema],
  ['the retry schema', retrySchema],
  ['a plugin-like schema', { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string', minLength: 1, format: 'uri-reference' }, n: { type: 'integer', default: 3, minimum: 1 }, mode: { enum: ['a', 'b'] }, when: { type: 'string', expression: true } } }],
  ['a misspelt type', { type: 'strnig' }],
  ['a minimum that is not a number', { type: 'object', properties: { n: { minimum: 'x' } } }],
  ['required not an array', { type: 'object', required: 'path' }],
  ['a bad $id', { $id: 42 }],
  ['properties not an object', { properties: [] }],
  ['a pattern of the wrong type and an enum with duplicates', { pattern: 1, enum: [1, 1] }],
];

describe('the generated meta-schema validator', () => {
  it('is what the generator makes of the installed ajv (else: node scripts/generate-validators.mjs)', () => {
    expect(readFileSync(join(here, 'meta-validator.generated.ts'), 'utf8')).toBe(metaValidatorSource());
  });

  it('is the one the shared ajv instances use', () => {
    expect(sluiceAjv(true).schemas[META_SCHEMA_ID]?.validate).toBe(generatedMeta);
    expect(sluiceAjv(false).schemas[META_SCHEMA_ID]?.validate).toBe(generatedMeta);
  });

  it.each(schemas)('judges %s as the compiled meta-schema does', (_name, schema) => {
    const ajv = plainAjv();
    const want = ajv.validateSchema(schema as object);
    const wantErrors = structuredClone(ajv.errors);
    expect(ajv.schemas[META_SCHEMA_ID]?.validate).not.toBe(generatedMeta);
    expect(generatedMeta(schema)).toBe(want);
    expect(generatedMeta.errors ?? null).toEqual(wantErrors);
  });

  it.each(schemas.slice(3))('makes compileSchema refuse %s with the message ajv gives', (_name, schema) => {
    let want = '';
    try {
      plainAjv().compile(schema as object);
    } catch (error) {
      want = (error as Error).message;
    }
    // ajv finds some problems ($id not a string) before it checks against the meta-schema.
    expect(want).not.toBe('');
    expect(() => compileSchema(structuredClone(schema) as object, true)).toThrow(want);
  });
});
