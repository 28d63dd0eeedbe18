import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { checkExpression, checkTemplate } from '../expr/index.js';
import { parseDuration, parseFailureBudget, parseRate } from './values.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

type KeywordCheck = (value: unknown) => { message: string; offset?: number } | undefined;

const checks: Record<string, KeywordCheck> = {
  duration: (v) => (parseDuration(v) === undefined ? { message: 'must be a duration like 250ms, 30s, 5m, 1h or a number of milliseconds' } : undefined),
  rate: (v) => (parseRate(v) === undefined ? { message: 'must be a rate like 100/s or 6000/min' } : undefined),
  failureBudget: (v) => (parseFailureBudget(v) === undefined ? { message: 'must be a count (100) or a percentage ("1%")' } : undefined),
  expression: (v) => {
    if (typeof v !== 'string') return undefined;
    const error = checkExpression(v);
    return error ? { message: `invalid expression: ${error.message}`, offset: error.offset } : undefined;
  },
  template: (v) => {
    if (typeof v !== 'string') return undefined;
    const error = checkTemplate(v);
    return error ? { message: `invalid template: ${error.message}`, offset: error.offset } : undefined;
  },
};

/** Sluice's keywords, for anyone building a schema: which of them mark expressions and templates. */
export const SLUICE_KEYWORDS = Object.keys(checks);

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
  // Each validator runs about once per job load: skip ajv's code optimisation, which costs more than it saves here.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: withDefaults, code: { optimize: false } });
  addFormats(ajv);
  for (const [keyword, check] of Object.entries(checks)) {
    const validate = function (this: unknown, schema: boolean, data: unknown): boolean {
      if (!schema) return true;
      const problem = check(data);
      (validate as unknown as { errors: Partial<ErrorObject>[] | null }).errors = problem
        ? [{ keyword, message: problem.message, params: { offset: problem.offset } }]
        : null;
      return !problem;
    };
    ajv.addKeyword({ keyword, schemaType: 'boolean', validate, errors: true });
  }
  shared[key] = ajv;
  return ajv;
}

const compiled = { plain: new WeakMap<object, ValidateFunction>(), defaults: new WeakMap<object, ValidateFunction>() };

/** A schema's validator, compiled once per process; with `withDefaults` it fills in defaults as it validates. */
export function compileSchema(schema: object, withDefaults = false): ValidateFunction {
  const cache = compiled[withDefaults ? 'defaults' : 'plain'];
  let fn = cache.get(schema);
  if (!fn) {
    fn = sluiceAjv(withDefaults).compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}
