// `{{ expr }}` templates: each part is parsed by acorn in place, so offsets point into the template.
import type { Expression } from 'acorn';
import { ExpressionError } from './errors.js';
import { describeToken, nextToken, parseExpressionFrom } from './parse.js';

export type TemplatePart = { readonly text: string } | { readonly expression: Expression };

const OPEN = '{{';
const CLOSE = '}}';

/** Splits a template into text and parsed expressions; throws ExpressionError. */
export function parseTemplate(source: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let at = 0;
  for (;;) {
    const open = source.indexOf(OPEN, at);
    if (open === -1) {
      if (at < source.length) parts.push({ text: source.slice(at) });
      return parts;
    }
    if (open > at) parts.push({ text: source.slice(at, open) });
    const start = open + OPEN.length;
    if (source.indexOf(CLOSE, start) === -1) throw unclosed(open);
    if (/^\s*\}\}/.test(source.slice(start))) throw new ExpressionError('empty `{{ }}` in template', open);
    // acorn stops at the end of the expression: a `}}` inside a string or object literal is part of it.
    const expression = parseExpressionFrom(source, start);
    const token = nextToken(source, expression.end);
    if (token.type.label === 'eof') throw unclosed(open);
    if (!source.startsWith(CLOSE, token.start)) {
      throw new ExpressionError(
        `unexpected ${describeToken(source, token)} in \`{{ }}\`; expected \`}}\` after the expression`,
        token.start,
      );
    }
    parts.push({ expression });
    at = token.start + CLOSE.length;
  }
}

function unclosed(open: number): ExpressionError {
  return new ExpressionError('unclosed `{{` in template: missing `}}`', open);
}
