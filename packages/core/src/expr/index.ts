// Public surface of the expression module. Implementation lives beside this file.
import type { SluiceRecord } from '../plugin/types.js';
import { ExpressionError } from './errors.js';
import { parseExpression } from './parse.js';
import { checkNode } from './check.js';
import { buildFunction, generate, Generated, type CompileOptions } from './compile.js';
import { parseTemplate } from './template.js';

export { ExpressionError } from './errors.js';
export { ExpressionLimitError, EXPRESSION_LIMITS } from './guards.js';
export type { CompileOptions } from './compile.js';

/** Names visible to an expression besides `record`. */
export interface ExpressionScope {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly job: Readonly<{ name: string }>;
}

/** An expression compiled once (`ctx.expression`): `evaluate(record)` returns its value. */
export interface CompiledExpression {
  readonly source: string;
  /** The value for one record; throws what the expression throws (a limit: ExpressionLimitError). */
  evaluate(record: SluiceRecord): unknown;
  /**
   * The values for a whole batch in one loop, for plugins that process batches: a record whose
   * evaluation throws has its error in `errors` (by index) and `undefined` in `values`.
   */
  evaluateBatch(records: readonly SluiceRecord[]): BatchValues;
}

/** What `evaluateBatch` returns. */
export interface BatchValues {
  readonly values: unknown[];
  /** Errors by record index; undefined when every record evaluated. */
  readonly errors: ReadonlyMap<number, Error> | undefined;
}

/** A `{{ expression }}` template compiled once (`ctx.template`): `render(record)` returns the text. */
export interface CompiledTemplate {
  readonly source: string;
  render(record: SluiceRecord): string;
}

/** Runs `fn`, returning the ExpressionError it throws (other errors propagate). */
function errorOf(fn: () => void): ExpressionError | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
}

function parseAndCheck(source: string) {
  const node = parseExpression(source);
  checkNode(node);
  return node;
}

function parseAndCheckTemplate(source: string) {
  const parts = parseTemplate(source);
  for (const part of parts) if ('expression' in part) checkNode(part.expression);
  return parts;
}

/** Parses and checks an expression against the allow-list. Never runs it. */
export function checkExpression(source: string): ExpressionError | undefined {
  return errorOf(() => parseAndCheck(source));
}
/** Checks every `{{ expr }}` of a template. Never runs it. */
export function checkTemplate(source: string): ExpressionError | undefined {
  return errorOf(() => parseAndCheckTemplate(source));
}
export function compileExpression(source: string, scope: ExpressionScope, options: CompileOptions = {}): CompiledExpression {
  const generated = new Generated();
  const evaluate = buildFunction<unknown>('evaluate', generate(parseAndCheck(source), undefined, generated), generated, scope, options);
  return Object.freeze({ source, evaluate, evaluateBatch: (records: readonly SluiceRecord[]) => evaluateAll(evaluate, records) });
}

function evaluateAll(evaluate: (record: SluiceRecord) => unknown, records: readonly SluiceRecord[]): BatchValues {
  const values: unknown[] = new Array(records.length);
  let errors: Map<number, Error> | undefined;
  for (let i = 0; i < records.length; i++) {
    try {
      values[i] = evaluate(records[i]!);
    } catch (error) {
      (errors ??= new Map()).set(i, error instanceof Error ? error : new Error(String(error)));
    }
  }
  return { values, errors };
}

export function compileTemplate(source: string, scope: ExpressionScope, options: CompileOptions = {}): CompiledTemplate {
  const generated = new Generated();
  const pieces = parseAndCheckTemplate(source).map((part) =>
    'text' in part ? JSON.stringify(part.text) : `$$text(${generate(part.expression, undefined, generated)})`,
  );
  const render = buildFunction<string>('render', pieces.length === 0 ? '""' : pieces.join(' + '), generated, scope, options);
  return Object.freeze({ source, render });
}
