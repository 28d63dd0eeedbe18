// Public surface of the expression module. Implementation lives beside this file.
import type { SluiceRecord } from '../plugin/types.js';
import { ExpressionError } from './errors.js';
import { parseExpression } from './parse.js';
import { checkNode } from './check.js';
import { buildFunction, generate } from './compile.js';
import { parseTemplate } from './template.js';

export { ExpressionError } from './errors.js';

/** Names visible to an expression besides `record`. */
export interface ExpressionScope {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly job: Readonly<{ name: string }>;
}

/** An expression compiled once (`ctx.expression`): `evaluate(record)` returns its value. */
export interface CompiledExpression {
  readonly source: string;
  evaluate(record: SluiceRecord): unknown;
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
export function compileExpression(source: string, scope: ExpressionScope): CompiledExpression {
  const evaluate = buildFunction<unknown>('evaluate', generate(parseAndCheck(source)), scope);
  return Object.freeze({ source, evaluate });
}
export function compileTemplate(source: string, scope: ExpressionScope): CompiledTemplate {
  const pieces = parseAndCheckTemplate(source).map((part) =>
    'text' in part ? JSON.stringify(part.text) : `$$text(${generate(part.expression)})`,
  );
  const render = buildFunction<string>('render', pieces.length === 0 ? '""' : pieces.join(' + '), scope);
  return Object.freeze({ source, render });
}
