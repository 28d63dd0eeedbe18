import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import type { Ajv, AnySchema, ErrorObject, Options, ValidateFunction } from 'ajv';
import type { Ajv2019 } from 'ajv/dist/2019.js';
import type { Ajv2020 } from 'ajv/dist/2020.js';
import {
  defineTransform,
  RecordError,
  type ConfigOf,
  type Logger,
  type PluginContext,
  type RuleViolation,
  type SluiceRecord,
} from '@sluice/core';

export const validateSchema = {
  type: 'object',
  description: 'Checks every record against a JSON Schema; a record that fails follows the step\'s `onError`.',
  properties: {
    schema: {
      type: 'object',
      description:
        'The JSON Schema each record must match, inline (draft-07 unless its `$schema` names 2019-09 or ' +
        '2020-12; formats from ajv-formats). Give this or `schemaFile`, not both.',
      examples: [
        {
          type: 'object',
          required: ['id', 'email'],
          properties: { id: { type: 'integer' }, email: { type: 'string', format: 'email' }, age: { minimum: 0 } },
        },
      ],
    },
    schemaFile: {
      type: 'string',
      minLength: 1,
      description:
        'A JSON file holding the JSON Schema, relative to the job file\'s folder. Give this or `schema`, not both.',
      examples: ['schemas/user.schema.json'],
    },
    coerce: {
      type: 'boolean',
      description:
        'Convert values to the types the schema asks for where that is unambiguous ("42" to 42, "true" to true, ' +
        '7 to "7") and pass the converted copy on; the input record is not changed.',
      default: false,
      examples: [true],
    },
  },
  additionalProperties: false,
} as const;

/** Options with a `default` may be absent when the config did not go through defaults. */
export type ValidateConfig = Partial<ConfigOf<typeof validateSchema>>;

/** Exactly one place the schema comes from. */
export function validateNeedsOneSchema(config: ValidateConfig): RuleViolation | undefined {
  const hasInline = config.schema !== undefined;
  const hasFile = config.schemaFile !== undefined;
  if (hasInline && hasFile) {
    return {
      path: 'schemaFile',
      message: 'validate takes either schema or schemaFile, not both',
      hint: 'keep the inline schema or the file, and delete the other',
    };
  }
  if (!hasInline && !hasFile) {
    return {
      message: 'validate needs one of schema, schemaFile',
      hint: 'e.g. with: { schemaFile: schemas/user.schema.json }',
    };
  }
  return undefined;
}

/** Only JSON schema files are read. */
export function validateSchemaFileIsJson(config: ValidateConfig): RuleViolation | undefined {
  const ext = config.schemaFile === undefined ? '' : extname(config.schemaFile).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    return {
      path: 'schemaFile',
      message: `schemaFile must be a JSON file (got "${config.schemaFile}")`,
      hint: 'convert the schema to JSON, or put it inline under schema:',
    };
  }
  return undefined;
}

/** An inline schema is compiled at validation time, so a broken one fails `sluice validate`. */
export function validateInlineSchemaCompiles(config: ValidateConfig): RuleViolation | undefined {
  if (config.schema === undefined) return undefined;
  try {
    compileSchema(config.schema, false, undefined, true);
  } catch (error) {
    return { path: 'schema', message: (error as Error).message };
  }
  return undefined;
}

export const validateRules = [validateNeedsOneSchema, validateSchemaFileIsJson, validateInlineSchemaCompiles] as const;

export const validate = defineTransform({
  name: 'validate',
  description:
    'Checks each record against a JSON Schema (ajv, all errors, ajv-formats). A failing record raises a record ' +
    'error listing every problem, and follows the step\'s `onError`. With `coerce`, passes on a converted copy.',
  schema: validateSchema,
  rules: validateRules,
  async create(config: ValidateConfig, ctx) {
    const schema = config.schema ?? (await loadSchemaFile(config.schemaFile, ctx));
    const coerce = config.coerce ?? false;
    let check: ValidateFunction;
    try {
      check = compileSchema(schema, coerce, ctx.logger);
    } catch (error) {
      const where = config.schema === undefined ? `schemaFile ${config.schemaFile}` : 'schema';
      throw new Error(`validate: ${where}: ${(error as Error).message}`, { cause: error });
    }
    return {
      process(record: SluiceRecord): SluiceRecord {
        // ajv coerces in place; the input record may be shared with other steps or sinks.
        const data = coerce ? cloneJson(record) : record;
        if (check(data)) return data;
        throw recordErrorOf(check.errors ?? [], data);
      },
    };
  },
});

export default validate;

// ---------- implementation ----------

async function loadSchemaFile(file: string | undefined, ctx: PluginContext): Promise<AnySchema> {
  if (file === undefined) throw new Error('validate needs one of schema, schemaFile');
  const path = ctx.resolvePath(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`validate: cannot read schemaFile ${file} (${path}): ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as AnySchema;
  } catch (error) {
    throw new Error(`validate: schemaFile ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

const DRAFT_2019 = /json-schema\.org\/draft\/2019-09\/schema/;
const DRAFT_2020 = /json-schema\.org\/draft\/2020-12\/schema/;

// ajv and ajv-formats load with the first schema a validate step compiles, and the 2019 and 2020
// dialects with the first schema that names one, not with every job that imports the transforms
// (a map or a filter needs none of them: ~40 ms of start-up). compileSchema is synchronous (rules
// call it): CommonJS by require().
const require = createRequire(import.meta.url);
function dialectAjv<T>(module: string): Record<string, T> {
  return require(module) as Record<string, T>;
}

/** One ajv per dialect for validation-time checks: a new ajv costs ~8ms, which `sluice validate` pays per job. */
const checkers = new Map<string, Ajv>();

function compileSchema(schema: unknown, coerce: boolean, logger: Logger | undefined, check = false): ValidateFunction {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new Error('the schema must be a JSON Schema object');
  }
  const options: Options = {
    allErrors: true,
    coerceTypes: coerce,
    // Vendor schemas often omit `type` beside `properties` etc.; that is not worth failing a job over.
    strictTypes: false,
    strictTuples: false,
    logger:
      logger === undefined
        ? false
        : { log: (m: unknown) => logger.debug(String(m)), warn: (m: unknown) => logger.warn(String(m)), error: (m: unknown) => logger.error(String(m)) },
  };
  const dialect = String((schema as { $schema?: unknown }).$schema ?? '');
  const kind = DRAFT_2020.test(dialect) ? '2020' : DRAFT_2019.test(dialect) ? '2019' : '07';
  const newAjv = (opts: Options): Ajv => {
    const made = kind === '2020' ? new (dialectAjv<typeof Ajv2020>('ajv/dist/2020.js').Ajv2020)(opts) : kind === '2019' ? new (dialectAjv<typeof Ajv2019>('ajv/dist/2019.js').Ajv2019)(opts) : new (dialectAjv<typeof Ajv>('ajv').Ajv)(opts);
    dialectAjv<(ajv: Ajv) => Ajv>('ajv-formats').default(made);
    return made;
  };
  // A checker's validators never run: skip ajv's code optimisation, half the compile time.
  let checker = checkers.get(kind);
  if (!checker) checkers.set(kind, (checker = newAjv({ ...options, coerceTypes: false, logger: false, code: { optimize: false } })));
  // The schema is checked against its meta-schema by the dialect's checker, whose compiled
  // meta-schema (~30-80 ms to compile) `sluice run` already has from the job's checks; the ajv
  // that compiles the validator the step runs need not compile and check it again.
  const ajv = check ? checker : newAjv({ ...options, validateSchema: false });
  let problems: string | undefined;
  try {
    if (!checker.validateSchema(schema as AnySchema)) problems = metaSchemaProblems(checker.errors ?? [], schema);
    else if (!check) return ajv.compile(schema as AnySchema);
    else {
      // Checked, then forgotten: the next job's schema may reuse this one's $id.
      try {
        return ajv.compile(schema as AnySchema);
      } catch (error) {
        // A nested $id another job's schema left behind: check this one on its own.
        if (/already exists/.test((error as Error).message)) return compileSchema(schema, coerce, logger, false);
        throw error;
      } finally {
        ajv.removeSchema(schema as AnySchema);
      }
    }
  } catch (error) {
    throw new Error(`the schema is not a valid JSON Schema: ${(error as Error).message}`, { cause: error });
  }
  throw new Error(`the schema is not a valid JSON Schema: ${problems}`);
}

/** The meta-schema's complaints, one per place in the schema, in the same words as record errors. */
function metaSchemaProblems(errors: readonly ErrorObject[], schema: object): string {
  const byPath = new Map<string, RecordProblem>();
  for (const error of errors) {
    if (error.keyword === 'anyOf' || error.keyword === 'oneOf') continue;
    const problem = problemOf(error, schema);
    if (!byPath.has(problem.path)) byPath.set(problem.path, problem);
  }
  return [...byPath.values()].map((p) => `${p.path === '' ? 'schema' : p.path}: ${p.message}`).join('; ');
}

/** Problems listed in the message; all of them are in `details.errors`. */
const MAX_LISTED = 10;
const MAX_VALUE_CHARS = 40;

export interface RecordProblem {
  /** Where in the record, dotted (`address.city`, `items[2].sku`); empty for the record itself. */
  readonly path: string;
  readonly message: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly schemaPath: string;
}

function recordErrorOf(errors: readonly ErrorObject[], data: unknown): RecordError {
  const problems = errors.map((error) => problemOf(error, data));
  const listed = problems.slice(0, MAX_LISTED).map((p) => `${p.path === '' ? 'record' : p.path}: ${p.message}`);
  if (problems.length > MAX_LISTED) listed.push(`and ${problems.length - MAX_LISTED} more`);
  return new RecordError(listed.join('; '), { errors: problems });
}

function problemOf(error: ErrorObject, data: unknown): RecordProblem {
  const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map(unescapePointer);
  const { path, value, found } = locate(data, segments);
  const params = error.params as Record<string, unknown>;
  const base = { keyword: error.keyword, params, schemaPath: error.schemaPath };
  switch (error.keyword) {
    case 'required':
      return { ...base, path: join(path, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties':
      return { ...base, path: join(path, String(params.additionalProperty)), message: 'is not allowed by the schema' };
    case 'enum':
      return {
        ...base,
        path,
        message: `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')}${got(value, found)}`,
      };
    case 'const':
      return { ...base, path, message: `must be ${show(params.allowedValue)}${got(value, found)}` };
    default:
      return { ...base, path, message: `${error.message ?? `fails ${error.keyword}`}${got(value, found)}` };
  }
}

/** Walks a JSON pointer's segments, naming array items `[i]` and object fields `.name`. */
function locate(data: unknown, segments: readonly string[]): { path: string; value: unknown; found: boolean } {
  let path = '';
  let value = data;
  let found = true;
  for (const segment of segments) {
    if (Array.isArray(value)) {
      path += `[${segment}]`;
      value = value[Number(segment)];
    } else {
      path = join(path, segment);
      value = value !== null && typeof value === 'object' && Object.hasOwn(value, segment)
        ? (value as Record<string, unknown>)[segment]
        : undefined;
    }
    if (value === undefined) found = false;
  }
  return { path, value, found };
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');
const got = (value: unknown, found: boolean) => (found && value !== undefined ? ` (got ${show(value)})` : '');

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** A deep copy of JSON data (what records are), much cheaper than structuredClone. */
function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneJson) as T;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = cloneJson((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
}
