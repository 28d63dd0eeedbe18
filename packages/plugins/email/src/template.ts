import { RecordError, type CompiledExpression, type SluiceRecord } from '@sluice/core';

/** Compiles one expression with `record`, `env` and `job` in scope (`ctx.expression`). */
export type CompileExpression = (source: string) => CompiledExpression;

type Part = { readonly text: string } | { readonly source: string; readonly expression: CompiledExpression };

export interface FieldTemplateOptions {
  /** A `{{ }}` whose value is null or undefined is a record error instead of empty text. */
  readonly strict: boolean;
  /** Escape `& < > " '` in interpolated values (HTML bodies). */
  readonly escapeHtml?: boolean;
  /** An array value renders as a comma-separated list (address fields). */
  readonly list?: boolean;
}

/** A template that did not compile: `offset` is the index into the template text. */
export class TemplateSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text of a value, as Sluice's templates render it: null and undefined are empty, objects are JSON. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    return JSON.stringify(value) ?? '';
  }
  return String(value);
}

/**
 * A `{{ expression }}` template of one message field. Each `{{ }}` is compiled on its own (rather
 * than with `ctx.template`) so that strict mode can name the expression that came out empty, and
 * HTML bodies can escape what records put into them.
 */
export class FieldTemplate {
  private constructor(
    readonly field: string,
    readonly source: string,
    private readonly parts: readonly Part[],
    private readonly options: FieldTemplateOptions,
  ) {}

  /** Splits and compiles a template; throws {@link TemplateSyntaxError}. */
  static compile(field: string, source: string, compile: CompileExpression, options: FieldTemplateOptions): FieldTemplate {
    return new FieldTemplate(field, source, split(source, compile), options);
  }

  /** True when the template has no `{{ }}`: it renders the same text for every record. */
  get isStatic(): boolean {
    return this.parts.every((p) => 'text' in p);
  }

  /** Renders the field for a record; throws a RecordError naming the field and expression. */
  render(record: SluiceRecord): string {
    let out = '';
    for (const part of this.parts) {
      if ('text' in part) {
        out += part.text;
        continue;
      }
      let value: unknown;
      try {
        value = part.expression.evaluate(record);
      } catch (error) {
        throw new RecordError(`${this.field}: {{ ${part.source.trim()} }} failed: ${(error as Error).message}`, { field: this.field }, { cause: error });
      }
      if (value === null || value === undefined) {
        if (this.options.strict) {
          throw new RecordError(
            `${this.field}: {{ ${part.source.trim()} }} is ${value === null ? 'null' : 'undefined'} for this record (strict: true); ` +
              `give it a default, e.g. {{ ${part.source.trim()} ?? '' }}, or set strict: false to render it empty`,
            { field: this.field },
          );
        }
        continue;
      }
      const text = this.options.list && Array.isArray(value) ? value.map(textOf).join(', ') : textOf(value);
      out += this.options.escapeHtml ? text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!) : text;
    }
    return out;
  }
}

/**
 * Splits `text {{ expr }} text` into parts. An expression ends at the first `}}` before which it
 * parses, so a `}}` inside a string or object literal stays part of it (as in Sluice's templates).
 */
function split(source: string, compile: CompileExpression): Part[] {
  const parts: Part[] = [];
  let at = 0;
  for (;;) {
    const open = source.indexOf('{{', at);
    if (open === -1) {
      if (at < source.length) parts.push({ text: source.slice(at) });
      return parts;
    }
    if (open > at) parts.push({ text: source.slice(at, open) });
    const start = open + 2;
    let close = source.indexOf('}}', start);
    if (close === -1) throw new TemplateSyntaxError('unclosed `{{` in template: missing `}}`', open);
    let firstError: { message: string; offset: number } | undefined;
    let compiled: CompiledExpression | undefined;
    while (close !== -1) {
      const inner = source.slice(start, close);
      if (inner.trim() === '') {
        firstError ??= { message: 'empty `{{ }}` in template', offset: open };
      } else {
        try {
          compiled = compile(inner);
          break;
        } catch (error) {
          const offset = (error as { offset?: unknown }).offset;
          firstError ??= { message: (error as Error).message, offset: start + (typeof offset === 'number' ? offset : 0) };
        }
      }
      close = source.indexOf('}}', close + 1);
    }
    if (!compiled || close === -1) throw new TemplateSyntaxError(firstError!.message, firstError!.offset);
    parts.push({ source: source.slice(start, close), expression: compiled });
    at = close + 2;
  }
}

/** 1-based line and column of an offset into a text. */
export function lineColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}
