import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordError, type SluiceRecord } from '@sluice/core';
import { createTestContext, runTransform } from '@sluice/core/testing';
import {
  validate,
  validateInlineSchemaCompiles,
  validateNeedsOneSchema,
  validateSchemaFileIsJson,
  type RecordProblem,
  validateSchema,
  type ValidateConfig,
} from './validate.js';

// An explicit schema type: inferring it from the plugin can make the compiler give up (TS2589).
const validateRun = (config: ValidateConfig, records: SluiceRecord[], options?: { dir: string }) =>
  runTransform(validate, config, records, options);

const userSchema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'integer' },
    email: { type: 'string', format: 'email' },
    age: { type: 'integer', minimum: 0 },
    role: { enum: ['admin', 'user'] },
    address: { type: 'object', properties: { city: { type: 'string', minLength: 1 } } },
    items: { type: 'array', items: { type: 'object', required: ['sku'], properties: { qty: { type: 'number' } } } },
    note: { type: 'string', maxLength: 5 },
    'a/b': { type: 'string' },
  },
  additionalProperties: { not: { type: 'null' } },
};

async function failureOf(record: SluiceRecord, config: ValidateConfig = { schema: userSchema }): Promise<RecordError> {
  try {
    await validateRun(config, [record]);
  } catch (error) {
    expect(error).toBeInstanceOf(RecordError);
    return error as RecordError;
  }
  throw new Error('expected the record to fail validation');
}

describe('validate', () => {
  it('passes a valid record on as it is', async () => {
    const record = { id: 1, email: 'a@b.c', age: 3 };
    const [out] = await validateRun({ schema: userSchema }, [record]);
    expect(out).toBe(record);
  });

  it('lists every problem, with dotted paths and the values it got', async () => {
    const error = await failureOf({ id: 1, email: 'not-an-email', age: -3 });
    expect(error.message).toBe('email: must match format "email" (got "not-an-email"); age: must be >= 0 (got -3)');
  });

  it.each<[string, SluiceRecord, string]>([
    ['a missing field', { email: 'a@b.c' }, 'id: is required'],
    ['a wrong type', { id: '12' }, 'id: must be integer (got "12")'],
    ['a nested field', { id: 1, address: { city: '' } }, 'address.city: must NOT have fewer than 1 characters (got "")'],
    ['an array item', { id: 1, items: [{ sku: 'a' }, { sku: 'b', qty: 'two' }] }, 'items[1].qty: must be number (got "two")'],
    ['a missing field in an array item', { id: 1, items: [{ qty: 1 }] }, 'items[0].sku: is required'],
    ['an enum, listing the allowed values', { id: 1, role: 'root' }, 'role: must be one of "admin", "user" (got "root")'],
    ['a pointer-escaped field name', { id: 1, 'a/b': 1 }, 'a/b: must be string (got 1)'],
    ['the record itself', [] as unknown as SluiceRecord, 'record: must be object (got [])'],
    ['a long value, trimmed', { id: 1, note: 'x'.repeat(100) }, `note: must NOT have more than 5 characters (got "${'x'.repeat(38)}…)`],
    ['an extra field failing its schema', { id: 1, extra: null }, 'extra: must NOT be valid (got null)'],
  ])('%s', async (_name, record, message) => {
    expect((await failureOf(record)).message).toBe(message);
  });

  it('names a field the schema does not allow', async () => {
    const schema = { type: 'object', properties: { id: {} }, additionalProperties: false };
    expect((await failureOf({ id: 1, nmae: 'x' }, { schema })).message).toBe('nmae: is not allowed by the schema');
  });

  it('names a const', async () => {
    const schema = { properties: { v: { const: 1 } } };
    expect((await failureOf({ v: 2 }, { schema })).message).toBe('v: must be 1 (got 2)');
  });

  it('puts every problem in details.errors, but lists at most ten in the message', async () => {
    const schema = { type: 'object', properties: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, { type: 'string' }])) };
    const record = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, i]));
    const error = await failureOf(record, { schema });
    expect(error.message.split('; ')).toHaveLength(11);
    expect(error.message).toMatch(/; and 2 more$/);
    const problems = error.details!.errors as RecordProblem[];
    expect(problems).toHaveLength(12);
    expect(problems[0]).toEqual({
      path: 'f0',
      message: 'must be string (got 0)',
      keyword: 'type',
      params: { type: 'string' },
      schemaPath: '#/properties/f0/type',
    });
  });

  it('throws a record error, which the engine does not retry', async () => {
    const error = await failureOf({ id: 'x' });
    expect((error as unknown as { retryable: boolean }).retryable).toBe(false);
  });

  it('reads schemaFile from the job folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-validate-'));
    writeFileSync(join(dir, 'user.schema.json'), JSON.stringify(userSchema));
    const good = { id: 1 };
    expect(await validateRun({ schemaFile: 'user.schema.json' }, [good], { dir })).toEqual([good]);
    await expect(validateRun({ schemaFile: 'user.schema.json' }, [{ id: 1, age: -1 }], { dir })).rejects.toThrow(
      'age: must be >= 0 (got -1)',
    );
  });

  it.each<[string, string | undefined, RegExp]>([
    ['a missing file', undefined, /^validate: cannot read schemaFile missing\.json \(.*missing\.json\): ENOENT/],
    ['a file that is not JSON', '{ type: object', /^validate: schemaFile missing\.json is not valid JSON: /],
    ['a file that is not a schema', '{ "type": "nope" }', /^validate: schemaFile missing\.json: the schema is not a valid JSON Schema: type: must be one of /],
  ])('refuses %s when it starts', async (_name, content, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-validate-'));
    if (content !== undefined) writeFileSync(join(dir, 'missing.json'), content);
    await expect(validateRun({ schemaFile: 'missing.json' }, [], { dir })).rejects.toThrow(message);
  });

  it('coerces values to the schema\'s types and passes a copy on', async () => {
    const input = { id: '7', age: '42', address: { city: 5 }, flag: 'true' };
    const schema = { ...userSchema, properties: { ...userSchema.properties, flag: { type: 'boolean' } } };
    const [out] = await validateRun({ schema, coerce: true }, [input]);
    expect(out).toEqual({ id: 7, age: 42, address: { city: '5' }, flag: true });
    expect(input).toEqual({ id: '7', age: '42', address: { city: 5 }, flag: 'true' });
  });

  it('still fails what coercion cannot fix, showing the value it got', async () => {
    const error = await failureOf({ id: '7', age: 'old' }, { schema: userSchema, coerce: true });
    expect(error.message).toBe('age: must be integer (got "old")');
  });

  it('does not coerce by default', async () => {
    expect((await failureOf({ id: '7' })).message).toBe('id: must be integer (got "7")');
  });

  it.each([
    ['2020-12', 'https://json-schema.org/draft/2020-12/schema'],
    ['2019-09', 'https://json-schema.org/draft/2019-09/schema'],
    ['draft-07', 'http://json-schema.org/draft-07/schema#'],
  ])('understands $schema %s', async (_name, $schema) => {
    const schema = { $schema, type: 'object', properties: { id: { type: 'integer' } } };
    expect(await validateRun({ schema }, [{ id: 1 }])).toEqual([{ id: 1 }]);
    expect((await failureOf({ id: 'x' }, { schema })).message).toBe('id: must be integer (got "x")');
  });

  it('answers synchronously', async () => {
    const ctx = createTestContext();
    const instance = await validate.create({ schema: userSchema, coerce: false }, ctx);
    const info = { position: {}, attempt: 1, signal: ctx.signal };
    expect(instance.process({ id: 1 }, info)).toEqual({ id: 1 });
    expect(() => instance.process({ id: 'x' }, info)).toThrow(RecordError);
  });
});

describe('validate rules', () => {
  it('lists its rules on the definition', () => {
    expect(validate.rules).toEqual([validateNeedsOneSchema, validateSchemaFileIsJson, validateInlineSchemaCompiles]);
  });

  it.each<[string, ValidateConfig, { path?: string; message: string } | undefined]>([
    ['neither', {}, { message: 'validate needs one of schema, schemaFile' }],
    ['only coerce', { coerce: true }, { message: 'validate needs one of schema, schemaFile' }],
    ['both', { schema: {}, schemaFile: 'a.json' }, { path: 'schemaFile', message: 'validate takes either schema or schemaFile, not both' }],
    ['schema', { schema: { type: 'object' } }, undefined],
    ['schemaFile', { schemaFile: 'a.json' }, undefined],
  ])('one schema: %s', (_name, config, expected) => {
    const violation = validateNeedsOneSchema(config);
    if (expected === undefined) expect(violation).toBeUndefined();
    else expect(violation).toEqual(expect.objectContaining({ ...expected, hint: expect.any(String) }));
  });

  it.each<[string, string | undefined]>([
    ['user.schema.json', undefined],
    ['user.schema', undefined],
    ['user.yaml', 'schemaFile must be a JSON file (got "user.yaml")'],
    ['schemas/user.YML', 'schemaFile must be a JSON file (got "schemas/user.YML")'],
  ])('schemaFile %s', (schemaFile, message) => {
    expect(validateSchemaFileIsJson({ schemaFile })?.message).toBe(message);
  });

  it.each<[string, Record<string, unknown>, RegExp | undefined]>([
    ['a valid schema', userSchema, undefined],
    ['an unknown type', { type: 'nope' }, /^the schema is not a valid JSON Schema: type: must be one of "array", "boolean", "integer", "null", "number", "object", "string" \(got "nope"\)$/],
    ['a nested problem', { properties: { age: { minimum: 'zero' } } }, /^the schema is not a valid JSON Schema: properties\.age\.minimum: must be number \(got "zero"\)$/],
    ['an unknown format', { type: 'string', format: 'emial' }, /unknown format "emial"/],
    ['an unknown keyword', { type: 'string', minLenght: 1 }, /unknown keyword: "minLenght"/],
    ['an unknown $schema dialect', { $schema: 'http://json-schema.org/draft-04/schema#' }, /draft-04/],
  ])('inline schema: %s', (_name, schema, message) => {
    const violation = validateInlineSchemaCompiles({ schema });
    if (message === undefined) expect(violation).toBeUndefined();
    else {
      expect(violation?.path).toBe('schema');
      expect(violation?.message).toMatch(message);
    }
  });
});
