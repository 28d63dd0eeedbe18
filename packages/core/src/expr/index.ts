// Public surface of the expression module. Implementation lives beside this file.
import type { SluiceRecord } from '../plugin/types.js';

/** Names visible to an expression besides `record`. */
export interface ExpressionScope {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly job: Readonly<{ name: string }>;
}

export interface CompiledExpression {
  readonly source: string;
  evaluate(record: SluiceRecord): unknown;
}

export interface CompiledTemplate {
  readonly source: string;
  render(record: SluiceRecord): string;
}

/** A problem with an expression; `offset` is the 0-based index into the expression source. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/** Parses and checks an expression against the allow-list. Never runs it. */
export function checkExpression(_source: string): ExpressionError | undefined {
  throw new Error('expr: not implemented yet');
}
/** Checks every `{{ expr }}` of a template. Never runs it. */
export function checkTemplate(_source: string): ExpressionError | undefined {
  throw new Error('expr: not implemented yet');
}
export function compileExpression(_source: string, _scope: ExpressionScope): CompiledExpression {
  throw new Error('expr: not implemented yet');
}
export function compileTemplate(_source: string, _scope: ExpressionScope): CompiledTemplate {
  throw new Error('expr: not implemented yet');
}
