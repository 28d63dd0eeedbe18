// Parsing with acorn: one expression, strict (module) grammar, acorn errors rewritten.
import { createRequire } from 'node:module';
import type { Expression, Options, Token } from 'acorn';

// acorn is loaded by the first expression checked or compiled, not by every run (a job may have none).
const require = createRequire(import.meta.url);
let acorn: typeof import('acorn') | undefined;
const parser = (): typeof import('acorn') => (acorn ??= require('acorn') as typeof import('acorn'));
import { ExpressionError } from './errors.js';

/**
 * Module goal: strict mode (like the generated code), and `import.meta` / top-level `await`
 * parse into nodes the checker can reject with a clear message instead of a parser error.
 */
const OPTIONS: Options = {
  ecmaVersion: 'latest',
  sourceType: 'module',
  allowHashBang: false,
  // Keeps `(…)` as nodes, so a node's `end` includes its closing parenthesis.
  preserveParens: true,
};

interface AcornSyntaxError extends SyntaxError {
  pos?: number;
  raisedAt?: number;
}

/** Rewrites an acorn error: no "(line:col)" suffix, lowercase first letter, offset from `pos`. */
export function fromAcornError(error: unknown, base = 0, fallbackOffset = 0): ExpressionError {
  if (!(error instanceof SyntaxError)) throw error;
  const e = error as AcornSyntaxError;
  const message = e.message.replace(/\s*\(\d+:\d+\)$/, '');
  const offset = typeof e.pos === 'number' ? base + e.pos : fallbackOffset;
  return new ExpressionError(lowerFirst(message), offset);
}

export function lowerFirst(text: string): string {
  return text.length > 0 && !/^[A-Z]{2}/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

/** Parses the expression that starts at `start`; throws ExpressionError. */
export function parseExpressionFrom(source: string, start: number): Expression {
  try {
    return parser().parseExpressionAt(source, start, OPTIONS);
  } catch (error) {
    throw fromAcornError(error, 0, start);
  }
}

/** The first token at or after `from` (skipping whitespace and comments); throws ExpressionError. */
export function nextToken(source: string, from: number): Token {
  try {
    const token = parser().tokenizer(source.slice(from), OPTIONS).getToken();
    token.start += from;
    token.end += from;
    return token;
  } catch (error) {
    throw fromAcornError(error, from, from);
  }
}

/** Describes a token for an error message: `';'`, `'record'`, or "the end". */
export function describeToken(source: string, token: Token): string {
  const text = source.slice(token.start, token.end);
  const short = text.length > 20 ? `${text.slice(0, 20)}…` : text;
  return `'${short}'`;
}

/** Parses `source` as exactly one expression; anything after it is an error. Throws ExpressionError. */
export function parseExpression(source: string): Expression {
  if (source.trim() === '') throw new ExpressionError('the expression is empty', 0);
  const node = parseExpressionFrom(source, 0);
  const token = nextToken(source, node.end);
  if (token.type.label !== 'eof') {
    throw new ExpressionError(
      `unexpected ${describeToken(source, token)} after the end of the expression; an expression is exactly one JavaScript expression`,
      token.start,
    );
  }
  return node;
}
