import type { ErrorObject } from 'ajv';
import { checkExpression, checkTemplate } from '../expr/index.js';
import { parseDuration, parseFailureBudget, parseRate } from './values.js';

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

type KeywordValidate = ((this: unknown, schema: boolean, data: unknown) => boolean) & { errors?: Partial<ErrorObject>[] | null };

/**
 * Each keyword's ajv `validate` function (errors on the function, as ajv reads them). One module
 * for the ajv that compiles at run time (ajv.ts) and the job validator generated at build time
 * (job-validator.generated.ts imports these), so both report the same problems.
 */
export const keywordValidators: Record<string, KeywordValidate> = Object.fromEntries(
  Object.entries(checks).map(([keyword, check]) => {
    const validate: KeywordValidate = function (schema, data) {
      if (!schema) return true;
      const problem = check(data);
      validate.errors = problem ? [{ keyword, message: problem.message, params: { offset: problem.offset } }] : null;
      return !problem;
    };
    return [keyword, validate];
  }),
);
