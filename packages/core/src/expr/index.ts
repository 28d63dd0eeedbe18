// Public surface of the expression module. Implementation lives beside this file.
import type { SluiceRecord } from '../plugin/record.js';
import { ExpressionError } from './errors.js';
import { parseExpression } from './parse.js';
import { checkNode } from './check.js';
import { buildFunction, generate, Generated, type CompileOptions } from './compile.js';
import { parseTemplate, type TemplatePart } from './template.js';
import { RecordError } from '../errors/index.js';
import { toText } from './scope.js';

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

/**
 * How a template turns values into text, for plugins that need more than the default (null and
 * undefined empty, objects as JSON): the email sink's strict fields, address lists and HTML bodies.
 */
export interface TemplateOptions extends CompileOptions {
  /**
   * A `{{ }}` whose value is null or undefined is a `RecordError` (details: `expression`, and
   * `value`: 'null' or 'undefined') instead of empty text.
   */
  readonly strict?: boolean;
  /** An array value renders as `a, b` rather than as JSON. */
  readonly list?: boolean;
  /** Applied to each value's text, never to the template's own text (HTML escaping, say). */
  readonly escape?: (text: string) => string;
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

export function compileTemplate(source: string, scope: ExpressionScope, options: TemplateOptions = {}): CompiledTemplate {
  const parts = parseAndCheckTemplate(source);
  if (options.strict || options.list || options.escape) return Object.freeze({ source, render: renderWith(source, parts, scope, options) });
  const generated = new Generated();
  const pieces = parts.map((part) =>
    'text' in part ? JSON.stringify(part.text) : `$$text(${generate(part.expression, undefined, generated)})`,
  );
  const render = buildFunction<string>('render', pieces.length === 0 ? '""' : pieces.join(' + '), generated, scope, options);
  return Object.freeze({ source, render });
}

/**
 * A template's render with options: each `{{ }}` evaluated on its own, so a failure names its
 * expression (a `RecordError` whose details carry it). Slower than the one generated function of
 * a plain template, which stays the default.
 */
function renderWith(source: string, parts: readonly TemplatePart[], scope: ExpressionScope, o: TemplateOptions): (record: SluiceRecord) => string {
  const compiled = parts.map((part) => {
    if ('text' in part) return part.text;
    const generated = new Generated();
    const body = generate(part.expression, undefined, generated);
    return { source: source.slice(part.expression.start, part.expression.end).trim(), evaluate: buildFunction<unknown>('evaluate', body, generated, scope, o) };
  });
  return (record) => {
    let out = '';
    for (const part of compiled) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      let value: unknown;
      try {
        value = part.evaluate(record);
      } catch (error) {
        throw new RecordError(`{{ ${part.source} }} failed: ${(error as Error).message}`, { expression: part.source }, { cause: error });
      }
      if (value === null || value === undefined) {
        const what = value === null ? 'null' : 'undefined';
        if (o.strict) throw new RecordError(`{{ ${part.source} }} is ${what} for this record`, { expression: part.source, value: what });
        continue;
      }
      const text = o.list && Array.isArray(value) ? value.map(toText).join(', ') : toText(value);
      out += o.escape ? o.escape(text) : text;
    }
    return out;
  };
}
